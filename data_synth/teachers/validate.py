"""Checks on one teacher-written QA pair: is the answer grounded in the memory text, is the pair well formed.

A teacher model can invent facts, copy the answer into the question or return the same question twice; training an
adapter on those would teach the user's adapter things the user never said. `check_pair` returns the reason a pair
is dropped (one of REASONS) or None when it is kept.

Try it: `python -m data_synth.teachers.validate "Dana moved to Tromsø in 2023." "Where did Dana move?" "Tromso"`.
"""

from __future__ import annotations

import re
import sys
import unicodedata

# Every reason a teacher output or pair can be dropped, in the order the checks run. Counted per pair, except
# "error" (the teacher call failed), "empty" and "malformed" for a whole reply that holds no pairs.
REASONS = ("error", "empty", "malformed", "too_long", "answer_in_question", "ungrounded", "duplicate", "over_limit")

MAX_QUESTION_CHARS = 300
MAX_ANSWER_CHARS = 150
MAX_ANSWER_WORDS = 20  # a short answer is a span (name, place, date), not a paragraph

# Letters NFKD does not decompose into base letter + accent (Tromsø -> tromso), as in the SPEC scoring rule.
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ð": "d", "ł": "l", "þ": "th", "ı": "i"})
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
# "40,917" and "40917" must compare equal, so separators between digits go before punctuation becomes spaces.
_DIGIT_SEP = re.compile(r"(?<=\d)[,.'’](?=\d{3}\b)")
# Function words that carry no fact: an answer made only of these cannot be checked token by token.
STOPWORDS = frozenset(
    "a an the s of in on at to for with by from into onto about as and or but is are was were be been being am do "
    "does did has have had it its he him his she her they them their i me my mine we us our you your this that "
    "these those there here than then so very just also".split()
)


def normalize(text: str) -> str:
    """Lowercase, fold accents, drop punctuation and the articles a/an/the, collapse whitespace (SPEC section 3).

    Punctuation becomes a space rather than vanishing, so "Otto's" and "Kraków-based" still yield the word
    tokens "otto" and "krakow"; digit-group separators are removed first so "40,917" == "40917".

    Args:
        text: Any text.

    Returns:
        The normalized text, words separated by single spaces.
    """
    text = _DIGIT_SEP.sub("", text or "")
    text = unicodedata.normalize("NFKD", text.lower().translate(_FOLD))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"[^\w\s]|_", " ", text)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _contains(haystack: str, needle: str) -> bool:
    """Whole-word containment of one normalized string in another ("oslo" is not inside "oslovia")."""
    return bool(needle) and f" {needle} " in f" {haystack} "


def is_grounded(answer: str, memory_text: str, user_name: str = "") -> bool:
    """True when the answer can be read off the memory text.

    Grounded means: the whole normalized answer occurs in the normalized memory as whole words, or every content
    word of the answer (STOPWORDS aside) is a word of the memory. Matching is by whole tokens, so numbers match
    exactly ("2022" is not "2023", "3" is not "30") -- a changed year or amount is the commonest invented fact.
    The user's name counts as part of the memory, because first-person memories ("I moved to Oslo") are about
    the user.

    Args:
        answer: The teacher's short answer.
        memory_text: The memory the pair was written from.
        user_name: The user's display name.

    Returns:
        Whether the answer is grounded.
    """
    ans = normalize(answer)
    mem = normalize(f"{memory_text} {user_name}")
    if not ans:
        return False
    mem_tokens = set(mem.split())
    ans_tokens = ans.split()
    if _contains(mem, ans):
        return True
    content = [t for t in ans_tokens if t not in STOPWORDS]
    return bool(content) and all(t in mem_tokens for t in content)


def check_pair(question: str, answer: str, memory_text: str, user_name: str = "",
               seen: set[str] | None = None) -> str | None:
    """Why a QA pair must be dropped, or None when it is kept.

    Args:
        question: The teacher's question (must end with "?").
        answer: The teacher's short answer.
        memory_text: The memory it was written from.
        user_name: The user's display name.
        seen: Normalized questions already kept; the question is added to it when kept (dedupe across calls).

    Returns:
        One of "empty", "malformed" (not a question), "too_long", "answer_in_question", "ungrounded",
        "duplicate", or None.
    """
    question, answer = question.strip(), answer.strip()
    if not normalize(question) or not normalize(answer):
        return "empty"
    if len(question) > MAX_QUESTION_CHARS or len(answer) > MAX_ANSWER_CHARS or len(answer.split()) > MAX_ANSWER_WORDS:
        return "too_long"
    if not question.endswith("?"):
        return "malformed"
    if _contains(normalize(question), normalize(answer)):
        return "answer_in_question"
    if not is_grounded(answer, memory_text, user_name):
        return "ungrounded"
    key = normalize(question)
    if seen is not None:
        if key in seen:
            return "duplicate"
        seen.add(key)
    return None


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: python -m data_synth.teachers.validate MEMORY QUESTION ANSWER")
    print(check_pair(sys.argv[2], sys.argv[3], sys.argv[1]) or "kept")
