"""Greedy reply plus K sampled replies (temperature 1) of an existing adapter, per question (self-consistency study).

Run: python docs/results/consistency_study_0995064/sample.py STORE USER K QUESTIONS... OUT.jsonl
(the offline study of docs/results section 19c; the product gate is `eval --consistency-samples K`).
"""
import json
import sys
import time

import torch

from memory_lora import pipeline
from memory_lora.config import RunConfig
from memory_lora.generation import generate

store, user, k, *qfiles, out = sys.argv[1:]
k = int(k)
cfg = RunConfig()
ans = pipeline.answerer(store, user, cfg)
tok, model = ans.tokenizer, ans.model
torch.manual_seed(0)
qs = [json.loads(line) for f in qfiles for line in open(f) if line.strip()]
t0 = time.time()
with open(out, "w") as fh:
    for i, q in enumerate(qs):
        prompt = ans.prompt("parametric", q["question"])
        greedy = generate(model, tok, [prompt], cfg.answer.max_new_tokens, 1, first_token_ids=ans.abstain_token_ids(),
                          score_tokens=True)[0]
        enc = tok([prompt], return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            seq = model.generate(**enc, max_new_tokens=cfg.answer.max_new_tokens, do_sample=True, temperature=1.0,
                                 top_k=0, top_p=1.0, num_return_sequences=k, pad_token_id=tok.pad_token_id,
                                 eos_token_id=tok.eos_token_id)
        samples = [tok.decode(s[enc["input_ids"].shape[1]:], skip_special_tokens=True).strip() for s in seq]
        fh.write(json.dumps({**q, "greedy": greedy.text, "logprob": greedy.mean_logprob,
                             "first_p": greedy.first_token_p, "samples": samples}) + "\n")
        fh.flush()
        if i % 10 == 0:
            print(i, len(qs), round(time.time() - t0), flush=True)
