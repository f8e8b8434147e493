"""The eval command: ingest memories into a fresh user, synthesize, train, answer every question with every method,
and write report.json / report.md / plots (SPEC sections 4-5).

Run: memory-lora eval --memories M.jsonl --questions Q.jsonl --out DIR
"""

from __future__ import annotations

import logging
import platform
import tempfile
import time
from importlib import resources
from pathlib import Path

from tqdm.auto import tqdm

from eval.configs import EvalConfig
from eval.files import write_jsonl
from eval.metric.memory_recall.memory_recall import score_reply
from eval.report import format_table, summarize, validate_report, write_report
from memory_lora import __version__, pipeline
from memory_lora.answer import ADAPTER_METHODS
from memory_lora.base_model import describe
from memory_lora.ingest import read_memories, read_questions
from memory_lora.recipe import RunConfig
from memory_lora.records import Question
from memory_lora.store import validate_user

log = logging.getLogger(__name__)


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
            if reply.idk_margin is not None:  # the margin over "I don't know", the beam and reply it replaced
                record["idk_margin"] = round(reply.idk_margin, 5)
                record["top_reply"] = reply.top_text
                record["ungated_reply"] = reply.ungated_text
            records.append(record)
            bar.update(1)
    bar.close()
    return records


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
    memories = read_memories(cfg.memories)
    questions = read_questions(cfg.questions)
    general = read_questions(cfg.general) if cfg.general else []
    user = _user_for(memories, cfg.user)
    with tempfile.TemporaryDirectory(prefix="memory-lora-eval-") as tmp:
        home = cfg.keep_store or tmp
        pipeline.ingest(home, user, [cfg.memories])
        need_adapter = bool(general) or any(m in ADAPTER_METHODS for m in cfg.methods)
        if need_adapter:
            reused = pipeline.trained_adapter(home, user, cfg.run) if cfg.reuse_adapter else None
            if cfg.reuse_adapter and reused is None:
                log.warning("no adapter in %s matches this dataset and config; training one", home)
            trained = reused or pipeline.train(home, user, cfg.run, progress=progress)
        else:
            trained = {"train": {**_NO_TRAIN, "memories": len(memories)},
                       "synth": {"seconds": 0.0, "examples": 0, "by_kind": {}}, "gate": None, "gate_answers": []}
        overlap = training_overlap(trained["synth"].get("path"), questions)
        ans = pipeline.answerer(home, user, cfg.run, need_adapter=need_adapter)
        gate, gate_answers = trained["gate"], trained["gate_answers"]
        try:
            if gate is None and ans.has_adapter and cfg.run.gate.questions > 0 and trained["train"].get("reused"):
                # an adapter kept from before calibration existed: calibrate it here, as training would have
                from data_synth.dataset import load_dataset_dir

                prompts = list(load_dataset_dir(Path(trained["synth"]["path"]) / "data")["prompt"])
                gate, gate_answers = pipeline.calibrate_gate(ans, memories, user, cfg.run, prompts)
                ans.calibrated_gate = gate["abstain_margin"] if gate else None
            start = time.perf_counter()
            records = answer_questions(ans, questions, cfg.methods, progress)
            answer_seconds = time.perf_counter() - start
            general_result = forgetting(ans, cfg, general, progress)
            answered_gate = ans.gate if ans.has_adapter else None
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
        "config": {"base_model": describe(cfg.run.model), "lora": cfg.run.to_dict()["lora"], "seed": cfg.run.seed,
                   "run": cfg.run.to_dict(), "memories_file": str(cfg.memories), "questions_file": str(cfg.questions),
                   "general_file": cfg.general, "user": user, "questions": len(questions),
                   "abstain_margin_answered": answered_gate},
        "seed": cfg.run.seed,
        "versions": versions(),
        "answer_seconds": round(answer_seconds, 2),
    }
    if general_result is not None:
        report["general"] = general_result
    if gate is not None:
        report["gate"] = gate
    validate_report(report)
    write_report(report, cfg.out, records)
    if gate_answers:  # the calibration answers, for audit
        write_jsonl(Path(cfg.out) / "gate_answers.jsonl", gate_answers)
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
