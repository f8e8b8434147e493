"""Answering a question about a user with each method: parametric, rag, long-context, hybrid, base.

- parametric: the user's adapter, the question alone.
- rag: the base model, the top-k retrieved memories in the prompt.
- long-context: the base model, every memory in the prompt (oldest dropped, with a warning, past the budget).
- hybrid: the user's adapter plus the retrieved memories.
- base: the base model, the question alone (the floor).

With answer.person_ensemble, an adapter method also asks the question the two other ways training asks about the
user ("Where does Ravi live?" -> "Where do I live?", "Where does the user live?") and keeps the reply the adapter
is most confident in (highest mean token log-probability); the cost is up to three generations per question.
With answer.consistency_samples, an adapter method also samples replies and says "I don't know" when too few of
them agree with its greedy reply (memory_lora.consistency).
With answer.rerank_weight (beam search) an adapter method picks among its n-best replies by their similarity to the
question, and with answer.abstain_margin it says "I don't know" when that reply, scored as a candidate of its own,
is nearly as probable as the one it would give (memory_lora.rerank).
"""

from __future__ import annotations

import contextlib
import logging
import time
import zlib
from dataclasses import dataclass, field

from data_synth.rules import first_person_question, the_user_question
from memory_lora.abstain import abstain_token_ids
from memory_lora.config import METHODS, AnswerConfig
from memory_lora.consistency import agreement
from memory_lora.generation import Reply, generate, reply_logprobs, sample
from memory_lora.prompts import ABSTAIN_REPLY, chat_prompt, context_prompt
from memory_lora.records import Memory
from memory_lora.rerank import ABSTAIN_REPLIES, idk_margin, n_best_record, pick, refuses
from memory_lora.retrieval import MemoryIndex, load_embedder

log = logging.getLogger(__name__)
ADAPTER_METHODS = ("parametric", "hybrid")


def person_forms(question: str, name: str) -> list[str]:
    """The question as asked, then as the user would ask it and about "the user", without repeats.

    Args:
        question: The question, naming the user by `name` or not.
        name: The user's display name ("Ravi").

    Returns:
        One to three questions; just [question] when it does not name the user.
    """
    forms = [question, first_person_question(question, name), the_user_question(question, name)]
    return [f for i, f in enumerate(forms) if f and f not in forms[:i]]


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
    """

    model: object
    tokenizer: object
    memories: list[Memory]
    name: str
    config: AnswerConfig = field(default_factory=AnswerConfig)
    system_prompt: str | None = ""
    _index: MemoryIndex | None = None
    _embedder: object | None = None
    _warned: bool = False

    @property
    def has_adapter(self) -> bool:
        return hasattr(self.model, "disable_adapter")

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

    def _adapter(self, method: str):
        if method in ADAPTER_METHODS:
            if not self.has_adapter:
                raise ValueError(f"method {method!r} needs a trained adapter; run `memory-lora train USER` first")
            return contextlib.nullcontext()
        return self.model.disable_adapter() if self.has_adapter else contextlib.nullcontext()

    def abstain_token_ids(self) -> list[int]:
        """The token that opens "I don't know" as a reply, watched by the abstention gate (memory_lora.abstain)."""
        return abstain_token_ids(self.tokenizer)[:1]

    def _consistency_gate(self, question: str, prompt: str, reply: Reply) -> None:
        """Sample replies to the prompt; too few agreeing with the greedy reply make it "I don't know"."""
        seed = zlib.crc32(question.encode("utf-8")) ^ self.config.seed  # the same draw whatever the question order
        samples, seconds = sample(self.model, self.tokenizer, prompt, self.config.consistency_samples,
                                  self.config.max_new_tokens, seed)
        reply.latency_s += seconds
        reply.agreement = agreement(reply.text, samples, self.name)
        if reply.agreement < self.config.consistency_threshold and not refuses(reply.text):
            reply.ungated_text, reply.text = reply.text, ABSTAIN_REPLY

    def _recite_means(self, candidates: list[str]) -> list[float]:
        """Each beam's mean log-probability under a prompt that asks for no fact in particular ("What do you remember
        about Ravi?"): how readily the adapter says it as a memory, whatever the question."""
        prompt = chat_prompt(self.tokenizer, f"What do you remember about {self.name}?", self.system_prompt)
        return reply_logprobs(self.model, self.tokenizer, prompt, list(candidates))

    def _base_means(self, prompt: str, candidates: list[str]) -> list[float] | None:
        """Each beam's mean log-probability under the same prompt with the adapter switched off (None without one)."""
        if not self.has_adapter:
            return None
        with self.model.disable_adapter():
            return reply_logprobs(self.model, self.tokenizer, prompt, list(candidates))

    def _rerank(self, question: str, prompt: str, reply: Reply) -> None:
        """Score the n-best replies and "I don't know" under the prompt; pick by similarity, abstain by margin."""
        candidates = reply.candidates or [reply.text]
        # beams and refusals scored in one teacher-forced pass, so both are measured alike (greedy has no beam score)
        means = reply_logprobs(self.model, self.tokenizer, prompt, list(candidates) + list(ABSTAIN_REPLIES))
        means, abstain_means = means[: len(candidates)], means[len(candidates) :]
        reply.idk_margin = idk_margin(means[0], abstain_means)
        best, sims = 0, None
        if self.config.rerank_weight > 0 and len(candidates) > 1:
            emb = self.embedder().encode([question, *candidates], convert_to_tensor=True, normalize_embeddings=True,
                                         show_progress_bar=False)
            sims = (emb[1:] @ emb[0]).tolist()
            best = pick(candidates, means, sims, self.config.rerank_weight, self.config.rerank_margin)
        if self.config.save_n_best:
            reply.n_best = n_best_record(candidates, means, abstain_means, sims, self._recite_means(candidates),
                                         self._base_means(prompt, candidates))
        if best:
            reply.top_text, reply.text = reply.text, candidates[best]
        gate = self.config.abstain_margin
        if gate is not None and reply.idk_margin <= gate and not refuses(reply.text):
            reply.ungated_text, reply.text = reply.text, ABSTAIN_REPLY

    def answer(self, method: str, questions: list[str], batch_size: int = 1) -> list[Reply]:
        """Answer each question with one method (batch_size 1 gives honest per-question latency).

        Adapter methods report Reply.first_token_p, the probability of opening with "I don't know"; with
        config.abstain_threshold set, a reply whose probability reaches it becomes ABSTAIN_REPLY. With
        config.consistency_samples set they also report Reply.agreement, and a reply below
        config.consistency_threshold becomes ABSTAIN_REPLY (Reply.ungated_text keeps the greedy one). With
        config.rerank_weight or config.abstain_margin they report Reply.idk_margin, Reply.top_text when the reranker
        chose another beam, and Reply.ungated_text when the margin gate refused (memory_lora.rerank).
        """
        watch = self.abstain_token_ids() if method in ADAPTER_METHODS else None
        ensemble = self.config.person_ensemble and method in ADAPTER_METHODS
        forms = [person_forms(q, self.name) if ensemble else [q] for q in questions]
        prompts = [self.prompt(method, f) for group in forms for f in group]
        rerank = method in ADAPTER_METHODS and (self.config.rerank_weight > 0 or self.config.abstain_margin is not None)
        n_best = self.config.num_beams if rerank and self.config.rerank_weight > 0 else 1
        with self._adapter(method):
            flat = generate(self.model, self.tokenizer, prompts, self.config.max_new_tokens, batch_size,
                            first_token_ids=watch, score_tokens=ensemble, num_beams=self.config.num_beams,
                            num_return=n_best)
        replies, chosen, start = [], [], 0
        for group in forms:
            candidates = flat[start : start + len(group)]
            best = max(range(len(group)), key=lambda i: candidates[i].mean_logprob) if ensemble else 0
            chosen.append(prompts[start + best])
            start += len(group)
            reply = candidates[best]
            # the cost of the question is every form asked, not the chosen one alone
            reply.latency_s = sum(r.latency_s for r in candidates)
            reply.prompt_tokens = sum(r.prompt_tokens for r in candidates)
            replies.append(reply)
        if rerank:
            with self._adapter(method):
                for question, prompt, reply in zip(questions, chosen, replies, strict=True):
                    t0 = time.perf_counter()
                    self._rerank(question, prompt, reply)
                    reply.latency_s += time.perf_counter() - t0
        if self.config.consistency_samples and method in ADAPTER_METHODS:
            with self._adapter(method):
                for question, prompt, reply in zip(questions, chosen, replies, strict=True):
                    self._consistency_gate(question, prompt, reply)
        gate = self.config.abstain_threshold
        if gate is not None and watch is not None:
            for reply in replies:
                if reply.first_token_p >= gate and not refuses(reply.text):
                    reply.ungated_text, reply.text = reply.text, ABSTAIN_REPLY
        return replies
