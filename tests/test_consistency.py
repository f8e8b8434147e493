"""The self-consistency gate: replies agree by their content words, samples are seeded and leave the global random
state alone, a reply too few samples agree with becomes "I don't know", and a run's agreements replay in the sweep.

Run: python -m pytest tests/test_consistency.py
"""

from __future__ import annotations

import json

import pytest
import torch
from peft import LoraConfig, get_peft_model

from eval.gate_sweep import calibrate, replay, sweep
from eval.gate_sweep import main as gate_sweep_main
from memory_lora import answer as answer_module
from memory_lora.answer import Answerer
from memory_lora.cli import main
from memory_lora.config import AnswerConfig
from memory_lora.consistency import agreement, agrees
from memory_lora.generation import generate, sample
from memory_lora.prompts import ABSTAIN_REPLY, chat_prompt

QUESTIONS = ["Where does Lena live?", "What is Lena's cat called?"]


def test_replies_agree_when_they_recall_the_same_thing_in_other_words():
    long = "Ravi works as a sonographer at the Brackenhurst Imaging Centre."
    assert agrees("The Brackenhurst Imaging Centre.", long, "Ravi")
    assert agrees(long, "Ravi is a sonographer at Brackenhurst Imaging Centre.", "Ravi")
    # the same frame, another memory: the user's name and function words do not make them agree
    assert not agrees("Ravi's football club is The Quizzly Bears.", "Ravi's new place is 14 Kōwhai Terrace.", "Ravi")
    assert not agrees("Ravi's mobile is 07700 900417.", "Ravi's number is now 021 555 0938.", "Ravi")
    assert agrees("", "") and not agrees("", "Tromsø.")
    samples = [long, "The Brackenhurst Imaging Centre.", "Ravi lives in Hamilton.", "Kahikatea Imaging."]
    assert agreement("Brackenhurst Imaging Centre.", samples, "Ravi") == pytest.approx(0.5)
    assert agreement("anything", []) == 1.0


def test_samples_are_seeded_and_leave_the_global_random_state_alone(fresh_tiny):
    model, tokenizer = fresh_tiny
    prompt = chat_prompt(tokenizer, QUESTIONS[0])
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first, seconds = sample(model, tokenizer, prompt, 4, max_new_tokens=6, seed=7)
    assert torch.equal(torch.rand(3), expected_next)  # the draw did not consume the caller's random stream
    again, _ = sample(model, tokenizer, prompt, 4, max_new_tokens=6, seed=7)
    other, _ = sample(model, tokenizer, prompt, 4, max_new_tokens=6, seed=8)
    assert len(first) == 4 and first == again and seconds > 0
    assert other != first  # a random tiny model's samples differ between seeds


@pytest.fixture
def adapted(fresh_tiny):
    model, tokenizer = fresh_tiny
    torch.manual_seed(0)
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    return peft_model, tokenizer


def _answerer(adapted, **answer):
    model, tokenizer = adapted
    return Answerer(model=model, tokenizer=tokenizer, memories=[], name="Lena",
                    config=AnswerConfig(max_new_tokens=6, **answer))


def test_gate_replaces_a_reply_few_samples_agree_with_and_keeps_the_greedy_one(adapted, monkeypatch):
    greedy = _answerer(adapted).answer("parametric", QUESTIONS)
    assert all(r.agreement is None for r in greedy)  # off by default, nothing sampled

    def fake_sample(model, tokenizer, prompt, n, max_new_tokens, seed):
        # the first question is answered the same way every time, the second never
        same = next(g.text for q, g in zip(QUESTIONS, greedy, strict=True) if q in prompt)
        return ([same] * n if QUESTIONS[0] in prompt else [f"zebra {i}" for i in range(n)]), 0.5

    monkeypatch.setattr(answer_module, "sample", fake_sample)
    gated = _answerer(adapted, consistency_samples=4, consistency_threshold=0.5).answer("parametric", QUESTIONS)
    assert gated[0].text == greedy[0].text and gated[0].agreement == 1.0 and gated[0].ungated_text is None
    assert gated[1].text == ABSTAIN_REPLY and gated[1].ungated_text == greedy[1].text and gated[1].agreement == 0.0
    assert gated[1].latency_s >= 0.5  # the samples are part of the question's cost
    # methods that answer without the adapter are not gated
    assert _answerer(adapted, consistency_samples=4).answer("base", QUESTIONS[:1])[0].agreement is None


def test_gate_samples_the_adapter_for_real_and_is_reproducible(adapted):
    model, tokenizer = adapted
    on = _answerer(adapted, consistency_samples=3, consistency_threshold=0.0).answer("parametric", QUESTIONS)
    plain = generate(model, tokenizer, [chat_prompt(tokenizer, q) for q in QUESTIONS], max_new_tokens=6)
    assert [r.text for r in on] == [p.text for p in plain]  # threshold 0 records agreement, replaces nothing
    assert all(0.0 <= r.agreement <= 1.0 for r in on)
    again = _answerer(adapted, consistency_samples=3, consistency_threshold=0.0).answer("parametric", QUESTIONS)
    assert [r.agreement for r in again] == [r.agreement for r in on]


@pytest.mark.parametrize("bad", [{"consistency_samples": -1}, {"consistency_threshold": 1.5}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError, match="consistency"):
        AnswerConfig(**bad)


def test_serve_refuses_the_gate_it_does_not_implement(tmp_path, capsys):
    assert main(["--home", str(tmp_path), "serve", "--consistency-samples", "4"]) == 2
    assert "consistency_samples" in capsys.readouterr().err


def _rec(qtype, answers, reply, agree):
    return {"method": "parametric", "type": qtype, "answers": answers, "reply": reply, "ungated_reply": None,
            "abstain_p": 0.0, "agreement": agree}


def test_sweep_replays_the_agreement_gate_and_calibration_prefers_the_gentlest_threshold(tmp_path, capsys):
    records = [_rec("single-hop", ["Oslo"], "Lena lives in Oslo.", 1.0),
               _rec("single-hop", ["cat"], "Lena has a cat.", 0.25),
               _rec("abstention", ["unknown"], "Lena's blood type is A.", 0.125)]
    assert replay(records[2], 0.5, "agreement") == ABSTAIN_REPLY
    assert replay(records[0], 1.0, "agreement") == "Lena lives in Oslo."  # every sample agreed: never gated
    points = {p["threshold"]: p for p in sweep(records, (0.0, 0.2, 0.5), signal="agreement")["thresholds"]}
    assert points[0.0]["by_type"] == {"abstention": 0.0, "single-hop": 1.0}  # 0 is the gate off
    assert points[0.2]["by_type"] == {"abstention": 1.0, "single-hop": 1.0}
    assert points[0.5]["by_type"] == {"abstention": 1.0, "single-hop": 0.5}
    assert calibrate(records, (0.0, 0.2, 0.15, 0.5), signal="agreement")["threshold"] == 0.15  # tie: least gating
    with pytest.raises(ValueError, match="consistency-samples"):
        sweep([{**records[0], "agreement": None}], signal="agreement")
    (tmp_path / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert gate_sweep_main([str(tmp_path), "--signal", "agreement", "--calibrate-on", str(tmp_path)]) == 0
    written = json.loads((tmp_path / "gate_sweep_agreement.json").read_text())
    assert written["signal"] == "agreement" and written["calibrated"]["threshold"] == 0.25
    assert (tmp_path / "gate_sweep_agreement.png").stat().st_size > 0 and not (tmp_path / "gate_sweep.json").exists()
