"""ServeConfig: every setting of `memory-lora serve`, documented where declared and checked on construction."""

from __future__ import annotations

from dataclasses import dataclass, field

from memory_lora.config import ModelConfig


@dataclass
class ServeConfig:
    """The OpenAI-compatible server: network, adapter cache, batching and request limits."""

    # Interface to listen on. 127.0.0.1 by default: parametric memory is private data, so exposing it on a network
    # is an explicit choice (put TLS in front of it then; keys travel as bearer tokens).
    host: str = "127.0.0.1"
    port: int = 8000  # TCP port; 0 lets the OS pick a free one (tests, benchmarks)
    # Adapters kept loaded on the shared base model (least recently used ones are dropped beyond this; an adapter in
    # use by a request is never dropped, so the count can exceed this while many users are in flight).
    max_adapters: int = 64
    max_batch_size: int = 32  # requests decoded together in one forward pass
    # How long the batcher waits after the first queued request for others to join its batch. A few ms costs little
    # latency and lets simultaneous requests share forward passes.
    batch_window_ms: float = 5.0
    # Serve rows of different users in one forward pass (PEFT per-row adapters). False = one adapter at a time,
    # i.e. a batch is split by adapter and each part decoded on its own (for comparison in benchmarks).
    mixed_batching: bool = True
    max_tokens_cap: int = 512  # largest max_tokens a request may ask for; more is a 400
    default_max_tokens: int = 128  # max_tokens when a request gives none
    # Prompt tokens allowed per request after the chat template; None = the model's context length minus max_tokens.
    max_prompt_tokens: int | None = None
    max_body_bytes: int = 1_000_000  # request body size limit; larger bodies get 413 before they are read in full
    max_pending: int = 1024  # requests queued or in flight at once; beyond it new ones get 429
    # torch intra-op threads for decoding; None = torch's default (all cores). On a CPU shared with other work, fewer
    # threads avoid OpenMP workers spin-waiting for busy cores (measured: 1 thread was >10x faster than 2 here).
    threads: int | None = None
    model: ModelConfig = field(default_factory=ModelConfig)  # base model (its system_prompt is used as in training)
    # Abstention gate (as answer.abstain_threshold for ask/eval): a user's reply is "I don't know" when their adapter
    # gives its first token at least this probability. None = plain greedy decoding.
    abstain_threshold: float | None = None

    def __post_init__(self):
        if not self.host:
            raise ValueError("serve.host must not be empty")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"serve.port must be in 0..65535, got {self.port}")
        for name in ("max_adapters", "max_batch_size", "max_tokens_cap", "default_max_tokens", "max_body_bytes",
                     "max_pending"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"serve.{name} must be a positive integer, got {value!r}")
        if not 0 <= self.batch_window_ms <= 1000:
            raise ValueError(f"serve.batch_window_ms must be in [0, 1000], got {self.batch_window_ms}")
        if self.default_max_tokens > self.max_tokens_cap:
            raise ValueError(f"serve.default_max_tokens ({self.default_max_tokens}) exceeds serve.max_tokens_cap "
                             f"({self.max_tokens_cap})")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"serve.threads must be >= 1 or null, got {self.threads}")
        if self.max_prompt_tokens is not None and self.max_prompt_tokens < 1:
            raise ValueError(f"serve.max_prompt_tokens must be >= 1 or null, got {self.max_prompt_tokens}")
        if self.abstain_threshold is not None and not 0.0 < self.abstain_threshold < 1.0:
            raise ValueError(f"serve.abstain_threshold must be in (0, 1) or null, got {self.abstain_threshold}")
        if isinstance(self.model, dict):  # from a config file
            self.model = ModelConfig(**self.model)
