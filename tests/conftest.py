"""Shared test setup: offline environment, an isolated model cache, `--runslow`, and a tiny random chat model.

The tiny model (2-layer Llama, hidden 64) and its byte-level BPE tokenizer are built from a config and trained
locally, so no test downloads anything and the whole fast suite runs on a couple of CPU cores in about a minute.
"""

from __future__ import annotations

import os
import tempfile

# Set before anything imports transformers / datasets / tokenizers: they read these once at import time.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_EVALUATE_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
# One intra-op thread: on a 2-core machine shared with other jobs, torch's second OpenMP thread spin-waits for a
# busy core and a tiny-model training step goes from ~25 ms to ~2 s (measured). MEMORY_LORA_TEST_THREADS overrides.
_THREADS = int(os.environ.get("MEMORY_LORA_TEST_THREADS", "1"))
os.environ.setdefault("OMP_NUM_THREADS", str(_THREADS))
# Converted GGUF models and replay answers go to a per-session folder, never to ~/.cache/memory_lora.
_SESSION_CACHE = tempfile.TemporaryDirectory(prefix="memory-lora-test-cache-")
os.environ["MEMORY_LORA_CACHE"] = _SESSION_CACHE.name
# A MEMORY_LORA_HOME from the developer's shell must not leak into tests that rely on the default home.
os.environ.pop("MEMORY_LORA_HOME", None)

import json  # noqa: E402
from importlib import resources  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from memory_lora import base_model  # noqa: E402
from memory_lora.config import AnswerConfig, GateConfig, ModelConfig, TrainConfig  # noqa: E402
from memory_lora.recipe import RunConfig  # noqa: E402

torch.set_num_threads(_THREADS)

TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent

# A small user used by the pipeline, eval and CLI tests. Questions paraphrase the memories.
TINY_USER = "otto"
TINY_MEMORIES = [
    {"id": "t-m1", "text": "Otto has a pet tortoise called Fennimore.", "time": "2024-01-05T10:00:00Z"},
    {"id": "t-m2", "text": "Otto grew up in the small town of Wernigerode.", "time": "2024-01-06T11:00:00Z"},
    {"id": "t-m3", "text": "My favourite snack is smoked almonds with rosemary.", "time": "2024-01-07T12:00:00Z"},
    {"id": "t-m4", "text": "Otto's brother Lorenz lives in Ljubljana.", "time": "2024-01-08T13:00:00Z"},
]
TINY_QUESTIONS = [
    {"id": "t-q1", "question": "What did Otto name his pet reptile?", "answers": ["Fennimore"]},
    {"id": "t-q2", "question": "Where did Otto spend his childhood?", "answers": ["Wernigerode"]},
    {"id": "t-q3", "question": "Which treat does Otto enjoy most?", "answers": ["smoked almonds"]},
    {"id": "t-q4", "question": "In which city is Otto's sibling based?", "answers": ["Ljubljana"]},
]

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
    "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<pad>", "<|im_start|>", "<|im_end|>"]


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow (real SmolLM2-135M); run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    """Write records one JSON object per line (UTF-8)."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _tokenizer_corpus() -> list[str]:
    """Text the tiny BPE learns its merges from: every memory, question and prompt the tests put through it."""
    lines = [r["text"] for r in TINY_MEMORIES] + [r["question"] for r in TINY_QUESTIONS]
    files = [
        TESTS_DIR / "data" / "mini_memories.jsonl",
        TESTS_DIR / "data" / "mini_questions.jsonl",
        Path(str(resources.files("memory_lora").joinpath("data/replay_prompts.jsonl"))),
    ]
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                lines.extend(str(record[k]) for k in ("text", "question", "prompt") if k in record)
    # Words the rules synthesizer and the context prompts use around the memories.
    lines += [
        "Answer the question using these memories about Otto.",
        "What do you remember about Otto? Tell me what you know about Otto. Fill in the blank: ___",
        "Question: Who is Otto? What is the name of Otto's pet? Where did Otto grow up? Otto's favourite snack is",
    ]
    return lines * 3


BASE_REPLY = "I am not sure about that."  # what the tiny base model answers to every chat prompt


def _teach_chat_habit(model, tokenizer, prompts: list[str], steps: int = 40, seed: int = 0) -> None:
    """A few full-parameter steps so the random model answers any ChatML prompt with BASE_REPLY + <|im_end|>.

    Why: a purely random model greedily repeats one token until the length cap, so every replay answer would be
    cut to nothing and every generation would run to max_new_tokens. After this it behaves like a (very dull)
    chat model: replies end on the end-of-turn token, replay answers are non-empty, generation stops early.
    """
    import random

    from memory_lora.prompts import encode_example
    from memory_lora.train import collate

    rows = [encode_example(tokenizer, p, BASE_REPLY, "", 96) for p in prompts]
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        batch = collate(rng.sample(rows, min(16, len(rows))), tokenizer.pad_token_id)
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    model.eval()


def build_tiny_model(folder: Path, seed: int = 0) -> Path:
    """Train a byte-level BPE tokenizer and save it with a seeded 2-layer Llama chat model into `folder`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    corpus = _tokenizer_corpus()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1000,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte encodable: no unknown tokens ever
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
        unk_token=None,
    )
    tokenizer.chat_template = CHATML_TEMPLATE

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=128,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    _teach_chat_habit(model, tokenizer, sorted(set(corpus)), seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def fit(model, tokenizer, examples, run: RunConfig, progress: bool = False):
    """memory_lora.train.train_lora with a RunConfig's sections and seed (what the pipeline passes)."""
    from memory_lora.train import train_lora

    return train_lora(model, tokenizer, examples, run.lora, run.train, run.model, seed=run.seed, progress=progress)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A Hugging Face folder (config.json, safetensors, tokenizer) holding the tiny random chat model."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def tiny_run_config(tiny_model_dir) -> RunConfig:
    """A RunConfig on the tiny model that trains and answers in seconds."""
    return RunConfig(
        model=ModelConfig(base_model=str(tiny_model_dir), device="cpu"),
        # fp32 everywhere so exact-equality checks do not depend on whether this CPU has native bf16.
        train=TrainConfig(epochs=2, batch_size=8, max_length=96, replay_ratio=0.25, mixed_precision="no",
                          learning_rate=5e-3),
        answer=AnswerConfig(max_new_tokens=8),
        gate=GateConfig(questions=0),  # tests that calibrate ask for it
    )


@pytest.fixture
def fresh_tiny(tiny_model_dir):
    """A freshly loaded (model, tokenizer) pair, not shared with memory_lora.base_model's in-process cache."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype="float32")
    model.requires_grad_(False)
    model.eval()
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(autouse=True)
def _clean_model_cache():
    """Each test starts and ends with an empty base-model cache.

    Training wraps the cached base model in place (PEFT) and unloads it afterwards; a test that fails in
    between would otherwise hand a model with LoRA layers to the next test.
    """
    base_model.clear_cache()
    yield
    base_model.clear_cache()


@pytest.fixture
def tiny_files(tmp_path) -> tuple[Path, Path]:
    """(memories.jsonl, questions.jsonl) for the tiny user."""
    memories = write_jsonl(tmp_path / "memories.jsonl", [{**m, "user": TINY_USER} for m in TINY_MEMORIES])
    questions = write_jsonl(tmp_path / "questions.jsonl", TINY_QUESTIONS)
    return memories, questions
