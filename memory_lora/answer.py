"""Answering a question about a user with each method: parametric, rag, long-context, hybrid, base.

- parametric: the user's adapter, the question alone.
- rag: the base model, the top-k retrieved memories in the prompt.
- long-context: the base model, every memory in the prompt (oldest dropped, with a warning, past the budget).
- hybrid: the user's adapter plus the retrieved memories.
- base: the base model, the question alone (the floor).

Every method answers through the one answer pipeline (memory_lora.respond) with the same decoding; the adapter
methods are also reranked and gated there, as the server does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from memory_lora.config import METHODS, AnswerConfig
from memory_lora.generation import Reply, encode_prompts
from memory_lora.prompts import chat_prompt, context_prompt
from memory_lora.records import Memory
from memory_lora.respond import Row, respond
from memory_lora.retrieval import MemoryIndex, load_embedder

log = logging.getLogger(__name__)
ADAPTER_METHODS = ("parametric", "hybrid")


@dataclass
class Answerer:
    """Answers questions about one user with any method.

    Attributes:
        model: The base model, or a PeftModel carrying the user's adapter (needed by parametric and hybrid).
        tokenizer: Its tokenizer.
        memories: The user's stored memories (for rag, long-context, hybrid).
        name: The user's display name used in context prompts.
        config: Answer settings.
        system_prompt: Same prompt format as training.
        adapter_name: The PEFT adapter that answers the adapter methods.
        calibrated_gate: The gate calibration chose for this adapter (its manifest), applied when
            config.abstain_margin is None and config.use_calibrated_gate.
    """

    model: object
    tokenizer: object
    memories: list[Memory]
    name: str
    config: AnswerConfig = field(default_factory=AnswerConfig)
    system_prompt: str | None = ""
    adapter_name: str = "default"
    calibrated_gate: float | None = None
    _index: MemoryIndex | None = None
    _embedder: object | None = None
    _warned: bool = False

    def __post_init__(self):
        self.model.eval()  # answering never trains: dropout off (and PEFT's per-row adapters need eval mode)

    @property
    def has_adapter(self) -> bool:
        return hasattr(self.model, "peft_config") and self.adapter_name in self.model.peft_config

    @property
    def gate(self) -> float | None:
        """The "I don't know" gate the adapter methods answer with (None = off)."""
        return self.config.gate_for(self.calibrated_gate)

    def embedder(self):
        """The sentence embedder (loaded once; rag's index and the n-best reranker share it)."""
        if self._embedder is None:
            self._embedder = load_embedder(self.config.embedder)
        return self._embedder

    def index(self) -> MemoryIndex:
        if self._index is None:
            self._index = MemoryIndex.build(self.memories, self.embedder())
        return self._index

    def _long_context(self, question: str) -> str:
        budget = self.config.long_context_max_tokens
        if budget is None:
            limit = getattr(self.model.config, "max_position_embeddings", 2048)
            budget = limit - self.config.max_new_tokens
        kept = list(self.memories)
        prompt = chat_prompt(self.tokenizer, context_prompt(question, kept, self.name), self.system_prompt)
        while kept and len(self.tokenizer(prompt, add_special_tokens=False)["input_ids"]) > budget:
            kept = kept[max(1, len(kept) // 10) :]  # drop the oldest tenth until it fits
            prompt = chat_prompt(self.tokenizer, context_prompt(question, kept, self.name), self.system_prompt)
        if len(kept) < len(self.memories) and not self._warned:
            log.warning("long-context: %d of %d memories fit in %d prompt tokens; the oldest were dropped",
                        len(kept), len(self.memories), budget)
            self._warned = True
        return prompt

    def prompt(self, method: str, question: str) -> str:
        """The rendered prompt a method sends to the model."""
        if method in ("parametric", "base"):
            text = question
        elif method in ("rag", "hybrid"):
            text = context_prompt(question, self.index().search(question, self.config.rag_top_k), self.name)
        elif method == "long-context":
            return self._long_context(question)
        else:
            raise ValueError(f"unknown method {method!r} (expected one of {', '.join(METHODS)})")
        return chat_prompt(self.tokenizer, text, self.system_prompt)

    def answer(self, method: str, questions: list[str], batch_size: int = 1, gate: float | None = None,
               use_gate: bool = True) -> list[Reply]:
        """Answer each question with one method (batch_size 1 gives honest per-question latency).

        Args:
            method: One of METHODS.
            questions: Question texts.
            batch_size: Questions per decoding pass.
            gate: Answer the adapter methods with this gate instead of `self.gate` (calibration passes -inf: every
                margin scored, nothing refused).
            use_gate: False answers with no gate at all.
        """
        adapter = None
        if method in ADAPTER_METHODS:
            if not self.has_adapter:
                raise ValueError(f"method {method!r} needs a trained adapter; run `memory-lora train USER` first")
            adapter = self.adapter_name
        row_gate = None if adapter is None or not use_gate else (gate if gate is not None else self.gate)
        needs_embedder = adapter is not None and self.config.rerank_weight > 0 and self.config.num_beams > 1
        embedder = self.embedder() if needs_embedder else None
        replies: list[Reply] = []
        for start in range(0, len(questions), batch_size):
            chunk = questions[start : start + batch_size]
            ids = encode_prompts(self.tokenizer, [self.prompt(method, q) for q in chunk])
            rows = [Row(prompt_ids=p, question=q, adapter=adapter, gate=row_gate) for p, q in zip(ids, chunk,
                                                                                                 strict=True)]
            replies += respond(self.model, self.tokenizer, rows, self.config, embedder)
        return replies
