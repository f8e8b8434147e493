"""The batcher: one worker thread that owns the model, gathers queued requests and answers them together.

Requests that arrive within `batch_window_ms` of each other (or while the previous batch was decoding) form one
batch, answered by the one answer pipeline (memory_lora.respond, as `ask` and `eval` answer): left-padded, one
decoding pass with a PEFT adapter name per row, so users with different adapters share every forward pass, then
each adapter row's n-best reranking and "I don't know" gate. With `mixed_batching` off the batch is split by
adapter and each part decoded on its own (the one-adapter-at-a-time baseline the benchmark compares against).

Greedy rows with no gate go back token by token through their `emit` callback; rows stop on the end-of-turn token,
a stop string, their own max_tokens, or when their client goes away. A reply that beam search, the reranker or
the gate decides only once it is whole is sent as one chunk.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from memory_lora.respond import Row, respond
from memory_lora.server.config import ServeConfig
from memory_lora.server.registry import AdapterLoadError, AdapterRegistry, Key, Resident

log = logging.getLogger(__name__)


class Busy(RuntimeError):
    """Too many requests queued or in flight (ServeConfig.max_pending)."""


@dataclass(eq=False)
class Job:
    """One chat completion on its way through the batcher.

    Attributes:
        prompt_ids: The rendered prompt's token ids.
        max_tokens: Most tokens to generate.
        stop: Strings that end the reply (not included in it).
        key: The (user, adapter version) pinned for this request; the reply comes from exactly this adapter.
        emit: Called from the worker thread with ("delta", text), then ("done", finish_reason) or ("error", msg).
        question: What the reranker compares replies with (the last user message).
    """

    prompt_ids: list[int]
    max_tokens: int
    stop: list[str]
    key: Key
    emit: Callable[[str, object], None]
    question: str = ""
    streams: bool = False  # set by the batcher: this row's text goes out token by token
    cancelled: bool = False  # set by the client side when nobody waits for the reply any more
    closed: bool = False  # its last event was sent and its pin released
    ids: list[int] = field(default_factory=list)  # generated ids, end token excluded
    sent: int = 0  # characters of the reply already emitted
    finish_reason: str | None = None
    reply_tokens: int | None = None  # tokens of the reply given, when the pipeline chose it after decoding

    @property
    def completion_tokens(self) -> int:
        return self.reply_tokens if self.reply_tokens is not None else len(self.ids)


class _Rows(StoppingCriteria):
    """Per-row bookkeeping at every decoding step: emits text, and tells `generate` which rows are finished."""

    def __init__(self, jobs: list[Job], prompt_len: int, eos_id: int, decode: Callable[[list[int]], str],
                 on_finish: Callable[[Job], None]):
        self.jobs, self.prompt_len, self.eos_id, self.decode = jobs, prompt_len, eos_id, decode
        self.on_finish = on_finish

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        if input_ids.shape[1] > self.prompt_len:  # generate may check once before the first new token
            for job, token in zip(self.jobs, input_ids[:, -1].tolist(), strict=True):
                if job.finish_reason is None:
                    self._step(job, token)
                    if job.finish_reason is not None:
                        # Answer now: the row keeps riding along until the batch ends, but its reply is complete.
                        self.on_finish(job)
        return torch.tensor([j.finish_reason is not None for j in self.jobs], device=input_ids.device)

    def _step(self, job: Job, token: int) -> None:
        if job.cancelled:
            job.finish_reason = "cancelled"
            return
        if token == self.eos_id:
            job.finish_reason = "stop"
        else:
            job.ids.append(token)
        text = self.decode(job.ids)
        cut = min((i for i in (text.find(s) for s in job.stop) if i >= 0), default=-1)
        if cut >= 0:
            text, job.finish_reason = text[:cut], "stop"
        elif job.finish_reason is None and len(job.ids) >= job.max_tokens:
            job.finish_reason = "length"
        if job.finish_reason is None:
            # Hold back a half-decoded character, and the tail that could still grow into a stop string.
            text = text.rstrip("\ufffd")
            if job.stop:
                text = text[: max(job.sent, len(text) - max(len(s) for s in job.stop) + 1)]
        if job.streams and len(text) > job.sent:
            job.emit("delta", text[job.sent :])
            job.sent = len(text)


class Batcher:
    """Owns the model: loads adapters through the registry and decodes batches, on one worker thread.

    Args:
        registry: The adapter registry (its model is the PEFT-wrapped base).
        tokenizer: The base model's tokenizer.
        config: Batch size, window, mixed batching, pending limit.
        tokenizer_lock: Serialises tokenizer use with the request handlers (fast tokenizers are not re-entrant).
        embedder: The sentence embedder for the n-best reranker (config.answer.rerank_weight > 0).
    """

    def __init__(self, registry: AdapterRegistry, tokenizer, config: ServeConfig, tokenizer_lock: threading.Lock,
                 embedder=None):
        self.registry, self.tokenizer, self.config, self.tokenizer_lock = registry, tokenizer, config, tokenizer_lock
        self.eos_id = tokenizer.eos_token_id
        self.embedder = embedder
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._in_batch = False  # from taking a batch off the queue until the adapter clean-up after it
        self._thread = threading.Thread(target=self._run, name="memory-lora-batcher", daemon=True)
        # Counters read by tests and benchmarks.
        self.batches = 0  # batches gathered and decoded
        self.max_rows_seen = 0  # most requests in one batch
        self.generate_calls = 0  # one per batch when mixing, one per adapter in the batch when not
        self.max_adapters_per_pass = 0  # most distinct adapters sharing one forward pass

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Finishes the batch in progress, fails what is still queued, and ends the worker."""
        self._queue.put(None)
        self._thread.join()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._finish(job, "error", "server shutting down")

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Waits until nothing is queued or decoding and the clean-up after the last batch is done (tests, bench).

        Returns:
            Whether it became idle within the timeout.
        """
        deadline = time.monotonic() + timeout
        while self._pending or self._in_batch:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def submit(self, job: Job) -> None:
        """Queues a job whose adapter version is already pinned.

        Raises:
            Busy: ServeConfig.max_pending jobs are already queued or in flight (the caller unpins).
        """
        with self._pending_lock:
            if self._pending >= self.config.max_pending:
                raise Busy(f"{self._pending} requests pending")
            self._pending += 1
        self._queue.put(job)

    def _finish(self, job: Job, kind: str, payload: object) -> None:
        """Ends a job exactly once: its last event, its pin, its pending slot.

        Unpinning before the batch ends is safe: adapters are only dropped by `collect`, on this thread, after it.
        """
        if job.closed:
            return
        job.closed = True
        try:
            job.emit(kind, payload)
        finally:
            self.registry.unpin(job.key)
            with self._pending_lock:
                self._pending -= 1

    def _decode(self, ids: list[int]) -> str:
        with self.tokenizer_lock:
            return self.tokenizer.decode(ids, skip_special_tokens=True)

    def _gather(self, first: Job) -> tuple[list[Job], bool]:
        """The first job plus whatever arrives within the window, up to max_batch_size; and whether to stop."""
        jobs, deadline = [first], time.monotonic() + self.config.batch_window_ms / 1000
        while len(jobs) < self.config.max_batch_size:
            try:
                job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
        return jobs, False

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            self._in_batch = True
            jobs, stopping = self._gather(first)
            try:
                self._serve(jobs)
            except Exception:  # never let one bad batch kill the worker
                log.exception("batch failed")
                for job in jobs:
                    self._finish(job, "error", "internal error")
            finally:
                self.registry.collect()
                self._in_batch = False

    @torch.inference_mode()
    def _serve(self, jobs: list[Job]) -> None:
        rows: list[tuple[Job, Resident]] = []
        for job in jobs:
            if job.cancelled:
                job.finish_reason = "cancelled"
                self._finish(job, "done", "cancelled")
                continue
            try:
                rows.append((job, self.registry.ensure(job.key)))
            except AdapterLoadError as e:
                log.error("adapter %s@v%d refused: %s", job.key[0], job.key[1], e)
                self._finish(job, "error", "this user's adapter could not be loaded")
        if not rows:
            return
        groups = [rows]
        if not self.config.mixed_batching:
            by_name: dict[str, list[tuple[Job, Resident]]] = {}
            for row in rows:
                by_name.setdefault(row[1].name, []).append(row)
            groups = list(by_name.values())
        if self.config.answer.num_beams > 1:
            # beam search has no per-row length cap: rows with the same cap decode together
            groups = [[r for r in g if r[0].max_tokens == cap] for g in groups for cap in
                      sorted({r[0].max_tokens for r in g})]
        self.batches += 1
        self.max_rows_seen = max(self.max_rows_seen, len(rows))
        for group in groups:
            self._generate(group)

    def _generate(self, rows: list[tuple[Job, Resident]]) -> None:
        answer = self.config.answer
        jobs = [job for job, _ in rows]
        inputs = [Row(prompt_ids=job.prompt_ids, question=job.question, adapter=resident.name,
                      gate=answer.gate_for(resident.gate)) for job, resident in rows]
        greedy = answer.num_beams == 1
        for job, row in zip(jobs, inputs, strict=True):
            job.streams = greedy and row.gate is None  # a gated reply is decided once it is whole
        self.generate_calls += 1
        self.max_adapters_per_pass = max(self.max_adapters_per_pass, len({r.adapter for r in inputs}))
        width = max(len(j.prompt_ids) for j in jobs)
        # Greedy rows are tracked token by token (streamed, stopped on stop strings, their own max_tokens, or a
        # client gone); beam search decides its rows only at the end.
        criteria = None
        if greedy:
            criteria = StoppingCriteriaList([_Rows(jobs, width, self.eos_id, self._decode, self._streamed_done)])
        try:
            replies = respond(self.registry.model, self.tokenizer, inputs, answer, self.embedder, criteria,
                              max_new_tokens=max(j.max_tokens for j in jobs))
        except Exception:
            log.exception("generation failed for a batch of %d", len(jobs))
            for job in jobs:
                self._finish(job, "error", "generation failed")  # no effect on rows already answered
            return
        for job, reply in zip(jobs, replies, strict=True):
            if job.closed:
                continue
            if job.streams:
                # A row still open ran into the batch's token limit, which is at most its own.
                job.finish_reason = job.finish_reason or "length"
                self._finish(job, "done", job.finish_reason)
                continue
            text, reason = reply.text, "stop" if reply.finished else "length"
            if reply.ungated_text is None:
                cut = min((i for i in (text.find(s) for s in job.stop) if i >= 0), default=-1)
                if cut >= 0:
                    text, reason = text[:cut], "stop"
            if job.finish_reason == "cancelled" or job.cancelled:
                reason = "cancelled"
            elif job.finish_reason == "length" and reply.ungated_text is None:
                reason = "length"
            job.reply_tokens = reply.completion_tokens
            job.finish_reason = reason
            if text:
                job.emit("delta", text)
            self._finish(job, "done", reason)

    def _streamed_done(self, job: Job) -> None:
        """Answer a streamed row as soon as it is complete; the others wait for the pipeline's last step."""
        if job.streams:
            self._finish(job, "done", job.finish_reason)
