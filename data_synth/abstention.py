"""Abstention examples: questions about the user that no memory answers, trained to an "I don't know" reply.

Without them an adapter answers every question about the user with some memorised fact. The topics are generic
personal attributes; a topic is used only when none of its keywords occurs in any of the user's memories, so the
adapter is never taught to deny something it was told. The questions are fixed templates written for this file,
independent of any evaluation set. Used by data_synth.rules; not run directly.
"""

from __future__ import annotations

import random

from data_synth.grammar import norm
from data_synth.schema import Example

# (question about {u}, keywords whose presence in any memory rules the topic out)
TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("What is {u}'s blood type?", ("blood",)),
    ("What is {u}'s shoe size?", ("shoe", "size")),
    ("How tall is {u}?", ("tall", "height", "cm", "feet")),
    ("What is {u}'s middle name?", ("middle name",)),
    ("What was the name of {u}'s first pet?", ("first pet",)),
    ("Which primary school did {u} attend?", ("primary school", "elementary")),
    ("What is {u}'s star sign?", ("star sign", "zodiac", "horoscope")),
    ("What was {u}'s first job?", ("first job",)),
    ("What is {u}'s mother's maiden name?", ("maiden",)),
    ("What is the name of {u}'s dentist?", ("dentist",)),
    ("Which bank does {u} use?", ("bank",)),
    ("What is {u}'s licence plate number?", ("plate", "registration")),
    ("How many cousins does {u} have?", ("cousin",)),
    ("What was {u}'s grade in maths at school?", ("math", "grade")),
    ("Which football team does {u} support?", ("football", "soccer", "team")),
    ("What is {u}'s favourite board game?", ("board game", "chess", "game")),
    ("What did {u} eat for breakfast yesterday?", ("breakfast",)),
    ("What is the name of {u}'s childhood best friend?", ("childhood",)),
    ("Which language did {u} learn first?", ("mother tongue", "native language", "first language")),
    ("How much does {u} pay in rent?", ("rent",)),
    ("What is {u}'s favourite season?", ("season", "winter", "summer", "autumn", "spring")),
    ("What was {u}'s wedding date?", ("wedding", "married")),
    ("Which hospital was {u} born in?", ("born",)),
    ("What is {u}'s favourite flower?", ("flower",)),
    ("What kind of phone does {u} have?", ("phone", "iphone", "android")),
    ("What is {u}'s favourite ice cream flavour?", ("ice cream",)),
    ("Who was {u}'s favourite teacher at school?", ("teacher",)),
    ("What is {u}'s email password?", ("password",)),
    ("Which airline does {u} usually fly with?", ("airline", "flight", "fly")),
    ("What is {u}'s favourite number?", ("favourite number", "favorite number", "lucky number")),
    ("What is the name of {u}'s hairdresser?", ("hairdresser", "barber", "haircut")),
    ("What is {u}'s neighbour's name?", ("neighbour", "neighbor")),
    ("Which video games does {u} play?", ("video game", "gaming", "console")),
    ("What is {u}'s favourite fruit?", ("fruit", "apple", "banana", "mango")),
    ("How many siblings does {u} have?", ("sibling", "brother", "sister")),
    ("What is {u}'s favourite holiday destination?", ("holiday", "vacation")),
    ("What car did {u} learn to drive in?", ("learn to drive", "driving lesson", "driving test")),
    ("What is {u}'s favourite painter?", ("painter", "painting", "artist")),
    ("What is {u}'s pin code for the bank card?", ("pin", "bank card")),
)
WORDINGS = ("{q}", "{q_user}", "Do you know {q_lower}", "{q_first}")
REPLIES = (
    "I don't know. You haven't told me that.",
    "I don't know; that isn't something you've mentioned to me.",
    "I don't know. I have no memory of that.",
)


def _first_person(question: str, user: str) -> str:
    return (question.replace(f"{user}'s", "my").replace(f"does {user}", "do I").replace(f"did {user}", "did I")
            .replace(f"is {user}", "am I").replace(f"was {user}", "was I").replace(user, "I"))


def abstention_examples(memory_texts: list[str], user: str, n: int, seed: int) -> list[Example]:
    """Up to `n` "I don't know" examples about topics no memory mentions.

    Args:
        memory_texts: Every memory text of the user (a topic is dropped if any mentions one of its keywords).
        user: The user's display name.
        n: How many examples to make.
        seed: Picks topics, wordings and replies deterministically.

    Returns:
        Examples of kind "abstention" with no memory ids (they are about the absence of a memory).
    """
    corpus = " " + " ".join(norm(t) for t in memory_texts) + " "
    topics = [q for q, keys in TOPICS if not any(f" {norm(k)}" in corpus for k in keys)]
    rng = random.Random(seed)
    rng.shuffle(topics)
    out = []
    for i in range(min(n, len(topics) * len(WORDINGS))):
        q = topics[i % len(topics)].format(u=user)
        style = WORDINGS[(i // len(topics) + i) % len(WORDINGS)]
        prompt = style.format(q=q, q_user=q.replace(user, "the user"), q_lower=q[:1].lower() + q[1:],
                              q_first=_first_person(q, user))
        out.append(Example(prompt=prompt, response=REPLIES[rng.randrange(len(REPLIES))], kind="abstention",
                           memory_ids=[], template="abstention"))
    return out
