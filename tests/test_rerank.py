"""n-best reranking and "I don't know" as a scored reply (memory_lora.rerank): the reranker picks a beam by its
similarity to the question only among beams nearly as probable as the best, a refusal is never traded away, and the
margin gate refuses exactly when the reply is not clearly more probable than a trained refusal.

Run: python -m pytest tests/test_rerank.py
"""

from __future__ import annotations

import json

import pytest
import torch
from peft import LoraConfig, get_peft_model

from eval.gate_sweep import main as sweep_main
from eval.gate_sweep import replay, sweep
from eval.rerank_replay import agreement, choose, parse_rule, replay_reply, replay_runs, token_f1
from eval.rerank_replay import main as replay_main
from memory_lora.answer import Answerer
from memory_lora.cli import main
from memory_lora.config import AnswerConfig
from memory_lora.generation import generate, reply_logprobs
from memory_lora.prompts import ABSTAIN_REPLY, chat_prompt
from memory_lora.rerank import ABSTAIN_REPLIES, pick
from tests.conftest import write_jsonl

QUESTION = "Where does Lena live?"


def _direct_mean(model, tokenizer, prompt: str, reply: str) -> float:
    """Mean log-probability of reply + end-of-turn, from one unpadded forward pass."""
    head = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    tail = tokenizer(reply, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = torch.tensor([head + tail])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
    return float(logp[len(head) - 1 : -1].gather(-1, torch.tensor(tail)[:, None]).mean())


class _Embedder:
    """Stands in for the sentence embedder: `liked` points the question's way, everything else orthogonal."""

    def __init__(self, liked: str):
        self.liked = liked

    def encode(self, texts, **_):
        out = torch.zeros(len(texts), 2)
        out[0, 0] = 1.0  # the question
        for i, t in enumerate(texts[1:], start=1):
            out[i, 0 if t == self.liked else 1] = 1.0
        return out


def _peft(fresh_tiny):
    model, tokenizer = fresh_tiny
    torch.manual_seed(0)
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    return get_peft_model(model, lora), tokenizer


def test_pick_keeps_the_best_unless_a_near_one_fits_the_question_better():
    cands = ["Ravi works at Kahikatea.", "Ravi worked at Brackenhurst.", "Ravi lives in Hamilton."]
    means, sims = [-0.10, -0.12, -0.60], [0.2, 0.6, 0.9]
    assert pick(cands, means, sims, weight=0.0, margin=0.3) == 0  # off
    assert pick(cands, means, sims, weight=0.5, margin=0.3) == 1  # the third is too improbable to compete
    assert pick(cands, means, sims, weight=2.0, margin=1.0) == 2
    assert pick(cands, means, sims, weight=0.5, margin=0.01) == 0
    assert pick(cands, means, [0.9, 0.2, 0.1], weight=0.5, margin=1.0) == 0


def test_pick_never_trades_a_refusal_in_or_out():
    assert pick([ABSTAIN_REPLY, "Lena lives in Oslo."], [-0.1, -0.1], [0.0, 1.0], weight=1.0, margin=1.0) == 0
    assert pick(["Lena lives in Bergen.", ABSTAIN_REPLY], [-0.1, -0.1], [0.0, 1.0], weight=1.0, margin=1.0) == 0


def test_reply_logprobs_scores_each_reply_as_one_unpadded_pass_does(fresh_tiny):
    model, tokenizer = fresh_tiny
    prompt = chat_prompt(tokenizer, QUESTION)
    replies = ["Oslo.", "Lena lives in a small flat in Oslo with her cat.", *ABSTAIN_REPLIES]
    batched = reply_logprobs(model, tokenizer, prompt, replies)
    assert batched == pytest.approx([_direct_mean(model, tokenizer, prompt, r) for r in replies], abs=1e-4)
    assert len(set(round(m, 4) for m in batched)) > 1


def test_generate_returns_the_n_best_with_the_top_beam_first(fresh_tiny):
    model, tokenizer = fresh_tiny
    prompt = chat_prompt(tokenizer, QUESTION)
    top = generate(model, tokenizer, [prompt], max_new_tokens=6, num_beams=4)[0]
    many = generate(model, tokenizer, [prompt, prompt], max_new_tokens=6, num_beams=4, num_return=4, batch_size=2)
    for reply in many:
        assert reply.text == top.text and reply.candidates[0] == top.text
        assert len(reply.candidates) == 4 and len(set(reply.candidates)) > 1
    with pytest.raises(ValueError, match="num_return"):
        generate(model, tokenizer, [prompt], num_beams=2, num_return=3)


def test_answerer_gives_the_beam_that_fits_the_question_when_it_is_near_enough(fresh_tiny):
    peft_model, tokenizer = _peft(fresh_tiny)
    prompt = chat_prompt(tokenizer, QUESTION)
    beams = generate(peft_model, tokenizer, [prompt], max_new_tokens=6, num_beams=4, num_return=4)[0].candidates
    means = reply_logprobs(peft_model, tokenizer, prompt, beams)
    liked = next(b for b in beams[1:] if b != beams[0])
    for margin, expected in ((50.0, liked), (0.0, beams[0])):
        config = AnswerConfig(max_new_tokens=6, num_beams=4, rerank_weight=1.0, rerank_margin=margin)
        ans = Answerer(model=peft_model, tokenizer=tokenizer, memories=[], name="Lena", config=config)
        ans._embedder = _Embedder(liked)
        reply = ans.answer("parametric", [QUESTION])[0]
        assert reply.text == expected
        assert reply.top_text == (beams[0] if expected != beams[0] else None)
        assert reply.idk_margin == pytest.approx(
            means[0] - max(reply_logprobs(peft_model, tokenizer, prompt, list(ABSTAIN_REPLIES))), abs=1e-4)


def test_margin_gate_refuses_only_a_reply_not_clearly_more_probable_than_a_refusal(fresh_tiny):
    peft_model, tokenizer = _peft(fresh_tiny)
    replies = {}
    for gate in (-100.0, 100.0, None):
        config = AnswerConfig(max_new_tokens=6, abstain_margin=gate)
        ans = Answerer(model=peft_model, tokenizer=tokenizer, memories=[], name="Lena", config=config)
        replies[gate] = ans.answer("parametric", [QUESTION])[0]
    plain = replies[None]
    assert plain.idk_margin is None and plain.text != ABSTAIN_REPLY
    assert replies[-100.0].text == plain.text and replies[-100.0].ungated_text is None
    assert replies[100.0].text == ABSTAIN_REPLY and replies[100.0].ungated_text == plain.text
    assert replies[100.0].idk_margin == pytest.approx(replies[-100.0].idk_margin)
    # the base model answering rag is left alone by both
    base = Answerer(model=peft_model, tokenizer=tokenizer, memories=[], name="Lena",
                    config=AnswerConfig(max_new_tokens=6, abstain_margin=100.0))
    assert base._adapter("base") is not None and base.answer("base", [QUESTION])[0].idk_margin is None


def test_rerank_config_is_validated():
    with pytest.raises(ValueError, match="num_beams"):
        AnswerConfig(rerank_weight=0.5)
    with pytest.raises(ValueError, match="rerank_weight"):
        AnswerConfig(num_beams=4, rerank_weight=-1.0)
    assert AnswerConfig(num_beams=4, rerank_weight=0.5, abstain_margin=0.1).rerank_margin == 0.3
    with pytest.raises(ValueError, match="save_n_best"):
        AnswerConfig(num_beams=4, save_n_best=True)


def test_save_n_best_flag_reaches_the_answer_config(tmp_path):
    from memory_lora.cli import _run_config, build_parser

    args = build_parser().parse_args(["--home", str(tmp_path), "eval", "--memories", "m.jsonl", "--questions",
                                      "q.jsonl", "--out", "o", "--num-beams", "4", "--rerank-weight", "0.5",
                                      "--save-n-best"])
    assert _run_config(args).answer.save_n_best
    args = build_parser().parse_args(["--home", str(tmp_path), "eval", "--memories", "m.jsonl", "--questions",
                                      "q.jsonl", "--out", "o"])
    assert not _run_config(args).answer.save_n_best


def test_serve_refuses_the_margin_gate(tmp_path, capsys):
    assert main(["--home", str(tmp_path), "serve", "--abstain-margin", "0.1"]) == 2
    assert "abstain_margin" in capsys.readouterr().err


def test_gate_sweep_replays_the_margin(tmp_path):
    base = {"method": "parametric", "abstain_p": 0.1, "ungated_reply": None, "top_reply": None}
    records = [
        {**base, "type": "single-hop", "reply": "Lena lives in Oslo.", "answers": ["Oslo"], "idk_margin": 0.3},
        {**base, "type": "abstention", "reply": "Lena's dog is Rex.", "answers": ["unknown"], "idk_margin": 0.08},
        {**base, "type": "abstention", "reply": ABSTAIN_REPLY, "answers": ["unknown"], "idk_margin": 0.02,
         "ungated_reply": "Lena's shoe size is 38."},
    ]
    assert replay(records[2], -1.0, "idk-margin") == "Lena's shoe size is 38."
    points = {p["threshold"]: p["by_type"] for p in sweep(records, (-1.0, 0.1, 0.5), signal="idk-margin")["thresholds"]}
    assert points[-1.0] == {"abstention": 0.0, "single-hop": 1.0}
    assert points[0.1] == {"abstention": 1.0, "single-hop": 1.0}
    assert points[0.5] == {"abstention": 1.0, "single-hop": 0.0}
    write_jsonl(tmp_path / "answers.jsonl", records)
    assert sweep_main([str(tmp_path), "--signal", "idk-margin", "--thresholds=-1,0.1"]) == 0
    assert (tmp_path / "gate_sweep_idk_margin.json").exists() and (tmp_path / "gate_sweep_idk_margin.png").exists()


def test_save_n_best_keeps_every_beam_with_the_scores_the_reranker_weighed(fresh_tiny):
    peft_model, tokenizer = _peft(fresh_tiny)
    prompt = chat_prompt(tokenizer, QUESTION)
    beams = generate(peft_model, tokenizer, [prompt], max_new_tokens=6, num_beams=4, num_return=4)[0].candidates
    liked = next(b for b in beams[1:] if b != beams[0])
    replies = {}
    for save in (False, True):
        config = AnswerConfig(max_new_tokens=6, num_beams=4, rerank_weight=1.0, rerank_margin=50.0,
                              abstain_margin=-100.0, save_n_best=save)
        ans = Answerer(model=peft_model, tokenizer=tokenizer, memories=[], name="Lena", config=config)
        ans._embedder = _Embedder(liked)
        replies[save] = ans.answer("parametric", [QUESTION])[0]
    assert replies[False].n_best is None
    kept = replies[True]
    assert kept.text == replies[False].text == liked  # saving the scores changes no reply
    assert [b["text"] for b in kept.n_best] == beams
    means = reply_logprobs(peft_model, tokenizer, prompt, beams)
    assert [b["mean"] for b in kept.n_best] == pytest.approx(means, abs=1e-4)
    assert [b["sim"] for b in kept.n_best] == [1.0 if b == liked else 0.0 for b in beams]
    recite_prompt = chat_prompt(tokenizer, "What do you remember about Lena?")
    assert [b["recite"] for b in kept.n_best] == pytest.approx(
        reply_logprobs(peft_model, tokenizer, recite_prompt, beams), abs=1e-4)
    with peft_model.disable_adapter():
        base = reply_logprobs(peft_model, tokenizer, prompt, beams)
    assert [b["base"] for b in kept.n_best] == pytest.approx(base, abs=1e-4)
    assert max(abs(a - b) for a, b in zip(base, means, strict=True)) > 1e-3  # the adapter is really switched off
    idk = max(reply_logprobs(peft_model, tokenizer, prompt, list(ABSTAIN_REPLIES)))
    assert kept.n_best[0]["idk_mean"] == pytest.approx(idk, abs=1e-4)
    assert kept.idk_margin == pytest.approx(means[0] - idk, abs=1e-4)


def _beam(text, mean, sim=0.0, recite=-1.0, base=-1.0):
    return {"text": text, "mean": mean, "idk_mean": -2.0, "sim": sim, "recite": recite, "base": base}


def test_rerank_replay_rules_pick_as_scored(tmp_path, capsys):
    n_best = [_beam("Lena lives at 021 555 0938.", -0.10, sim=0.9, recite=-3.0, base=-1.0),
              _beam("Lena lives in Oslo.", -0.20, sim=0.5, recite=-0.5, base=-2.0),
              _beam("Lena's cat is Rex.", -0.90, sim=0.1, recite=-0.1, base=-3.0)]
    assert choose(n_best, parse_rule("top")) == 0
    assert choose(n_best, parse_rule("sim=0.5")) == 0  # -0.10 + 0.45 beats -0.20 + 0.25
    assert choose(n_best, parse_rule("sim=0.5,recite=0.5")) == 1  # the echo is not something it recites
    assert choose(n_best, parse_rule("pmi=0.5")) == 1  # -0.2 + 0.9 against -0.1 + 0.45
    assert choose(n_best, parse_rule("recite=5"), margin=1.0) == 2  # only within the margin
    assert choose([_beam(ABSTAIN_REPLY, -0.1), *n_best], parse_rule("sim=5")) == 0
    assert choose(n_best, parse_rule("oracle"), answers=["Oslo"]) == 1
    assert choose(n_best, parse_rule("oracle"), answers=["Bergen"]) == 0  # no right beam: the top one
    with pytest.raises(ValueError, match="bad rule part"):
        parse_rule("cosine=1")
    record = {"method": "parametric", "type": "single-hop", "answers": ["Oslo"], "idk_margin": 0.05,
              "reply": ABSTAIN_REPLY, "n_best": n_best}
    assert replay_reply(record, parse_rule("pmi=0.5"), gate=None) == "Lena lives in Oslo."
    assert replay_reply(record, parse_rule("pmi=0.5"), gate=0.1) == ABSTAIN_REPLY
    run = tmp_path / "run"
    run.mkdir()
    write_jsonl(run / "answers.jsonl", [record, {**record, "method": "rag", "n_best": None}])
    table = replay_runs([run], ["top", "pmi=0.5"], gate=None)
    assert table == {"top": {"single-hop": [0, 1], "all": [0, 1]}, "pmi=0.5": {"single-hop": [1, 1], "all": [1, 1]}}
    assert replay_main([str(run), "--rule", "pmi=0.5", "--gate", "-2", "--out", str(tmp_path / "t.json")]) == 0
    assert "| pmi=0.5 | 1/1 | 1/1 |" in capsys.readouterr().out
    assert json.loads((tmp_path / "t.json").read_text())["table"]["pmi=0.5"]["all"] == [1, 1]
    bare = tmp_path / "bare"
    bare.mkdir()
    write_jsonl(bare / "answers.jsonl", [{**record, "n_best": None}])
    assert replay_main([str(bare)]) == 2
    assert "--save-n-best" in capsys.readouterr().out


def test_rerank_replay_minimum_bayes_risk_prefers_the_beam_the_others_agree_with():
    n_best = [_beam("Lena lives in Bergen.", -0.10), _beam("Lena lives in Oslo.", -0.12),
              _beam("Lena lives in Oslo, Norway.", -0.15), _beam("Lena's cat is Rex.", -0.20)]
    assert token_f1("Lena lives in Oslo.", "lena lives in oslo") == 1.0
    assert token_f1("Lena lives in Oslo.", "I don't know") == 0.0
    support = agreement([0, 1, 2, 3], n_best, lambda i, j: token_f1(n_best[i]["text"], n_best[j]["text"]))
    assert support[1] > support[0] > support[3]
    assert agreement([0], n_best, lambda i, j: 1.0) == {0: 0.0}
    assert choose(n_best, parse_rule("top")) == 0
    assert choose(n_best, parse_rule("mbr_f1=1")) == 1
    assert choose(n_best, parse_rule("mbr_f1=1"), margin=0.01) == 0  # Oslo is not near enough to compete
    same = [[1.0 if i == j or {i, j} == {1, 2} else 0.0 for j in range(4)] for i in range(4)]
    assert choose(n_best, parse_rule("mbr_cos=1"), cosines=same) == 1
