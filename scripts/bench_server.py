"""Benchmark `memory-lora serve`: latency and throughput for 1, 10 and 100 users, adapter load and switch times,
memory per adapter, and the speed-up from mixed-adapter batching.

Run (from the repository root; about 2 minutes on a shared 2-core CPU with the default tiny random model):

    python scripts/bench_server.py [--base-model tiny|smollm2-135m-instruct|PATH] [--users 1,10,100]
                                   [--requests-per-user 4] [--max-tokens 16] [--rank 16] [--threads 1]
                                   [--json OUT.json]

What it does:

1. Builds a store in a temporary folder: one user per simulated client, each with its own random LoRA adapter
   (rank `--rank` on every linear layer, the training default; weights random, so every adapter changes the output)
   written by the real `save_adapter_version` (PEFT safetensors + manifest with sha256), and an API key each.
   `tiny` is a randomly initialised 4-layer Llama (hidden 128) with a small BPE tokenizer, built on the spot.
2. Adapter registry, in this process: cold load (read + sha256 check + parse + attach) for every adapter, the
   parameter bytes and the process RSS growth per resident adapter, and a switch: a new version of one user loaded
   next to the pinned old one, then the old one dropped.
3. The server as a separate process (`python -m memory_lora serve`, so client and server do not share a GIL), once
   with mixed-adapter batching and once with it off (`--mixed_batching false`: each batch split by adapter, decoded one
   adapter at a time). Every adapter is loaded by a warm-up request first. Then for each user count U: U clients at
   once, each sending `--requests-per-user` requests one after another (non-streamed, greedy, `--max-tokens`); per-
   request latency is measured by the client. Same requests in both modes, so both decode the same tokens.
4. Switch as a client sees it: a new adapter version is published while the server runs, and the next request of
   that user (which loads it) is timed against the same user's warm latency.

The table goes to stdout; `--json` writes the numbers too. Numbers on a shared machine move with its load; the
1-minute load average is printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx  # noqa: E402
import psutil  # noqa: E402
import torch  # noqa: E402

from memory_lora.adapters import build_manifest, save_adapter_version  # noqa: E402
from memory_lora.base_model import load_base, local_model_path  # noqa: E402
from memory_lora.config import ALL_LINEAR, ModelConfig  # noqa: E402
from memory_lora.keys import create_key  # noqa: E402
from memory_lora.store import Store  # noqa: E402

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>'"
          " + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
PROMPTS = ["What did I do last weekend?", "Where does my sister live?", "Which book am I reading?",
           "What is my favourite food?", "When is my next dentist appointment?", "What is my dog called?"]


def build_tiny(folder: Path) -> Path:
    """A random 4-layer Llama (hidden 128) and a byte-level BPE tokenizer with a ChatML template, saved in folder."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=["<pad>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(PROMPTS * 20 + ["user assistant system the a of to and in my I you"] * 20, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                        pad_token="<pad>")
    tokenizer.chat_template = CHATML
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=128, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=256, max_position_embeddings=512, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _lora_config(rank: int, model) -> object:
    from peft import LoraConfig

    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    return LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=[t for t in ALL_LINEAR if t in names],
                      init_lora_weights=False, task_type="CAUSAL_LM")


def reseed(peft_model, seed: int) -> None:
    """Fresh random LoRA weights, large enough to change the model's output."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)


def publish_random(store: Store, user: str, model_config: ModelConfig, rank: int, seed: int) -> int:
    """Saves a new random adapter version for user, as training saves one (on a private copy of the base)."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    dtype = getattr(torch, model_config.dtype)
    base = AutoModelForCausalLM.from_pretrained(local_model_path(model_config), dtype=dtype)
    peft_model = get_peft_model(base, _lora_config(rank, base))
    reseed(peft_model, seed)
    version, _ = save_adapter_version(peft_model, store, user, build_manifest(user, [], "0" * 64, "bench", {}, {}))
    return version


def make_users(home: Path, model_config: ModelConfig, n: int, rank: int) -> dict[str, str]:
    """n users u000.. with one random rank-`rank` adapter each (saved as training saves them); returns user -> key."""
    from peft import get_peft_model

    model, _ = load_base(model_config)
    peft_model = get_peft_model(model, _lora_config(rank, model))
    keys = {}
    with Store(home) as store:
        for i in range(n):
            user = f"u{i:03d}"
            reseed(peft_model, i)
            save_adapter_version(peft_model, store, user, build_manifest(user, [], "0" * 64, "bench", {}, {}))
            keys[user] = create_key(store, user)
    peft_model.unload()  # the cached base goes back clean
    return keys


def registry_bench(home: Path, model_config: ModelConfig, users: list[str], rank: int) -> dict:
    """Cold load, bytes and RSS per adapter, and a version switch, measured on the registry itself."""
    from memory_lora.server.registry import AdapterRegistry

    model, _ = load_base(model_config)
    process = psutil.Process()
    with Store(home) as store:
        registry = AdapterRegistry(model, store, max_adapters=len(users) + 1)
        rss0 = process.memory_info().rss
        keys = [registry.pin_latest(u) for u in users]
        for key in keys:
            registry.ensure(key)
        rss1 = process.memory_info().rss
        loads = [r.load_s for r in registry.resident()]
        nbytes = registry.resident()[0].nbytes
        # Switch: users[0] gets a new version while v1 is still pinned (in flight): load the new one next to it,
        # then release v1 and let the clean-up drop it.
        publish_random(store, users[0], model_config, rank, seed=10_000)
        t0 = time.perf_counter()
        new_key = registry.pin_latest(users[0])
        registry.ensure(new_key)
        t1 = time.perf_counter()
        registry.unpin(keys[0])
        registry.collect()
        t2 = time.perf_counter()
        for key in [*keys[1:], new_key]:
            registry.unpin(key)
        registry.close()
    return {"adapters": len(users), "cold_load_ms_p50": 1000 * statistics.median(loads),
            "cold_load_ms_max": 1000 * max(loads), "adapter_param_bytes": nbytes,
            "rss_bytes_per_adapter": (rss1 - rss0) / len(users), "switch_load_ms": 1000 * (t1 - t0),
            "switch_drop_old_ms": 1000 * (t2 - t1)}


class ServerProcess:
    """`python -m memory_lora serve` on a free local port, stopped on exit."""

    def __init__(self, home: Path, base_model: str, mixed: bool, args, log_path: Path):
        self.home, self.base_model, self.mixed, self.args, self.log_path = home, base_model, mixed, args, log_path

    def __enter__(self) -> str:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [sys.executable, "-m", "memory_lora", "--home", str(self.home), "serve", "--port", str(port),
               "--base-model", self.base_model, "--max_adapters", "1024", "--max_batch_size",
               str(self.args.max_batch_size), "--batch_window_ms", str(self.args.batch_window_ms),
               "--default_max_tokens", str(self.args.max_tokens), "--threads", str(self.args.threads),
               "--answer.num_beams", "1"]  # greedy: this benchmark measures batching, not the answer recipe
        if not self.mixed:
            cmd += ["--mixed_batching", "false"]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in __exit__)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited; see {self.log_path}")
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not start within 300 s")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self.log.close()


async def _request(client: httpx.AsyncClient, key: str, prompt: str, max_tokens: int) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    r = await client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                          json={"model": "mine", "messages": [{"role": "user", "content": prompt}],
                                "max_tokens": max_tokens})
    r.raise_for_status()
    body = r.json()
    return time.perf_counter() - t0, body["usage"]["completion_tokens"], body["model"]


async def load(url: str, keys: list[str], per_user: int, max_tokens: int) -> dict:
    """len(keys) clients at once, each sending per_user requests back to back."""
    limits = httpx.Limits(max_connections=len(keys) + 10, max_keepalive_connections=len(keys) + 10)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        async def user(i: int, key: str):
            return [await _request(client, key, PROMPTS[(i + j) % len(PROMPTS)], max_tokens) for j in range(per_user)]

        t0 = time.perf_counter()
        results = [r for rs in await asyncio.gather(*(user(i, k) for i, k in enumerate(keys))) for r in rs]
        wall = time.perf_counter() - t0
    latencies = sorted(r[0] for r in results)
    return {"requests": len(results), "p50_ms": 1000 * statistics.median(latencies),
            "p95_ms": 1000 * latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
            "req_per_s": len(results) / wall, "tokens_per_s": sum(r[1] for r in results) / wall, "wall_s": wall}


async def switch(url: str, home: Path, user: str, key: str, model_config: ModelConfig, rank: int, max_tokens: int):
    """Warm latency of one user, then the latency of its first request after a new version is published."""
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        warm = [(await _request(client, key, PROMPTS[0], max_tokens))[0] for _ in range(3)]
        with Store(home) as store:
            version = publish_random(store, user, model_config, rank, seed=20_000)
        first, _, model = await _request(client, key, PROMPTS[0], max_tokens)
    assert model == f"{user}@v{version}", model  # the very next request already runs on the new version
    return {"warm_ms": 1000 * statistics.median(warm), "first_after_publish_ms": 1000 * first}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-model", default="tiny", help="tiny (random, built here), smollm2-135m-instruct, PATH")
    parser.add_argument("--users", default="1,10,100")
    parser.add_argument("--requests-per-user", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--batch-window-ms", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the server and of this process")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()
    counts = [int(x) for x in args.users.split(",")]
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        tmp = Path(tmp)
        base = str(build_tiny(tmp / "tiny")) if args.base_model == "tiny" else args.base_model
        model_config = ModelConfig(base_model=base, device="cpu")
        home = tmp / "home"
        keys = make_users(home, model_config, max(counts), args.rank)
        users = sorted(keys)
        registry = registry_bench(home, model_config, users, args.rank)
        runs: dict[tuple[int, bool], dict] = {}
        swap = None
        for mixed in (True, False):
            with ServerProcess(home, base, mixed, args, tmp / f"server-{mixed}.log") as url:
                asyncio.run(load(url, [keys[u] for u in users], 1, 2))  # warm-up: every adapter loaded once
                for n in counts:
                    runs[(n, mixed)] = asyncio.run(load(url, [keys[u] for u in users[:n]], args.requests_per_user,
                                                        args.max_tokens))
                if mixed:
                    swap = asyncio.run(switch(url, home, users[-1], keys[users[-1]], model_config, args.rank,
                                              args.max_tokens))
    report(args, registry, runs, swap, counts)


def report(args, registry: dict, runs: dict, swap: dict, counts: list[int]) -> None:
    load1 = os.getloadavg()[0]
    print(f"bench_server: base {args.base_model}, LoRA rank {args.rank} on all linear layers, greedy, "
          f"max_tokens {args.max_tokens}, {args.requests_per_user} requests per user, batch <= {args.max_batch_size},"
          f" window {args.batch_window_ms} ms; {args.threads} torch thread(s) on {os.cpu_count()} CPUs, load average"
          f" {load1:.2f}, "
          f"torch {torch.__version__}")
    print()
    print("| users | batching | requests | p50 ms | p95 ms | req/s | tokens/s | mixed / one-at-a-time |")
    print("|---|---|---|---|---|---|---|---|")
    for n in counts:
        for mixed in (True, False):
            r = runs[(n, mixed)]
            ratio = runs[(n, True)]["req_per_s"] / runs[(n, False)]["req_per_s"]
            print(f"| {n} | {'mixed' if mixed else 'one adapter at a time'} | {r['requests']} | {r['p50_ms']:.0f} | "
                  f"{r['p95_ms']:.0f} | {r['req_per_s']:.1f} | {r['tokens_per_s']:.0f} | "
                  f"{f'{ratio:.2f}x' if mixed else ''} |")
    print()
    print(f"adapter cold load (read + sha256 + parse + attach), {registry['adapters']} adapters: "
          f"p50 {registry['cold_load_ms_p50']:.1f} ms, max {registry['cold_load_ms_max']:.1f} ms")
    print(f"resident memory per adapter: {registry['adapter_param_bytes'] / 1e6:.2f} MB of LoRA parameters, "
          f"{registry['rss_bytes_per_adapter'] / 1e6:.2f} MB process RSS growth")
    print(f"switch on the registry: new version loaded next to the pinned old one in {registry['switch_load_ms']:.1f}"
          f" ms, old one dropped in {registry['switch_drop_old_ms']:.1f} ms")
    print(f"switch through the server: warm request {swap['warm_ms']:.0f} ms, first request after a new version was "
          f"published {swap['first_after_publish_ms']:.0f} ms (answered by the new version)")
    if args.json:
        Path(args.json).write_text(json.dumps({"registry": registry, "switch": swap, "load_average_1m": load1,
                                               "runs": [{"users": n, "mixed": m, **r} for (n, m), r in runs.items()]},
                                              indent=2))


if __name__ == "__main__":
    main()
