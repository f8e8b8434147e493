"""Haystacks for needle-in-a-haystack runs: a deterministic distractor generator, needle facts, and depth placement.

A haystack is one user's memory stream: N distractor memories with needle memories inserted at given depths
(0 % = the first memory of the stream, 100 % = the last). Three variants:

- ``single``: one distinct key-value fact per depth ("My bicycle lock combination is 4821."), one question each
  (gkamradt NIAH, one haystack holding every depth's needle).
- ``multi-key``: RULER MK-NIAH. Every needle shares one template ("My teal locker has the code 4821.") and
  ``extra_keys`` same-template hard distractors with other keys sit at random positions.
- ``multi-value``: RULER MV-NIAH. One key per depth with ``values`` values, each its own memory, placed as a run
  starting at the depth; the question asks for all of them and scores the share recalled.

Used by eval/niah.py and eval/scaling.py; nothing here touches a model.
"""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta

VARIANTS = ("single", "multi-key", "multi-value")
_START = datetime(2023, 1, 1, 9, 0, 0)

# ------------------------------------------------------------------------------------------- distractors
_TEMPLATES = (
    "I had {food} for dinner with {person} on {day}.",
    "I went {activity} near {place} on {day}.",
    "My {relative} recommended a book about {topic}.",
    "I spent {day} afternoon fixing the {thing} in the {room}.",
    "I watched a documentary about {topic} with {person}.",
    "I bought a {colour} {thing} at a shop near {place}.",
    "{person} and I talked about {topic} over {food}.",
    "I cleaned the {room} and found an old {thing} from my {relative}.",
    "I tried {activity} for the first time with {person}.",
    "My {relative} called me on {day} to talk about {topic}.",
)
_SLOTS = {
    "food": ("lentil soup", "mushroom risotto", "fish tacos", "a cheese omelette", "pad thai", "roast chicken",
             "vegetable curry", "pumpkin ravioli", "a tuna sandwich", "beef stew", "falafel wraps", "miso ramen"),
    "person": ("my colleague Priya", "my friend Tomas", "my neighbour Ines", "my cousin Felix", "my old classmate Ada",
               "my flatmate Jonah", "my manager Ruth", "my friend Kofi", "my aunt Vera", "my teammate Lars"),
    "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "activity": ("jogging", "cycling", "birdwatching", "swimming", "hiking", "kayaking", "sketching", "rowing",
                 "climbing", "skating"),
    "place": ("the harbour", "the old bridge", "the botanical garden", "the train station", "the city library",
              "the river path", "the market square", "the ferry dock", "the sports hall", "the north park"),
    "relative": ("mother", "father", "sister", "brother", "grandmother", "uncle", "aunt", "cousin"),
    "topic": ("volcanoes", "medieval castles", "deep-sea fish", "the history of jazz", "solar power", "honeybees",
              "ancient Rome", "glaciers", "chess openings", "city planning", "migrating birds", "sourdough"),
    "thing": ("lamp", "bookshelf", "kettle", "radio", "desk chair", "window frame", "bicycle bell", "clock",
              "umbrella", "toaster"),
    "room": ("kitchen", "hallway", "attic", "garage", "bathroom", "living room", "balcony", "basement"),
    "colour": ("red", "green", "grey", "yellow", "navy", "white", "brown", "purple"),
}


def generate_distractors(n: int, seed: int = 0) -> list[str]:
    """`n` distinct, plausible first-person memories (deterministic in `seed`); none mentions a needle key."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    for _ in range(n * 50):
        if len(out) == n:
            break
        template = rng.choice(_TEMPLATES)
        text = template.format(**{k: rng.choice(v) for k, v in _SLOTS.items()})
        text = text[0].upper() + text[1:]
        if text not in seen:
            seen.add(text)
            out.append(text)
    if len(out) < n:
        raise ValueError(f"the distractor generator ran out of distinct memories at {len(out)} (asked for {n})")
    return out


# ------------------------------------------------------------------------------------------- needles
# (memory template, question template, value kind); {v} is the value, {name} the user's display name.
_SINGLE_KEYS = (
    ("My bicycle lock combination is {v}.", "What is {name}'s bicycle lock combination?", "number"),
    ("My grandmother's parrot is called {v}.", "What is the name of {name}'s grandmother's parrot?", "word"),
    ("My locker at the climbing gym has the number {v}.", "What number is {name}'s locker at the climbing gym?",
     "number"),
    ("My wifi network is named {v}.", "What is {name}'s wifi network named?", "word"),
    ("My secret pancake ingredient is {v}.", "What is {name}'s secret pancake ingredient?", "ingredient"),
    ("My rowing boat is named {v}.", "What is the name of {name}'s rowing boat?", "word"),
    ("My membership number at the chess club is {v}.", "What is {name}'s membership number at the chess club?",
     "number"),
    ("My favourite constellation is {v}.", "What is {name}'s favourite constellation?", "constellation"),
    ("My storage unit number is {v}.", "What is {name}'s storage unit number?", "number"),
    ("My grandfather's boat was called {v}.", "What was {name}'s grandfather's boat called?", "word"),
    ("My allotment plot has the number {v}.", "What number is {name}'s allotment plot?", "number"),
    ("My childhood teddy bear was named {v}.", "What was {name}'s childhood teddy bear named?", "word"),
    ("My favourite spice for stews is {v}.", "What is {name}'s favourite spice for stews?", "ingredient"),
    ("My gym membership PIN is {v}.", "What is {name}'s gym membership PIN?", "number"),
    ("My sister's hamster is called {v}.", "What is the name of {name}'s sister's hamster?", "word"),
    ("My apartment door code is {v}.", "What is {name}'s apartment door code?", "number"),
    ("My band's first album was titled {v}.", "What was the title of {name}'s band's first album?", "word"),
    ("My telescope is nicknamed {v}.", "What is {name}'s telescope nicknamed?", "word"),
    ("My locker at the swimming pool has the number {v}.", "What number is {name}'s locker at the swimming pool?",
     "number"),
    ("My parking permit number is {v}.", "What is {name}'s parking permit number?", "number"),
)
_MULTI_KEY = ("My {k} locker has the code {v}.", "What is the code of {name}'s {k} locker?")
_LOCKER_KEYS = ("teal", "crimson", "amber", "violet", "olive", "silver", "coral", "indigo", "ivory", "maroon",
                "copper", "lilac", "saffron", "cobalt", "jade", "plum", "rust", "slate", "tan", "scarlet",
                "azure", "bronze", "cerise", "denim", "ebony", "fawn", "garnet", "hazel", "khaki", "lemon",
                "mauve", "ochre", "pearl", "ruby", "sepia", "taupe", "umber", "wine", "mint", "peach")
_MULTI_VALUE = (
    ("One of my lucky numbers is {v}.", "What are {name}'s lucky numbers?", "number"),
    ("One of my childhood pets was called {v}.", "What were {name}'s childhood pets called?", "word"),
    ("One of the spices I always carry is {v}.", "Which spices does {name} always carry?", "ingredient"),
    ("One of my favourite constellations is {v}.", "What are {name}'s favourite constellations?", "constellation"),
    ("One of my old usernames was {v}.", "What were {name}'s old usernames?", "word"),
)
_VALUES = {
    "word": ("Quillon", "Marzipan", "Tobermory", "Zephyrine", "Balthazar", "Pimpernel", "Octavia", "Bramblewood",
             "Fizzwick", "Lumenor", "Gingersnap", "Halcyon", "Wexford", "Nimbus", "Calliope", "Rutherford"),
    "ingredient": ("cardamom", "nutmeg", "saffron", "star anise", "sumac", "fenugreek", "juniper", "tamarind",
                   "lemongrass", "allspice"),
    "constellation": ("Cassiopeia", "Orion", "Andromeda", "Lyra", "Cygnus", "Perseus", "Draco", "Pegasus"),
}


def _value(kind: str, rng: random.Random, used: set[str]) -> str:
    pool = None if kind == "number" else [v for v in _VALUES[kind] if v not in used]
    while True:
        value = str(rng.randint(1000, 9999)) if pool is None else rng.choice(pool)
        if value not in used:
            used.add(value)
            return value


def needle_positions(total: int, depths: list[float]) -> list[int]:
    """Stream index for each depth (percent) in a stream of `total` memories: round(depth / 100 * (total - 1)).

    Two depths that round to the same index are pushed apart (later depth moves down, then up), so every needle
    gets its own slot; raises when there are more depths than slots.
    """
    if len(depths) > total:
        raise ValueError(f"{len(depths)} depths do not fit in {total} memories")
    taken: set[int] = set()
    out = []
    for depth in depths:
        if not 0 <= depth <= 100:
            raise ValueError(f"depth must be within 0-100 %, got {depth}")
        ideal = round(depth / 100 * (total - 1))
        for offset in itertools.chain.from_iterable((d, -d) for d in range(total)):
            pos = ideal + offset
            if 0 <= pos < total and pos not in taken:
                break
        taken.add(pos)
        out.append(pos)
    return out


def depth_of(position: int, total: int) -> float:
    """Inverse of the placement: the depth (percent) a stream index sits at."""
    return 100.0 * position / max(1, total - 1)


def build_haystack(n: int, depths: list[float], variant: str = "single", name: str = "Robin", seed: int = 0,
                   distractors: list[str] | None = None, extra_keys: int = 3, values: int = 3):
    """Memories and questions for one haystack of `n` distractors plus the variant's needles.

    Args:
        n: Number of distractor memories.
        depths: Needle depths in percent of the stream, one per needle (repeat a depth for several needles there).
        variant: One of VARIANTS.
        name: The user's display name used in questions.
        seed: Seeds needle values, distractor choice and hard-distractor positions.
        distractors: Distractor texts to draw from (e.g. LoCoMo turns); None = generate_distractors.
        extra_keys: multi-key only: same-template hard distractors per needle.
        values: multi-value only: values per key.

    Returns:
        (memories, questions): memory dicts (SPEC section 1, one day apart) and question dicts (SPEC section 2)
        whose extra keys ``depth``, ``position``, ``haystack`` and ``variant`` locate the needle.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    capacity = {"single": len(_SINGLE_KEYS), "multi-key": len(_LOCKER_KEYS) // (1 + extra_keys),
                "multi-value": len(_MULTI_VALUE)}[variant]
    if len(depths) > capacity:  # more needles than distinct keys would plant contradicting facts
        raise ValueError(f"variant {variant!r} has distinct needle keys for at most {capacity} needles, "
                         f"{len(depths)} asked (depths x needles per depth)")
    rng = random.Random(f"{seed}-{variant}-{n}")
    used: set[str] = set()
    needles: list[list[str]] = []  # per depth: the memory texts placed as a run
    questions: list[dict] = []
    hard: list[str] = []
    for i, _depth in enumerate(depths):
        if variant == "single":
            memory, question, kind = _SINGLE_KEYS[i]
            value = _value(kind, rng, used)
            needles.append([memory.format(v=value)])
            questions.append({"question": question.format(name=name), "answers": [value]})
        elif variant == "multi-key":
            key = _LOCKER_KEYS[i]
            value = _value("number", rng, used)
            needles.append([_MULTI_KEY[0].format(k=key, v=value)])
            questions.append({"question": _MULTI_KEY[1].format(name=name, k=key), "answers": [value]})
        else:
            memory, question, kind = _MULTI_VALUE[i]
            vals = [_value(kind, rng, used) for _ in range(values)]
            needles.append([memory.format(v=v) for v in vals])
            questions.append({"question": question.format(name=name), "answers": vals, "all_answers": True})
    if variant == "multi-key":
        for key in _LOCKER_KEYS[len(depths) : len(depths) + extra_keys * len(depths)]:
            hard.append(_MULTI_KEY[0].format(k=key, v=_value("number", rng, used)))

    pool = distractors if distractors is not None else generate_distractors(n, seed)
    if len(pool) < n:
        raise ValueError(f"only {len(pool)} distractors available, {n} needed")
    chosen = rng.sample(list(pool), n) if distractors is not None else list(pool[:n])
    for text in hard:  # hard distractors replace ordinary ones at random positions
        chosen.insert(rng.randrange(len(chosen) + 1), text)
    run = max(len(x) for x in needles) if needles else 1
    total = len(chosen) + sum(len(x) for x in needles)
    # Place each run's first memory at its depth within the slots a whole run can start at.
    starts = needle_positions(total - run + 1, depths) if run > 1 else needle_positions(total, depths)
    if run > 1 and _overlap(starts, run):
        raise ValueError(f"multi-value runs of {run} overlap at {len(depths)} depths in {total} memories")
    slots: dict[int, tuple[int, str]] = {}
    for i, (start, texts) in enumerate(zip(starts, needles, strict=True)):
        for j, text in enumerate(texts):
            slots[start + j] = (i, text)
    stream, filler = [], iter(chosen)
    for pos in range(total):
        stream.append(slots[pos][1] if pos in slots else next(filler))
    memories = [{"id": f"h{n}-m{pos:05d}", "text": text, "time": (_START + timedelta(days=pos)).isoformat(),
                 "kind": "semantic", "source": "niah-needle" if pos in slots else "niah-distractor"}
                for pos, text in enumerate(stream)]
    for i, (q, start, depth) in enumerate(zip(questions, starts, depths, strict=True)):
        q.update({"id": f"h{n}-{variant}-q{i + 1}", "type": "single-hop",
                  "evidence": [f"h{n}-m{start + j:05d}" for j in range(len(needles[i]))],
                  "depth": depth, "position": start, "haystack": n, "variant": variant})
    return memories, questions


def _overlap(starts: list[int], run: int) -> bool:
    ordered = sorted(starts)
    return any(b - a < run for a, b in zip(ordered, ordered[1:], strict=False))
