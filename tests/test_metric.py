"""Tests for the memory_recall evaluate metric (SPEC section 3): normalization, accuracy, EM/F1, abstention."""

from __future__ import annotations

import os

# evaluate must never reach the hub: the module is loaded by local path only.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_EVALUATE_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402

from eval.metric import METRIC_DIR, load_metric  # noqa: E402
from eval.metric.memory_recall.memory_recall import (  # noqa: E402
    ABSTENTION_PHRASES,
    first_sentence,
    is_abstention,
    normalize,
    score_reply,
)


def test_normalize_folds_accents_case_articles_and_punctuation():
    assert normalize("Tromsø") == normalize("Tromso") == "tromso"
    assert normalize("  The Café, an   Apple!  ") == "cafe apple"
    assert normalize("Ærø Straße Łódź Đakovo") == "aero strasse lodz dakovo"
    assert normalize("Dana’s “home”") == "danas home"
    assert normalize("") == "" and normalize(None) == ""


def test_accent_folded_gold_is_contained():
    assert score_reply("She lives in Tromso.", ["Tromsø"])["accuracy"] == 1.0
    assert score_reply("She lives in Tromsø.", ["Tromso"])["accuracy"] == 1.0


def test_article_punctuation_and_case_do_not_matter():
    scores = score_reply("The Lighthouse, Electrician.", ["a lighthouse electrician"])
    assert scores == {"accuracy": 1.0, "exact_match": 1.0, "f1": 1.0}


def test_word_boundaries():
    assert score_reply("in 2010", ["10"])["accuracy"] == 0.0
    assert score_reply("It happened in 2010.", ["2010"])["accuracy"] == 1.0
    assert score_reply("Catherine", ["cat"])["accuracy"] == 0.0


def test_max_over_golds():
    scores = score_reply("Electrician.", ["lighthouse electrician", "electrician"])
    assert scores == {"accuracy": 1.0, "exact_match": 1.0, "f1": 1.0}


def test_em_and_f1_use_first_sentence_only():
    scores = score_reply("I think so. It is Fennimore.", ["Fennimore"])
    assert scores["accuracy"] == 1.0
    assert scores["exact_match"] == 0.0
    assert scores["f1"] == 0.0


def test_f1_is_squad_token_f1():
    # first sentence tokens: otto lives in wernigerode (4), gold: wernigerode (1); overlap 1
    scores = score_reply("Otto lives in Wernigerode. Since 1990.", ["Wernigerode"])
    assert scores["exact_match"] == 0.0
    assert scores["f1"] == pytest.approx(2 * (1 / 4) * 1 / (1 / 4 + 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Lee is 1.52 m tall. He lives in Oslo.", "Dr. Lee is 1.52 m tall."),
        ("Wow! Great.", "Wow!"),
        ("Really? Yes.", "Really?"),
        ("J. K. Rowling wrote it. Yes.", "J. K. Rowling wrote it."),
        ("... Tromsø. Since 2023.", "Tromsø."),
        ("No boundary here", "No boundary here"),
        ("Pets, e.g. cats. Dogs too.", "Pets, e.g. cats."),
    ],
)
def test_first_sentence(text, expected):
    assert first_sentence(text) == expected


def test_decimal_answer_exact_match():
    assert score_reply("1.52 metres.", ["1.52 metres"])["exact_match"] == 1.0


@pytest.mark.parametrize(
    "reply",
    [
        "I don't know.",
        "I do not know that.",
        "I’m not sure.",
        "There is no information about that.",
        "Unknown",
        "That was never mentioned.",
        "I can't answer that.",
    ],
)
def test_abstention_right(reply):
    assert is_abstention(reply)
    assert score_reply(reply, ["unknown"]) == {"accuracy": 1.0, "exact_match": 1.0, "f1": 1.0}


@pytest.mark.parametrize("reply", ["Dana lives in Oslo.", "Knowledge is power.", "", "I know: Oslo."])
def test_abstention_wrong(reply):
    assert score_reply(reply, ["unknown"]) == {"accuracy": 0.0, "exact_match": 0.0, "f1": 0.0}
    assert score_reply(reply, ["Unknown."]) == {"accuracy": 0.0, "exact_match": 0.0, "f1": 0.0}


def test_abstention_phrases_are_normalizable():
    assert all(normalize(p) for p in ABSTENTION_PHRASES)
    assert "i don't know" in ABSTENTION_PHRASES


def test_empty_golds_score_zero():
    assert score_reply("anything", []) == {"accuracy": 0.0, "exact_match": 0.0, "f1": 0.0}
    assert score_reply("the", ["the"]) == {"accuracy": 0.0, "exact_match": 0.0, "f1": 0.0}


def test_evaluate_load_by_path_matches_score_reply():
    predictions = [
        "She lives in Tromso.",
        "in 2010",
        "I think so. It is Fennimore.",
        "I don't know.",
        "Dana lives in Oslo.",
        "Otto lives in Wernigerode. Since 1990.",
    ]
    references = [["Tromsø"], ["10"], ["Fennimore"], ["unknown"], ["unknown"], ["Wernigerode", "Harz"]]
    metric = load_metric(keep_in_memory=True)
    assert METRIC_DIR.name == "memory_recall" and (METRIC_DIR / "memory_recall.py").is_file()
    result = metric.compute(predictions=predictions, references=references)

    per_item = [score_reply(p, r) for p, r in zip(predictions, references, strict=True)]
    assert result["n"] == len(predictions)
    for key in ("accuracy", "exact_match", "f1"):
        assert result[key] == pytest.approx(sum(s[key] for s in per_item) / len(per_item))
        assert 0.0 <= result[key] <= 1.0
    assert result["accuracy"] == pytest.approx(4 / 6)


def test_evaluate_add_batch_path():
    metric = load_metric(keep_in_memory=True)
    metric.add_batch(predictions=["Tromso."], references=[["Tromsø"]])
    metric.add(prediction="No idea.", reference=["unknown"])
    assert metric.compute() == {"accuracy": 1.0, "exact_match": 1.0, "f1": 1.0, "n": 2}
