"""The eval command: ingest memories into a fresh user, synthesize, train, answer every question with every method,
and write report.json / report.md / plots (SPEC sections 4-5).

Run: memory-lora eval --memories M.jsonl --questions Q.jsonl --out DIR
"""

from __future__ import annotations

import logging
import platform
import tempfile
import time
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from tqdm.auto import tqdm

from eval.files import write_jsonl
from eval.gate_calibrate import GRID, calibration
from eval.metric.memory_recall.memory_recall import score_reply
from eval.report import format_table, summarize, validate_report, write_report
from memory_lora import __version__, pipeline
from memory_lora.answer import ADAPTER_METHODS
from memory_lora.base_model import describe
from memory_lora.config import METHODS, RunConfig
from memory_lora.ingest import read_memories, read_questions
from memory_lora.prompts import display_name
from memory_lora.records import Memory, Question
from memory_lora.store import validate_user

log = logging.getLogger(__name__)


def bundled_general_probe() -> Path:
    """The bundled general-knowledge probe (eval/data/general.jsonl)."""
    return Path(str(resources.files("eval").joinpath("data/general.jsonl")))


@dataclass
class EvalConfig:
    """What `memory-lora eval` runs."""

    memories: str  # memories file (SPEC section 1)
    questions: str  # questions file (SPEC section 2)
    out: str  # output folder for report.json, report.md, plots, answers.jsonl
    methods: list[str] = field(default_factory=lambda: list(METHODS))  # methods to compare
    general: str | None = "bundled"  # forgetting probe file; "bundled" = eval/data/general.jsonl; None = skip
    kl: bool = True  # KL(base || adapter) on the bundled generic prompts (eval/forgetting.py) for the adapter
    run: RunConfig = field(default_factory=RunConfig)  # model / lora / train / synth / answer settings
    user: str | None = None  # user id; None = the memories' own `user` field when they share one, else "user"
    home: str | None = None  # store to use; None = a fresh temporary home, removed afterwards
    # With `home`: answer with the adapter already in the store when it was trained on this exact dataset and config
    # (pipeline.trained_adapter), instead of training again; e.g. to add questions to an evaluated user.
    reuse_adapter: bool = False
    # Calibration questions (SPEC section 2 format, with abstention items; never the evaluation questions): answer
    # them first with the gate off and set answer.abstain_margin to the smallest gate in eval.gate_calibrate.GRID that
    # refuses at least gate_target of their abstention questions (eval/gate_calibrate.py). None = the gate as
    # configured.
    gate_questions: str | None = None
    # Also (or only) calibrate on this many abstention questions synthesized from the memories and held out of the
    # training data (data_synth.heldout): a calibration set that needs no hand-written questions. 0 = none.
    gate_synth: int = 0
    gate_target: float = 0.8
    gate_grid: tuple[float | None, ...] = GRID  # candidate gates, smallest first; None = no gate

    def __post_init__(self):
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
        if self.general == "bundled":
            self.general = str(bundled_general_probe())
        if self.user is not None:
            validate_user(self.user)
        if self.reuse_adapter and not self.home:
            raise ValueError("reuse_adapter needs a store to reuse (--keep-store DIR)")
        if self.gate_synth < 0:
            raise ValueError(f"gate_synth must be >= 0, got {self.gate_synth}")
        if self.calibrates and self.run.answer.abstain_margin is not None:
            raise ValueError("--gate-questions / --gate-synth choose answer.abstain_margin: do not also set it")
        numbers = [g for g in self.gate_grid if g is not None]
        if (not self.gate_grid or None in self.gate_grid[1:] or any(g != g for g in numbers)
                or numbers != sorted(set(numbers))):
            raise ValueError(f"gate_grid must list candidate gates smallest first (off, if there, first), got "
                             f"{self.gate_grid}")
        if not 0.0 < self.gate_target <= 1.0:
            raise ValueError(f"gate_target must be in (0, 1], got {self.gate_target}")

    @property
    def calibrates(self) -> bool:
        """Whether the run chooses its gate from calibration questions."""
        return bool(self.gate_questions) or self.gate_synth > 0


def _user_for(memories, explicit: str | None) -> str:
    if explicit:
        return explicit
    owners = {m.user for m in memories if m.user}
    return validate_user(owners.pop()) if len(owners) == 1 else "user"


def answer_questions(ans, questions: list[Question], methods: list[str], progress: bool = True) -> list[dict]:
    """Per-question records for every method (batch size 1, so latency is per question)."""
    records = []
    bar = tqdm(total=len(questions) * len(methods), desc="answer", unit="q", disable=not progress)
    for method in methods:
        for q in questions:
            reply = ans.answer(method, [q.question])[0]
            scores = score_reply(reply.text, q.answers)
            record = {**q.extra, "method": method, "question_id": q.id, "type": q.type,
                      "question": q.question, "reply": reply.text, "answers": q.answers, **scores,
                      "prompt_tokens": reply.prompt_tokens, "latency_s": round(reply.latency_s, 4)}
            if reply.first_token_p is not None:  # adapter methods: what the abstention gate saw, for threshold sweeps
                record["abstain_p"] = round(reply.first_token_p, 5)
                record["ungated_reply"] = reply.ungated_text
            if reply.agreement is not None:  # the self-consistency gate's share of agreeing samples
                record["agreement"] = round(reply.agreement, 4)
            if reply.idk_margin is not None:  # n-best reranking: the margin over "I don't know", the beam it replaced
                record["idk_margin"] = round(reply.idk_margin, 5)
                record["top_reply"] = reply.top_text
            if reply.n_best is not None:  # every beam's scores (answer.save_n_best), for eval.rerank_replay
                record["n_best"] = reply.n_best
            records.append(record)
            bar.update(1)
    bar.close()
    return records


def synthesized_calibration(cfg: EvalConfig, memories: list[Memory], user: str,
                            dataset_dir: str) -> list[Question]:
    """cfg.gate_synth abstention questions held out of the training data in `dataset_dir` (data_synth.heldout)."""
    from data_synth.dataset import load_dataset_dir
    from data_synth.heldout import held_out_abstention

    prompts = load_dataset_dir(Path(dataset_dir) / "data")["prompt"]
    texts = held_out_abstention(memories, display_name(user), cfg.run.synth, cfg.gate_synth, prompts)
    if len(texts) < cfg.gate_synth:
        log.warning("only %d held-out abstention questions could be synthesized (asked for %d)", len(texts),
                    cfg.gate_synth)
    return [Question(id=f"synth-abstention-{i:03d}", question=t, answers=["unknown"], type="abstention", evidence=[])
            for i, t in enumerate(texts, 1)]


def calibrate_gate(ans, cfg: EvalConfig, synthesized: list[Question] | None = None,
                   progress: bool = True) -> tuple[dict, list[dict]]:
    """Answer the calibration questions (cfg.gate_questions, then `synthesized`) with the gate off, choose the gate
    and set it on `ans` (and in cfg.run, so the report's config shows the gate the evaluation questions were answered
    with).

    Returns:
        (report["gate"], the calibration answer records).
    """
    questions = (read_questions(cfg.gate_questions) if cfg.gate_questions else []) + list(synthesized or [])
    # -inf: every reply's margin over "I don't know" is scored and recorded, and none is gated
    ans.config.abstain_margin = float("-inf")
    try:
        records = answer_questions(ans, questions, ["parametric"], progress)
    finally:
        ans.config.abstain_margin = None
    result = calibration(records, cfg.gate_target, cfg.gate_grid, questions_file=cfg.gate_questions,
                         synthesized=len(synthesized or []))
    # pipeline.answerer hands cfg.run.answer itself to the Answerer; setting both keeps them right for any other caller
    ans.config.abstain_margin = cfg.run.answer.abstain_margin = result["chosen"]
    log.info("gate calibrated on %d questions: abstain_margin %s", len(questions), result["chosen"])
    return result, records


def training_overlap(dataset_dir: str | None, questions: list[Question]) -> list[str]:
    """Ids of evaluation questions that appear verbatim (case, accents and punctuation aside) among training prompts.

    Synthesis never sees the questions, but generic templates ("What is X's cat called?") can still produce one
    word for word; the report lists them so a reader can discount them.
    """
    if not dataset_dir:
        return []
    from data_synth.dataset import load_dataset_dir
    from data_synth.grammar import norm

    prompts = {norm(p) for p in load_dataset_dir(Path(dataset_dir) / "data")["prompt"]}
    return [q.id for q in questions if norm(q.question) in prompts]


def general_probe(ans, questions: list[Question], progress: bool = True) -> dict:
    """Accuracy of the base model and of the adapted model on world-knowledge questions (forgetting)."""
    texts = [q.question for q in questions]
    result = {"n": len(questions)}
    for label, method in (("base", "base"), ("adapter", "parametric")):
        with tqdm(total=1, desc=f"general probe ({label})", disable=not progress) as bar:
            replies = ans.answer(method, texts, batch_size=16)
            bar.update(1)
        result[f"{label}_accuracy"] = sum(score_reply(r.text, q.answers)["accuracy"]
                                          for r, q in zip(replies, questions, strict=True)) / max(1, len(questions))
    result["drop"] = round(result["base_accuracy"] - result["adapter_accuracy"], 4)
    return result


def forgetting(ans, cfg: EvalConfig, general: list[Question], progress: bool = True) -> dict | None:
    """report["general"]: the general probe (when a probe file is given) plus KL(base || adapter) (when cfg.kl).

    A skipped probe leaves base_accuracy / adapter_accuracy None and n 0, so the SPEC keys stay present.
    """
    if not ans.has_adapter or not (general or cfg.kl):
        return None
    from eval.forgetting import kl_probe

    result = general_probe(ans, general, progress) if general else {"n": 0, "base_accuracy": None,
                                                                     "adapter_accuracy": None, "drop": None}
    if cfg.kl:
        result.update(kl_probe(ans, cfg.run, progress))
    return result


_NO_TRAIN = {"seconds": 0.0, "examples": 0, "tokens": 0, "tokens_per_second": 0.0, "epochs": 0, "adapter_bytes": 0,
             "memories": 0, "skipped": "no method needs an adapter"}


def versions() -> dict:
    """Versions of the libraries that shaped the numbers."""
    import accelerate
    import peft
    import torch
    import transformers

    return {"memory_lora": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "peft": peft.__version__, "accelerate": accelerate.__version__, "python": platform.python_version()}


def run_eval(cfg: EvalConfig, progress: bool = True) -> dict:
    """Run the whole comparison and write the report; returns the report dict."""
    if cfg.calibrates:  # the calibrated gate is set on a copy: callers (scaling, seeds) reuse cfg.run
        cfg = replace(cfg, run=replace(cfg.run, answer=replace(cfg.run.answer)))
    memories = read_memories(cfg.memories)
    questions = read_questions(cfg.questions)
    general = read_questions(cfg.general) if cfg.general else []
    user = _user_for(memories, cfg.user)
    with tempfile.TemporaryDirectory(prefix="memory-lora-eval-") as tmp:
        home = cfg.home or tmp
        pipeline.ingest(home, user, [cfg.memories])
        need_adapter = bool(general) or any(m in ADAPTER_METHODS for m in cfg.methods)
        if need_adapter:
            reused = pipeline.trained_adapter(home, user, cfg.run) if cfg.reuse_adapter else None
            if cfg.reuse_adapter and reused is None:
                log.warning("no adapter in %s matches this dataset and config; training one", home)
            trained = reused or pipeline.train(home, user, cfg.run, progress=progress)
        else:
            trained = {"train": {**_NO_TRAIN, "memories": len(memories)},
                       "synth": {"seconds": 0.0, "examples": 0, "by_kind": {}}}
        overlap = training_overlap(trained["synth"].get("path"), questions)
        ans = pipeline.answerer(home, user, cfg.run, need_adapter=need_adapter)
        gate, gate_records = None, None
        try:
            if cfg.calibrates and ans.has_adapter:
                synthesized = (synthesized_calibration(cfg, memories, user, trained["synth"]["path"])
                               if cfg.gate_synth else [])
                gate, gate_records = calibrate_gate(ans, cfg, synthesized, progress)
            start = time.perf_counter()
            records = answer_questions(ans, questions, cfg.methods, progress)
            answer_seconds = time.perf_counter() - start
            general_result = forgetting(ans, cfg, general, progress)
        finally:
            pipeline.release(ans)
    synth = trained["synth"]
    report = {
        # with no training data there is nothing a question could have been seen in
        "methods": summarize(records, seen=overlap if trained["synth"].get("path") else None),
        "train": trained["train"],
        "synth": {"seconds": synth["seconds"], "examples": synth["examples"], "by_kind": synth["by_kind"],
                  "backend": synth.get("backend", "rules"), "dropped": synth.get("dropped", {}),
                  "repeats": synth.get("repeats", 0), "eval_questions_in_training": overlap},
        "config": {"base_model": describe(cfg.run.model), "lora": cfg.run.to_dict()["lora"], "seed": cfg.run.train.seed,
                   "run": cfg.run.to_dict(), "memories_file": str(cfg.memories), "questions_file": str(cfg.questions),
                   "general_file": cfg.general, "user": user, "questions": len(questions)},
        "seed": cfg.run.train.seed,
        "versions": versions(),
        "answer_seconds": round(answer_seconds, 2),
    }
    if general_result is not None:
        report["general"] = general_result
    if gate is not None:
        report["gate"] = gate
    validate_report(report)
    write_report(report, cfg.out, records)
    if gate_records is not None:  # the calibration answers, for audit (the answers.jsonl record format)
        write_jsonl(Path(cfg.out) / "gate_answers.jsonl", gate_records)
    return report


def demo_files() -> tuple[Path, Path]:
    """The bundled example user's memories and held-out questions."""
    root = resources.files("memory_lora").joinpath("examples/demo")
    return Path(str(root.joinpath("memories.jsonl"))), Path(str(root.joinpath("questions.jsonl")))


def run_demo(out: str, run: RunConfig | None = None, progress: bool = True) -> dict:
    """The whole pipeline on the bundled example user; prints the comparison table."""
    memories, questions = demo_files()
    report = run_eval(EvalConfig(memories=str(memories), questions=str(questions), out=out, run=run or RunConfig()),
                      progress=progress)
    print(format_table(report))
    return report
