"""memory_recall: a local Hugging Face `evaluate` metric for answers recalled from a user's memories.

Implements SPEC section 3 (scoring) for the question format of SPEC section 2:

- ``normalize``: the SQuAD normalization (lowercase, drop punctuation and the articles a/an/the, collapse
  whitespace) plus accent folding, so that "Tromsø" == "Tromso".
- ``accuracy``: 1 if any normalized gold answer occurs, on word boundaries, in the normalized reply.
- ``exact_match`` / ``f1``: the SQuAD definitions (token-level F1), max over gold answers, computed on the
  first sentence of the reply only, so that a long ramble does not get credit for a buried answer.
- Abstention questions (``answers == ["unknown"]``): a reply is correct, for all three scores, iff it contains
  one of ``ABSTENTION_PHRASES`` (compared after ``normalize``).

Load it by path; the hub copy of ``squad`` is unreachable offline, which is why this module exists::

    import evaluate
    metric = evaluate.load("eval/metric/memory_recall")
    metric.compute(predictions=["She lives in Tromso."], references=[["Tromsø"]])

This file is copied into the ``evaluate`` module cache on load, so it must stay self-contained: standard
library, ``datasets`` and ``evaluate`` only, no relative imports. It is also importable as a plain module
(``eval.metric.memory_recall.memory_recall``) and ``score_reply`` is the single implementation of the scores.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

import datasets
import evaluate

__all__ = [
    "ABSTENTION_PHRASES",
    "MemoryRecall",
    "first_sentence",
    "is_abstention",
    "is_abstention_gold",
    "normalize",
    "score_reply",
]

_CITATION = """\
@inproceedings{rajpurkar-etal-2016-squad,
    title = "{SQ}u{AD}: 100,000+ Questions for Machine Comprehension of Text",
    author = "Rajpurkar, Pranav and Zhang, Jian and Lopyrev, Konstantin and Liang, Percy",
    booktitle = "Proceedings of EMNLP 2016",
    year = "2016",
}
"""

_DESCRIPTION = """\
Recall of a user's memories: containment accuracy on the whole reply, plus SQuAD exact match and token F1 on
the first sentence of the reply, with accent folding (Tromsø == Tromso). Questions whose only gold answer is
"unknown" are abstention questions: a reply is correct iff it says it does not know (ABSTENTION_PHRASES).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of model replies (strings).
    references: list of lists of gold answer strings, one list per reply. ["unknown"] marks an abstention question.
Returns:
    accuracy: mean containment accuracy, in [0, 1].
    exact_match: mean SQuAD exact match on the first sentence, in [0, 1].
    f1: mean SQuAD token F1 on the first sentence, in [0, 1].
    n: number of scored items.
Examples:
    >>> metric = evaluate.load("eval/metric/memory_recall")
    >>> metric.compute(predictions=["Tromso."], references=[["Tromsø"]])
    {'accuracy': 1.0, 'exact_match': 1.0, 'f1': 1.0, 'n': 1}
"""

# Letters NFKD does not decompose into base + combining mark; without this "Tromsø" would stay "tromsø".
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ð": "d", "ł": "l", "þ": "th", "ı": "i"})
_ASCII_PUNCT = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")

# Phrases (raw, human readable) that mark a reply as "I don't know". Matched after normalize() on word
# boundaries, so the apostrophe-free and curly-apostrophe spellings are covered automatically. Kept short and
# specific: a phrase that also occurs in ordinary factual answers would reward hallucinations.
ABSTENTION_PHRASES: tuple[str, ...] = (
    "i don't know",
    "i do not know",
    "don't know",
    "do not know",
    "not sure",
    "unsure",
    "no idea",
    "no information",
    "don't have any information",
    "do not have any information",
    "don't have information",
    "do not have information",
    "don't have that information",
    "not enough information",
    "doesn't say",
    "does not say",
    "not mentioned",
    "isn't mentioned",
    "wasn't mentioned",
    "never mentioned",
    "no mention",
    "not specified",
    "not stated",
    "not provided",
    "can't answer",
    "cannot answer",
    "unable to answer",
    "can't say",
    "cannot say",
    "can't tell",
    "cannot tell",
    "unable to determine",
    "unknown",
    "no record",
    "no memory of",
    "i don't remember",
    "i do not remember",
    "don't recall",
    "do not recall",
    "not aware",
)

# Words ending in "." that do not end a sentence ("Dr. Lee", "e.g. cats"); compared lowercased, without the dot.
_ABBREVIATIONS = frozenset(
    "dr mr mrs ms mx prof sr jr st mt ft vs etc eg ie e.g i.e approx ca cf no nr fig jan feb mar apr jun jul aug "
    "sep sept oct nov dec mon tue wed thu fri sat sun inc ltd co corp dept univ ave rd blvd u.s u.k".split()
)
# Candidate sentence ends: terminal punctuation (and closing quotes/brackets) followed by whitespace or the end.
# "1.52" never matches because the "." is followed by a digit, not whitespace.
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")


def normalize(s: str) -> str:
    """Normalize a string the SQuAD way, plus accent folding.

    Lowercase, strip accents (NFKD, drop combining marks, and fold ø/æ/œ/ß/đ/ð/ł/þ/ı), remove punctuation
    (ASCII and Unicode), remove the articles a/an/the and collapse whitespace.

    Args:
        s: Any text; ``None`` is treated as the empty string.

    Returns:
        The normalized text, words separated by single spaces.
    """
    if not s:
        return ""
    text = str(s).lower().translate(_FOLD)
    text = unicodedata.normalize("NFKD", text)
    # Drop combining marks and punctuation in one pass; unicode categories catch curly quotes and dashes
    # that string.punctuation (the original SQuAD set) misses.
    text = "".join(
        ch
        for ch in text
        if not unicodedata.combining(ch) and ch not in _ASCII_PUNCT and not unicodedata.category(ch).startswith("P")
    )
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def first_sentence(text: str) -> str:
    """Return the first non-empty sentence of ``text``.

    Splits on ``.``, ``!`` or ``?`` followed by whitespace or the end of the text, but not after a known
    abbreviation ("Dr.", "e.g.") or a single-letter initial ("J. Smith"); decimal points ("1.52") never split.

    Args:
        text: A model reply.

    Returns:
        The first sentence, stripped, including its terminal punctuation; the whole text if it has no boundary.
    """
    if not text:
        return ""
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        chunk = text[start:end].strip()
        words = text[start : match.start() + 1].split()
        last = words[-1].lstrip("\"'(“‘[").lower() if words else ""
        if last.endswith(".") and not match.group().startswith(("!", "?")):
            stem = last[:-1]
            if stem in _ABBREVIATIONS or (len(stem) == 1 and stem.isalpha()):
                continue
        if normalize(chunk):
            return chunk
        # Only punctuation so far (e.g. a leading "..."): keep looking for a sentence with words in it.
        start = end
    return text[start:].strip()


def is_abstention(reply: str) -> bool:
    """Whether ``reply`` says it does not know, i.e. contains one of ``ABSTENTION_PHRASES`` after normalize."""
    padded = f" {normalize(reply)} "
    return any(f" {phrase} " in padded for phrase in _NORMALIZED_ABSTENTIONS)


def is_abstention_gold(golds: Iterable[str]) -> bool:
    """Whether the gold answers mark an abstention question (``["unknown"]``, any case or punctuation)."""
    normalized = [normalize(g) for g in golds]
    return bool(normalized) and all(g == "unknown" for g in normalized)


def _f1(prediction_tokens: list[str], gold_tokens: list[str]) -> float:
    """SQuAD token-level F1 between two token lists."""
    common = Counter(prediction_tokens) & Counter(gold_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(prediction_tokens)
    recall = overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def score_reply(reply: str, golds: Sequence[str] | str) -> dict[str, float]:
    """Score one reply against its gold answers; the single implementation behind the metric.

    Args:
        reply: The model's reply.
        golds: Gold answers (a bare string is treated as one answer). ``["unknown"]`` marks an abstention
            question, which is correct iff the reply contains an abstention phrase.

    Returns:
        ``{"accuracy", "exact_match", "f1"}``, each a float in [0, 1].
    """
    if isinstance(golds, str):
        golds = [golds]
    golds = list(golds or [])
    reply = reply or ""
    if is_abstention_gold(golds):
        value = 1.0 if is_abstention(reply) else 0.0
        return {"accuracy": value, "exact_match": value, "f1": value}

    # Empty golds (e.g. "the" or "...") would match everything, so they are ignored.
    normalized_golds = [g for g in (normalize(g) for g in golds) if g]
    if not normalized_golds:
        return {"accuracy": 0.0, "exact_match": 0.0, "f1": 0.0}

    padded_reply = f" {normalize(reply)} "
    accuracy = float(any(f" {gold} " in padded_reply for gold in normalized_golds))

    sentence = normalize(first_sentence(reply))
    sentence_tokens = sentence.split()
    exact_match = float(any(sentence == gold for gold in normalized_golds))
    f1 = max(_f1(sentence_tokens, gold.split()) for gold in normalized_golds)
    return {"accuracy": accuracy, "exact_match": exact_match, "f1": f1}


_NORMALIZED_ABSTENTIONS: tuple[str, ...] = tuple(dict.fromkeys(normalize(p) for p in ABSTENTION_PHRASES))


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MemoryRecall(evaluate.Metric):
    """Containment accuracy, first-sentence SQuAD EM/F1 and abstention scoring for memory recall."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Value("string"),
                    "references": datasets.Sequence(datasets.Value("string")),
                }
            ),
            reference_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
        )

    def _compute(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float | int]:
        """Mean of ``score_reply`` over the items, plus the item count ``n``."""
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions but {len(references)} reference lists")
        scores = [score_reply(p, r) for p, r in zip(predictions, references, strict=True)]
        n = len(scores)
        result: dict[str, float | int] = {
            key: (sum(s[key] for s in scores) / n if n else 0.0) for key in ("accuracy", "exact_match", "f1")
        }
        result["n"] = n
        return result
