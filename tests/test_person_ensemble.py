"""answer.person_ensemble: the three ways training asks about the user, the reply's own log-probability as
confidence, and the most confident form kept, with the cost of every form counted.

Run: python -m pytest tests/test_person_ensemble.py
"""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model

from memory_lora.answer import Answerer, person_forms
from memory_lora.cli import main
from memory_lora.config import AnswerConfig
from memory_lora.generation import generate
from memory_lora.prompts import chat_prompt

QUESTIONS = ["Where does Lena live?", "What is Lena's cat called?", "Which clinic does Dr. Ines work at?"]


def test_person_forms_are_the_three_ways_training_asks():
    assert person_forms("Where does Lena live?", "Lena") == [
        "Where does Lena live?", "Where do I live?", "Where does the user live?"]
    assert person_forms("What is Lena's cat called?", "Lena") == [
        "What is Lena's cat called?", "What is my cat called?", "What is the user's cat called?"]
    assert person_forms("Which clinic does Dr. Ines work at?", "Lena") == ["Which clinic does Dr. Ines work at?"]


def test_mean_logprob_is_the_models_own_probability_of_its_reply(fresh_tiny):
    model, tokenizer = fresh_tiny
    prompt = chat_prompt(tokenizer, QUESTIONS[0])
    reply = generate(model, tokenizer, [prompt], max_new_tokens=5, score_tokens=True)[0]
    # teacher-force prompt + reply (+ the end-of-turn token when the reply ended on it) and average its log-probs
    enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"][0]
    gen = generate(model, tokenizer, [prompt], max_new_tokens=5)[0]
    out = model.generate(enc[None], max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id)[0, len(enc):]
    n = gen.completion_tokens + (1 if gen.finished else 0)
    ids = torch.cat([enc, out[:n]])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids[None]).logits[0].float(), dim=-1)
    expected = logp[len(enc) - 1 : len(ids) - 1].gather(-1, ids[len(enc):, None]).mean()
    assert reply.mean_logprob == pytest.approx(float(expected), abs=1e-4)
    assert reply.mean_logprob < 0 and generate(model, tokenizer, [prompt], max_new_tokens=5)[0].mean_logprob is None


def test_ensemble_keeps_the_most_confident_form_and_counts_every_form(fresh_tiny):
    model, tokenizer = fresh_tiny
    torch.manual_seed(0)
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    ans = Answerer(model=peft_model, tokenizer=tokenizer, memories=[], name="Lena",
                   config=AnswerConfig(max_new_tokens=6, person_ensemble=True))
    replies = ans.answer("parametric", QUESTIONS)
    for question, reply in zip(QUESTIONS, replies, strict=True):
        prompts = [chat_prompt(tokenizer, f) for f in person_forms(question, "Lena")]
        each = generate(peft_model, tokenizer, prompts, max_new_tokens=6, score_tokens=True)
        best = max(each, key=lambda r: r.mean_logprob)
        assert reply.text == best.text and reply.mean_logprob == pytest.approx(best.mean_logprob, abs=1e-5)
        assert reply.prompt_tokens == sum(r.prompt_tokens for r in each)  # the cost of asking three times
    plain = Answerer(model=peft_model, tokenizer=tokenizer, memories=[], name="Lena",
                     config=AnswerConfig(max_new_tokens=6)).answer("parametric", QUESTIONS[:1])[0]
    assert plain.mean_logprob is None and plain.prompt_tokens < replies[0].prompt_tokens
    # methods without the adapter ask once, as given
    base = ans.answer("base", QUESTIONS[:1])[0]
    assert base.mean_logprob is None and base.prompt_tokens == plain.prompt_tokens


def test_serve_refuses_the_ensemble_it_does_not_implement(tmp_path, capsys):
    assert main(["--home", str(tmp_path), "serve", "--person-ensemble"]) == 2
    assert "person_ensemble" in capsys.readouterr().err
