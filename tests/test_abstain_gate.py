"""The abstention gate: the probability it watches is the model's own, and it turns a reply into "I don't know"
exactly when that probability reaches the threshold.

Run: python -m pytest tests/test_abstain_gate.py
"""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import LogitsProcessorList

from memory_lora.abstain import AbstainGate, abstain_token_ids
from memory_lora.answer import Answerer
from memory_lora.config import AnswerConfig
from memory_lora.generation import generate
from memory_lora.prompts import ABSTAIN_REPLY, chat_prompt

QUESTION = "Where does Lena live?"


def _peft(model):
    # Default LoRA init leaves outputs unchanged; the gate only needs a model that carries an adapter.
    return get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))


def test_first_token_p_is_the_softmax_of_the_first_step(fresh_tiny):
    model, tokenizer = fresh_tiny
    prompt = chat_prompt(tokenizer, QUESTION)
    enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        probs = torch.softmax(model(**enc).logits[0, -1].float(), dim=-1)
    watched = [int(probs.argmax()), int(probs.argmin())]
    reply = generate(model, tokenizer, [prompt], max_new_tokens=3, first_token_ids=watched)[0]
    assert reply.first_token_p == pytest.approx(float(probs[watched].sum()), rel=1e-4)
    # Unwatched generation reports nothing rather than a made-up number.
    assert generate(model, tokenizer, [prompt], max_new_tokens=3)[0].first_token_p is None


def test_gate_abstains_exactly_at_the_threshold(fresh_tiny):
    model, tokenizer = fresh_tiny
    ans = Answerer(model=_peft(model), tokenizer=tokenizer, memories=[], name="Lena",
                   config=AnswerConfig(max_new_tokens=6))
    plain = ans.answer("parametric", [QUESTION])[0]
    p = plain.first_token_p
    assert 0.0 < p < 1.0 and plain.ungated_text is None
    assert ans.abstain_token_ids() == tokenizer.encode("I", add_special_tokens=False)[:1]

    ans.config = AnswerConfig(max_new_tokens=6, abstain_threshold=p / 2)
    gated = ans.answer("parametric", [QUESTION])[0]
    assert gated.text == ABSTAIN_REPLY and gated.ungated_text == plain.text

    ans.config = AnswerConfig(max_new_tokens=6, abstain_threshold=min(0.999, p * 2))
    kept = ans.answer("parametric", [QUESTION])[0]
    assert kept.text == plain.text and kept.ungated_text is None

    # Methods without the adapter are never gated and watch nothing.
    ans.config = AnswerConfig(max_new_tokens=6, abstain_threshold=p / 2)
    base = ans.answer("base", [QUESTION])[0]
    assert base.first_token_p is None and base.text != ABSTAIN_REPLY


def test_gate_processor_forces_the_reply_on_chosen_rows_only(fresh_tiny):
    """The server's form of the gate: a forced row decodes to exactly ABSTAIN_REPLY, an exempt row is untouched."""
    model, tokenizer = fresh_tiny
    prompts = [chat_prompt(tokenizer, QUESTION), chat_prompt(tokenizer, "What is my secret?")]
    plain = generate(model, tokenizer, prompts, max_new_tokens=20, batch_size=2)
    tokenizer.padding_side = "left"
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    width = enc["input_ids"].shape[1]
    gate = AbstainGate(abstain_token_ids(tokenizer), tokenizer.eos_token_id, threshold=1e-12, prompt_len=width,
                       rows=[True, False])
    reply_len = len(abstain_token_ids(tokenizer))
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=reply_len + 5, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.eos_token_id, logits_processor=LogitsProcessorList([gate]))
    new = out[:, width:]
    forced = new[0].tolist()
    assert forced[reply_len] == tokenizer.eos_token_id
    assert tokenizer.decode(forced[:reply_len], skip_special_tokens=True) == ABSTAIN_REPLY
    exempt = tokenizer.decode(new[1], skip_special_tokens=True).strip()
    assert plain[1].text.startswith(exempt) or exempt.startswith(plain[1].text)
    assert gate.forced == [True, False] and 0.0 < gate.first_p[0] < 1.0


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 2.0])
def test_threshold_out_of_range_is_refused(bad):
    with pytest.raises(ValueError, match="abstain_threshold"):
        AnswerConfig(abstain_threshold=bad)
