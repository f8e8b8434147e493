"""n-best reranking and "I don't know" as a scored reply (memory_lora.rerank): the reranker picks a beam by its
similarity to the question only among beams nearly as probable as the best, a refusal is never traded away, and the
margin gate refuses exactly when the reply is not clearly more probable than a trained refusal.

Run: python -m pytest tests/test_rerank.py
"""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model

from memory_lora.answer import Answerer
from memory_lora.config import AnswerConfig
from memory_lora.generation import decode, encode_prompts, reply_logprobs
from memory_lora.prompts import chat_prompt
from memory_lora.rerank import pick
from memory_lora.text import ABSTAIN_REPLY, REFUSALS

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
    replies = ["Oslo.", "Lena lives in a small flat in Oslo with her cat.", *REFUSALS]
    batched = reply_logprobs(model, tokenizer, encode_prompts(tokenizer, [prompt])[0], replies)
    assert batched == pytest.approx([_direct_mean(model, tokenizer, prompt, r) for r in replies], abs=1e-4)
    assert len(set(round(m, 4) for m in batched)) > 1


def test_decode_returns_the_n_best_with_the_top_beam_first(fresh_tiny):
    model, tokenizer = fresh_tiny
    ids = encode_prompts(tokenizer, [chat_prompt(tokenizer, QUESTION)])
    top = decode(model, tokenizer, ids, max_new_tokens=6, num_beams=4)[0]
    many = decode(model, tokenizer, ids * 2, max_new_tokens=6, num_beams=4, num_return=4)
    for reply in many:
        assert reply.text == top.text and reply.candidates[0] == top.text
        assert len(reply.candidates) == 4 and len(set(reply.candidates)) > 1
    with pytest.raises(ValueError, match="num_return"):
        decode(model, tokenizer, ids, 6, num_beams=2, num_return=3)


@pytest.mark.parametrize("num_beams", [1, 3])
def test_decoding_scores_a_finished_reply_as_teacher_forcing_does(fresh_tiny, num_beams):
    model, tokenizer = fresh_tiny
    ids = encode_prompts(tokenizer, [chat_prompt(tokenizer, q) for q in (QUESTION, "Who is Otto?")])
    replies = decode(model, tokenizer, ids, 30, num_beams=num_beams, num_return=num_beams)
    finished = [(i, r) for i, r in zip(ids, replies, strict=True) if r.finished]
    assert finished  # the tiny chat model ends its replies well within the cap
    for prompt, reply in finished:
        assert reply.means[0] == pytest.approx(reply_logprobs(model, tokenizer, prompt, [reply.text])[0], abs=1e-4)


def test_answerer_gives_the_beam_that_fits_the_question_when_it_is_near_enough(fresh_tiny):
    peft_model, tokenizer = _peft(fresh_tiny)
    ids = encode_prompts(tokenizer, [chat_prompt(tokenizer, QUESTION)])
    beams = decode(peft_model, tokenizer, ids, max_new_tokens=6, num_beams=4, num_return=4)[0].candidates
    liked = next(b for b in beams[1:] if b != beams[0])
    for margin, expected in ((50.0, liked), (0.0, beams[0])):
        config = AnswerConfig(max_new_tokens=6, num_beams=4, rerank_weight=1.0, rerank_margin=margin)
        ans = Answerer(model=peft_model, tokenizer=tokenizer, memories=[], name="Lena", config=config)
        ans._embedder = _Embedder(liked)
        reply = ans.answer("parametric", [QUESTION])[0]
        assert reply.text == expected
        assert reply.top_text == (beams[0] if expected != beams[0] else None)
        assert reply.idk_margin is None  # no gate: the refusals are not scored
        scored = ans.answer("parametric", [QUESTION], gate=-float("inf"))[0]
        # the margin: the top beam's own score minus the best refusal's, whichever beam is given
        assert scored.text == expected and scored.idk_margin == pytest.approx(
            scored.means[0] - max(reply_logprobs(peft_model, tokenizer, ids[0], list(REFUSALS))), abs=1e-4)


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
    assert base.answer("base", [QUESTION])[0].idk_margin is None


def test_rerank_config_is_validated():
    with pytest.raises(ValueError, match="num_beams"):
        AnswerConfig(rerank_weight=0.5)
    with pytest.raises(ValueError, match="rerank_weight"):
        AnswerConfig(num_beams=4, rerank_weight=-1.0)
    assert AnswerConfig(num_beams=4, rerank_weight=0.5, abstain_margin=0.1).rerank_margin == 0.3
