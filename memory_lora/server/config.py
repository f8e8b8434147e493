"""ServeConfig: every setting of `memory-lora serve`, documented where declared and checked on construction."""

from __future__ import annotations

from dataclasses import dataclass, field

from memory_lora.config import AnswerConfig, ModelConfig


@dataclass
class ServeConfig:
    """The OpenAI-compatible server: network, adapter cache, batching and request limits."""

    host: str = "127.0.0.1"
    """Interface to listen on. Loopback by default: parametric memory is private data, so exposing it on a network
    is an explicit choice (put TLS in front of it then; keys travel as bearer tokens)."""
    port: int = 8000
    """TCP port; 0 lets the OS pick a free one (tests, benchmarks)."""
    max_adapters: int = 64
    """Adapters kept loaded on the shared base model; the least recently used are dropped beyond this (one in use by
    a request never is, so the count can exceed it while many users are in flight)."""
    max_batch_size: int = 32
    """Requests decoded together in one forward pass."""
    batch_window_ms: float = 5.0
    """How long the batcher waits after the first queued request for others to join its batch: a few ms costs
    little latency and lets simultaneous requests share forward passes."""
    mixed_batching: bool = True
    """Serve rows of different users in one forward pass (PEFT per-row adapters); false decodes one adapter at a
    time (the baseline benchmarks compare against)."""
    max_tokens_cap: int = 512
    """Largest max_tokens a request may ask for; more is a 400."""
    default_max_tokens: int | None = None
    """max_tokens when a request gives none; null = answer.max_new_tokens, the cap the recipe was measured with."""
    max_prompt_tokens: int | None = None
    """Prompt tokens allowed per request after the chat template; null = the model's context minus max_tokens."""
    max_body_bytes: int = 1_000_000
    """Request body size limit; larger bodies get 413 before they are read in full."""
    max_pending: int = 1024
    """Requests queued or in flight at once; beyond it new ones get 429."""
    threads: int | None = None
    """torch intra-op threads for decoding; null = torch's default (all cores). On a CPU shared with other work,
    fewer threads keep OpenMP workers from spin-waiting for busy cores."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """The base model (its system_prompt is used as in training)."""
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    """How replies are decoded, reranked and gated: the same answer pipeline (memory_lora.respond) and recipe as ask
    and eval; each adapter's calibrated gate comes from its manifest unless answer.abstain_margin is set."""

    def __post_init__(self):
        if not self.host:
            raise ValueError("serve.host must not be empty")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"serve.port must be in 0..65535, got {self.port}")
        if isinstance(self.model, dict):  # from a config file
            self.model = ModelConfig(**self.model)
        if isinstance(self.answer, dict):
            self.answer = AnswerConfig(**self.answer)
        if self.default_max_tokens is None:
            self.default_max_tokens = min(self.answer.max_new_tokens, self.max_tokens_cap)
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
