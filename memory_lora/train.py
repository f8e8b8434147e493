"""Training: examples -> LoRA adapter on the frozen base (PEFT for the adapter, accelerate for device and precision).

Loss is taken on answer tokens only. On one process the language-model head runs only at answer positions, which
skips most of the vocabulary projection (prompt tokens outnumber answer tokens); on several processes the plain
forward is used so DDP sees its usual call.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence

import datasets
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import DistributedType, set_seed
from peft import LoraConfig as PeftLoraConfig
from peft import get_peft_model
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from memory_lora.base_model import resolve_device
from memory_lora.config import LoraConfig, ModelConfig, TrainConfig
from memory_lora.prompts import encode_example
from memory_lora.records import Example

log = logging.getLogger(__name__)


def resolve_precision(mixed_precision: str, device: torch.device) -> str:
    """Turn "auto" into the precision that is fastest on this device."""
    if mixed_precision != "auto":
        return mixed_precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    cpu_bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)() or getattr(
        torch.cpu, "_is_amx_tile_supported", lambda: False
    )()
    return "bf16" if cpu_bf16 else "no"


def tokenize_examples(examples: Sequence[Example], tokenizer, system_prompt: str | None, max_length: int):
    """Examples -> a `datasets.Dataset` with input_ids, labels (-100 outside answers) and length."""
    ds = datasets.Dataset.from_list([{"prompt": e.prompt, "response": e.response, "kind": e.kind} for e in examples])

    def encode(row):
        enc = encode_example(tokenizer, row["prompt"], row["response"], system_prompt, max_length)
        return {**enc, "length": len(enc["input_ids"])}

    ds = ds.map(encode, remove_columns=["prompt", "response"], desc="tokenize", keep_in_memory=True)
    # A prompt that fills max_length leaves no answer token to learn from (and a batch of only those has no loss).
    kept = ds.filter(lambda row: any(x != -100 for x in row["labels"]), keep_in_memory=True)
    if len(kept) < len(ds):
        log.warning("%d example(s) dropped: prompt alone reaches train.max_length=%d", len(ds) - len(kept), max_length)
    return kept


def length_grouped_batches(lengths: Sequence[int], batch_size: int, seed: int) -> list[list[int]]:
    """Shuffled batches of similar-length examples, so little compute goes to padding."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    mega = batch_size * 16
    batches = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start : start + mega], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def collate(rows: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch; padded positions get attention 0 and label -100."""
    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[i, :n] = torch.tensor(r["input_ids"])
        labels[i, :n] = torch.tensor(r["labels"])
        mask[i, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def answer_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Next-token cross-entropy on answer positions only, projecting just those positions onto the vocabulary."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder, head = base.get_decoder(), base.get_output_embeddings()
    hidden = decoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    targets = batch["labels"][:, 1:]
    keep = targets != -100
    logits = head(hidden[:, :-1][keep]).float()
    return F.cross_entropy(logits, targets[keep])


def add_lora(model, lora: LoraConfig):
    """Wrap the frozen base with a fresh LoRA adapter (only LoRA weights train)."""
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [t for t in lora.target_modules if t in names]
    if not targets:
        raise ValueError(f"none of lora.target_modules {lora.target_modules} exist in the base model")
    peft_config = PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, peft_config)


def _accelerator(precision: str, cpu: bool) -> Accelerator:
    """An Accelerator for one training run, in a process that may already have trained with other settings.

    accelerate keeps one process-wide AcceleratorState and refuses a second Accelerator with another mixed precision
    (accelerate 1.15). A server or an eval trains adapter after adapter in one process, so in a single,
    non-distributed process the stale state is dropped first; nothing else holds it there. Under a distributed launch
    the state is left alone (one launch, one precision).
    """
    shared = AcceleratorState._shared_state
    if shared and shared.get("_mixed_precision") != precision and shared.get("distributed_type") == DistributedType.NO:
        AcceleratorState._reset_state(reset_partial_state=False)  # accelerate's own tests reset it the same way
    return Accelerator(mixed_precision=precision, cpu=cpu)


def train_lora(model, tokenizer, examples: Sequence[Example], lora: LoraConfig, train: TrainConfig,
               model_config: ModelConfig, seed: int = 0, progress: bool = True):
    """Train a new LoRA adapter on `examples`.

    Args:
        model: The frozen base model. It is wrapped in place; call `.unload()` on the result to get it back clean.
        tokenizer: Its tokenizer.
        examples: Memory and replay examples (loss on the responses).
        lora: The adapter's shape.
        train: Optimisation settings.
        model_config: The base model's settings (device, system_prompt).
        seed: Seeds the LoRA initialisation and the batch order.
        progress: Show a progress bar.

    Returns:
        (peft_model, metrics) with metrics seconds, examples, tokens, tokens_per_second, epochs, steps,
        final_loss and loss_history (mean loss per epoch).
    """
    tc = train
    if not examples:
        raise ValueError("no training examples")
    set_seed(seed)
    device = resolve_device(model_config.device)
    precision = resolve_precision(tc.mixed_precision, device)
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("train.mixed_precision=fp16 needs a CUDA device; use auto, bf16 or no on CPU")
    accelerator = _accelerator(precision, cpu=device.type == "cpu")
    data = tokenize_examples(examples, tokenizer, model_config.system_prompt, tc.max_length)
    if len(data) == 0:
        raise ValueError(f"every example is longer than train.max_length={tc.max_length}")

    peft_model = add_lora(model, lora)
    try:
        return _fit(peft_model, tokenizer, data, tc, seed, accelerator, precision, progress)
    except BaseException:
        peft_model.unload()  # the base model is cached process-wide: give it back without LoRA layers
        raise


def _fit(peft_model, tokenizer, data, tc: TrainConfig, seed: int, accelerator, precision: str, progress: bool):
    """The optimisation loop of train_lora."""
    lengths = data["length"]
    peft_model.train()
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=tc.learning_rate, weight_decay=tc.weight_decay)
    steps_per_epoch = math.ceil(len(data) / tc.batch_size)
    total = steps_per_epoch * tc.epochs if tc.max_steps is None else min(tc.max_steps, steps_per_epoch * tc.epochs)
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(tc.warmup_ratio * total), total)
    peft_model, optimizer, scheduler = accelerator.prepare(peft_model, optimizer, scheduler)
    single = accelerator.num_processes == 1

    rows = data.to_list()
    step, tokens, history = 0, 0, []
    bar = tqdm(total=total, desc="train", unit="step", disable=not progress or not accelerator.is_main_process)
    start = time.perf_counter()
    for epoch in range(tc.epochs):
        batches = length_grouped_batches(lengths, tc.batch_size, seed * 1000 + epoch)
        loader = torch.utils.data.DataLoader(
            rows, batch_sampler=batches, collate_fn=lambda b: collate(b, tokenizer.pad_token_id)
        )
        loader = accelerator.prepare_data_loader(loader)
        epoch_losses = []
        for batch in loader:
            with accelerator.autocast():
                if single:
                    loss = answer_loss(peft_model, batch)
                else:
                    loss = peft_model(**batch).loss
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(trainable, tc.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            tokens += int(batch["attention_mask"].sum())
            epoch_losses.append(loss.item())
            step += 1
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
            if step >= total:
                break
        history.append(sum(epoch_losses) / max(1, len(epoch_losses)))
        if step >= total:
            break
    seconds = time.perf_counter() - start
    bar.close()
    peft_model = accelerator.unwrap_model(peft_model)
    peft_model.eval()
    metrics = {
        "seconds": round(seconds, 2),
        "examples": len(data),
        "tokens": tokens,
        "tokens_per_second": round(tokens / seconds, 1) if seconds > 0 else 0.0,
        "epochs": tc.epochs,
        "steps": step,
        "final_loss": round(history[-1], 4),
        "loss_history": [round(x, 4) for x in history],
        "mixed_precision": precision,
        "device": str(accelerator.device),
    }
    return peft_model, metrics
