"""answer.num_beams: the Answerer decodes with the configured beams, the base method with the adapter off, and rows
of one beam-search batch may each name their own adapter.

Run: python -m pytest tests/test_beam_search.py
"""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model

from memory_lora.answer import Answerer
from memory_lora.config import AnswerConfig
from memory_lora.generation import BASE_ADAPTER, decode, encode_prompts, generate
from memory_lora.prompts import chat_prompt

QUESTIONS = ["Where does Lena live?", "What is Lena's cat called?", "Which clinic does Dr. Ines work at?"]


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
    # the base method goes through the same pipeline with the adapter off for its rows
    with peft_model.disable_adapter():
        base = generate(peft_model, tokenizer, prompts, max_new_tokens=6, num_beams=4)
    assert [r.text for r in ans.answer("base", QUESTIONS)] == [r.text for r in base]


def test_a_mixed_batch_answers_each_row_as_it_would_alone(fresh_tiny):
    """Rows of one beam-search batch naming different adapters (or none) get what each gets decoded on its own."""
    model, tokenizer = fresh_tiny
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False)
    peft_model = get_peft_model(model, lora, adapter_name="a")
    peft_model.add_adapter("b", lora)
    for seed, name in enumerate(("a", "b")):  # large random updates, so each adapter answers its own way
        torch.manual_seed(seed)
        with torch.no_grad():
            for key, p in peft_model.named_parameters():
                if f".{name}." in key:
                    p.normal_(0, 0.6)
    peft_model.eval()
    ids = encode_prompts(tokenizer, [chat_prompt(tokenizer, q) for q in QUESTIONS])
    names = ["a", "b", BASE_ADAPTER]
    together = decode(peft_model, tokenizer, ids, 6, num_beams=3, adapter_names=names)
    alone = [decode(peft_model, tokenizer, [p], 6, num_beams=3, adapter_names=[n])[0] for p, n in zip(ids, names,
                                                                                                      strict=True)]
    assert [r.text for r in together] == [r.text for r in alone]
    assert len({r.text for r in decode(peft_model, tokenizer, ids[:1] * 3, 6, num_beams=3,
                                       adapter_names=names)}) > 1  # the adapters really differ


def test_bad_beam_count_is_refused():
    with pytest.raises(ValueError, match="num_beams"):
        AnswerConfig(num_beams=0)
