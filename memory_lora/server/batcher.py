"""The batcher: one worker thread that owns the model, gathers queued requests and decodes them together.

Requests that arrive within `batch_window_ms` of each other (or while the previous batch was decoding) form one
batch: left-padded, one greedy `generate` with a PEFT adapter name per row, so users with different adapters share
every forward pass. With `mixed_batching` off the batch is split by adapter and each part decoded on its own (the
one-adapter-at-a-time baseline the benchmark compares against). Each request's text goes back token by token
through its `emit` callback; rows stop on the end-of-turn token, a stop string, their own max_tokens, or when their
client goes away.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

from memory_lora.abstain import AbstainGate, abstain_token_ids
from memory_lora.server.config import ServeConfig
from memory_lora.server.registry import BASE_ROW, AdapterLoadError, AdapterRegistry, Key

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
    """

    prompt_ids: list[int]
    max_tokens: int
    stop: list[str]
    key: Key
    emit: Callable[[str, object], None]
    cancelled: bool = False  # set by the client side when nobody waits for the reply any more
    closed: bool = False  # its last event was sent and its pin released
    ids: list[int] = field(default_factory=list)  # generated ids, end token excluded
    sent: int = 0  # characters of the reply already emitted
    finish_reason: str | None = None

    @property
    def completion_tokens(self) -> int:
        return len(self.ids)


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
        if len(text) > job.sent:
            job.emit("delta", text[job.sent :])
            job.sent = len(text)


class Batcher:
    """Owns the model: loads adapters through the registry and decodes batches, on one worker thread.

    Args:
        registry: The adapter registry (its model is the PEFT-wrapped base).
        tokenizer: The base model's tokenizer.
        config: Batch size, window, mixed batching, pending limit.
        tokenizer_lock: Serialises tokenizer use with the request handlers (fast tokenizers are not re-entrant).
    """

    def __init__(self, registry: AdapterRegistry, tokenizer, config: ServeConfig, tokenizer_lock: threading.Lock):
        self.registry, self.tokenizer, self.config, self.tokenizer_lock = registry, tokenizer, config, tokenizer_lock
        self.eos_id = tokenizer.eos_token_id
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id
        self.abstain_ids = abstain_token_ids(tokenizer)
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
        rows: list[tuple[Job, str]] = []
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
        if self.config.mixed_batching:
            groups = [rows]
        else:
            by_name: dict[str, list[tuple[Job, str]]] = {}
            for row in rows:
                by_name.setdefault(row[1], []).append(row)
            groups = list(by_name.values())
        self.batches += 1
        self.max_rows_seen = max(self.max_rows_seen, len(rows))
        for group in groups:
            self._generate(group)

    def _generate(self, rows: list[tuple[Job, str]]) -> None:
        jobs = [job for job, _ in rows]
        names = [name for _, name in rows]
        width = max(len(j.prompt_ids) for j in jobs)
        device = next(self.registry.model.parameters()).device
        # Left padding: every row's next token is predicted at the same, last position.
        ids = torch.tensor([[self.pad_id] * (width - len(j.prompt_ids)) + j.prompt_ids for j in jobs], device=device)
        mask = torch.tensor([[0] * (width - len(j.prompt_ids)) + [1] * len(j.prompt_ids) for j in jobs],
                            device=device)
        generation = GenerationConfig(max_new_tokens=max(j.max_tokens for j in jobs), do_sample=False,
                                      eos_token_id=self.eos_id, pad_token_id=self.pad_id)
        self.generate_calls += 1
        self.max_adapters_per_pass = max(self.max_adapters_per_pass, len(set(names)))
        rows_done = _Rows(jobs, width, self.eos_id, self._decode,
                          on_finish=lambda job: self._finish(job, "done", job.finish_reason))
        processors = LogitsProcessorList()
        if self.config.abstain_threshold is not None:
            processors.append(AbstainGate(self.abstain_ids, self.eos_id, self.config.abstain_threshold, width,
                                          rows=[name != BASE_ROW for name in names]))
        try:
            self.registry.model.generate(input_ids=ids, attention_mask=mask, generation_config=generation,
                                         adapter_names=names, stopping_criteria=StoppingCriteriaList([rows_done]),
                                         logits_processor=processors)
        except Exception:
            log.exception("generation failed for a batch of %d", len(jobs))
            for job in jobs:
                self._finish(job, "error", "generation failed")  # no effect on rows already answered
            return
        for job in jobs:
            # A row still open ran into the batch's token limit, which is at most its own.
            job.finish_reason = job.finish_reason or "length"
            self._finish(job, "done", job.finish_reason)
