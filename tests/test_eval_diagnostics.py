"""Eval diagnostics: questions found word for word in the training data.

Run: python -m pytest tests/test_eval_diagnostics.py
"""

from __future__ import annotations

import datasets

from data_synth.dataset import save_dataset
from eval.run import training_overlap
from memory_lora.records import Question


def test_verbatim_questions_are_found_case_and_punctuation_aside(tmp_path):
    rows = {"prompt": ["What is Lena's cat called?", "Where does Lena live?"], "response": ["Pixel.", "Oslo."]}
    save_dataset(datasets.Dataset.from_dict(rows), tmp_path / "data")
    questions = [Question("q1", "what is lena's cat called", ["Pixel"]),
                 Question("q2", "What do they call Lena's cat?", ["Pixel"]),
                 Question("q3", "Where does Lena live?", ["Oslo"])]
    assert training_overlap(str(tmp_path), questions) == ["q1", "q3"]
    assert training_overlap(None, questions) == []
