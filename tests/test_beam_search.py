"""answer.num_beams: beam search returns a reply at least as probable as the greedy one, reports the same
first-token probability the abstention gate watches, and scores the reply by its own mean log-probability.

Run: python -m pytest tests/test_beam_search.py
"""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from memory_lora.answer import Answerer
from memory_lora.cli import main
from memory_lora.config import AnswerConfig
from memory_lora.generation import generate
from memory_lora.prompts import chat_prompt

QUESTIONS = ["Where does Lena live?", "What is Lena's cat called?", "Which clinic does Dr. Ines work at?"]


def _mean_logprob(model, tokenizer, prompt: str, reply) -> float:
    """Teacher-forced mean log-probability of a reply's tokens (the end-of-turn token too when it ended there)."""
    enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"][0]
    ids = tokenizer(reply.text, add_special_tokens=False)["input_ids"] if reply.text else []
    ids = torch.tensor(ids + ([tokenizer.eos_token_id] if reply.finished else []), dtype=torch.long)
    full = torch.cat([enc, ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(full[None]).logits[0].float(), dim=-1)
    return float(logp[len(enc) - 1 : len(full) - 1].gather(-1, full[len(enc):, None]).mean())


def test_beam_score_is_the_replys_own_mean_log_probability(fresh_tiny):
    model, tokenizer = fresh_tiny
    for question in QUESTIONS:
        prompt = chat_prompt(tokenizer, question)
        beam = generate(model, tokenizer, [prompt], max_new_tokens=6, num_beams=4, score_tokens=True)[0]
        assert beam.mean_logprob == pytest.approx(_mean_logprob(model, tokenizer, prompt, beam), abs=1e-3)


def test_beam_reply_is_at_least_as_probable_as_the_greedy_one(fresh_tiny):
    # an untrained model from the same config: flat, noisy distributions where greedy choices are myopic
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(fresh_tiny[0].config).eval()
    tokenizer = fresh_tiny[1]
    differ = 0
    for question in QUESTIONS:
        prompt = chat_prompt(tokenizer, question)
        greedy = generate(model, tokenizer, [prompt], max_new_tokens=6, score_tokens=True)[0]
        beam = generate(model, tokenizer, [prompt], max_new_tokens=6, num_beams=4, score_tokens=True)[0]
        assert beam.mean_logprob >= greedy.mean_logprob - 1e-5
        differ += beam.text != greedy.text
    assert differ >= 1


def test_beam_search_reports_the_same_first_token_probability(fresh_tiny):
    model, tokenizer = fresh_tiny
    prompt = chat_prompt(tokenizer, QUESTIONS[0])
    enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        probs = torch.softmax(model(**enc).logits[0, -1].float(), dim=-1)
    watched = [int(probs.argmax()), int(probs.argmin())]
    greedy = generate(model, tokenizer, [prompt], max_new_tokens=3, first_token_ids=watched)[0]
    beam = generate(model, tokenizer, [prompt], max_new_tokens=3, first_token_ids=watched, num_beams=3)[0]
    assert beam.first_token_p == pytest.approx(greedy.first_token_p, rel=1e-4)
    assert beam.first_token_p == pytest.approx(float(probs[watched].sum()), rel=1e-4)


def test_answerer_decodes_with_the_configured_beams(fresh_tiny):
    model, tokenizer = fresh_tiny
    torch.manual_seed(0)
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    ans = Answerer(model=peft_model, tokenizer=tokenizer, memories=[], name="Lena",
                   config=AnswerConfig(max_new_tokens=6, num_beams=4))
    replies = ans.answer("parametric", QUESTIONS)
    prompts = [chat_prompt(tokenizer, q) for q in QUESTIONS]
    expected = generate(peft_model, tokenizer, prompts, max_new_tokens=6, num_beams=4)
    assert [r.text for r in replies] == [r.text for r in expected]
    assert all(r.first_token_p is not None for r in replies)  # eval still records what the gate would see


def test_bad_beam_count_is_refused():
    with pytest.raises(ValueError, match="num_beams"):
        AnswerConfig(num_beams=0)


def test_serve_refuses_beams(tmp_path, capsys):
    assert main(["--home", str(tmp_path), "serve", "--num-beams", "4"]) == 2
    assert "num_beams" in capsys.readouterr().err
