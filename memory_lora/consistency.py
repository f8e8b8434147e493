"""The self-consistency gate: an adapter that knows an answer says it again when sampled; one that guesses does not.

An adapter trained on a memory gives its sentence nearly all the probability, so replies sampled at temperature 1
repeat the greedy reply. Asked about something no memory holds, it recites whichever neighbouring memory the
question's words pull towards, and the samples scatter over several (docs/results/README.md section 19). The gate
samples a few replies, measures the share that agree with the greedy reply, and replaces a reply too few samples
back with "I don't know". A wrong answer turned into "I don't know" costs nothing, so the price is paid only on
right answers the adapter is unsure of.

Agreement is lexical, written here because no kept library scores two short replies offline without a model: two
replies agree when at least half the content words of the shorter one are in the other (so "The Brackenhurst
Imaging Centre." agrees with "Ravi works as a sonographer at the Brackenhurst Imaging Centre.", and "Kahikatea
Imaging." does not, sharing one word of two). Not run directly.
"""

from __future__ import annotations

from data_synth.teachers.validate import STOPWORDS, normalize

# The project's function words (the ones teacher answers are checked without), plus negations and the words every
# reply about a user shares; none says which memory was recalled.
_DROP = STOPWORDS | {"not", "no", "yours", "user"}
AGREE_AT = 0.5  # share of the shorter reply's content words that the other must contain


def content_words(text: str, name: str = "") -> set[str]:
    """Normalized words of `text` (SPEC section 3 normalization) other than function words and the user's name."""
    drop = _DROP | set(normalize(name).split())
    return {w for w in normalize(text).split() if w not in drop}


def agrees(a: str, b: str, name: str = "") -> bool:
    """Whether two replies say the same thing (overlap of content words; two empty replies agree)."""
    wa, wb = content_words(a, name), content_words(b, name)
    if not wa or not wb:
        return wa == wb
    shared, shorter = len(wa & wb), min(len(wa), len(wb))
    # two shared words at least, when both have two: "Kahikatea Imaging" is not "Brackenhurst Imaging Centre"
    return shared / shorter >= AGREE_AT and shared >= min(2, shorter)


def agreement(reply: str, samples: list[str], name: str = "") -> float:
    """Share of `samples` that agree with `reply`, in [0, 1]; 1.0 when there are no samples."""
    if not samples:
        return 1.0
    return sum(agrees(reply, s, name) for s in samples) / len(samples)
