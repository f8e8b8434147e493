"""A hand-written thesaurus of everyday personal-life words, for rewording synthesized questions.

Written by hand because no WordNet with its data installs offline from PyPI here (`wn` and `nltk` download their
data at run time). Entries are generic (home, work, family, health, travel, money, hobbies, food, time, and the kind
a specific plant or dog breed belongs to), each word mapped to near-synonyms that fit in a question without changing
its meaning. Inflected forms are separate keys, because questions are rewritten by whole-word replacement. Used by
data_synth.paraphrase.
"""

from __future__ import annotations

_GROUPS = [
    # kinds: a specific plant or dog breed is asked about by its kind ("the office plant" for "the office monstera");
    # first, so the three swaps a question gets are not all taken by commoner words before these
    *(f"{w}|plant" for w in ("monstera", "ficus", "fern", "cactus", "orchid", "succulent", "bonsai", "begonia",
                             "geranium", "yucca", "philodendron", "pothos", "calathea")),
    *(f"{w}|dog" for w in ("labrador", "spaniel", "terrier", "collie", "poodle", "beagle", "dachshund", "greyhound",
                           "whippet", "retriever", "sheepdog")),
    # places and home
    "city|town", "town|city", "village|town", "flat|apartment", "apartment|flat|home", "house|home",
    "home|house", "neighbourhood|area|district", "street|road", "shop|store", "store|shop",
    "cafe|coffee shop", "café|coffee shop", "restaurant|place to eat", "office|workplace|work",
    "workplace|office|work", "gym|fitness centre|health club", "clinic|medical centre|practice",
    "hospital|clinic", "university|college", "school|college", "country|nation", "island|isle",
    "beach|shore", "lake|loch", "floor|storey|level", "lift|elevator", "elevator|lift",
    "based|located", "located|based|situated", "live|reside|stay", "lives|resides|stays",
    "living|residing", "moved|relocated", "move|relocate", "relocate|move",
    # people and family
    "friend|pal|mate", "friends|pals", "closest|best", "sister|sibling", "brother|sibling", "mother|mum|mom",
    "mum|mother", "mom|mother", "father|dad", "dad|father", "grandmother|granny|grandma", "grandfather|grandpa",
    "partner|significant other", "wife|spouse", "husband|spouse", "boss|manager|supervisor",
    "manager|boss", "colleague|coworker", "coworker|colleague", "neighbour|neighbor", "neighbor|neighbour",
    "doctor|physician|GP", "dentist|dental surgeon", "teacher|tutor|instructor", "landlady|landlord",
    "kid|child", "child|kid", "children|kids", "kids|children", "daughter|child", "son|child",
    # work and study
    "job|work|occupation", "works|is employed", "profession|occupation|line of work",
    "occupation|job|profession", "company|employer|firm", "employer|company", "career|profession",
    "studied|majored in", "study|major in", "degree|qualification", "exam|test", "test|exam",
    "course|class", "class|course", "lessons|classes", "teaches|gives lessons in|instructs in",
    "teach|give lessons in", "paper|article", "conference|meeting|symposium",
    # things and money
    "car|vehicle|motor", "bike|bicycle|cycle", "bicycle|bike", "phone|mobile|cell phone", "mobile|phone",
    "backpack|rucksack|bag", "bag|backpack", "code|PIN|combination", "badge|pass|ID card",
    "password|passcode", "money|cash",
    "price|cost", "cost|price", "won|got|received", "bought|purchased|got", "buy|purchase|get", "win|get|receive",
    "break|injure|fracture", "visit|go to|see", "meet|get together", "meets|gets together", "run|complete|do",
    "paid|spent", "gift|present", "present|gift", "book|novel", "novel|book", "film|movie", "movie|film",
    "song|track|tune", "band|group", "instrument|musical instrument", "pet|animal", "cat|kitty", "dog|pup",
    "called|named|known as", "named|called", "network|WiFi|wireless network",
    # food, health, habits
    "favourite|favorite|preferred", "favorite|favourite|preferred", "food|dish|meal", "dish|meal",
    "snack|nibble", "allergic|sensitive", "allergy|intolerance",
    "medicine|medication|meds", "medication|medicine", "injured|hurt|broke", "broke|fractured|injured",
    "ill|sick", "sick|ill", "likes|enjoys|is fond of", "like|enjoy|love", "love|adore|like", "loves|adores",
    "enjoy|like", "enjoys|likes", "prefer|like|favour", "prefers|likes|favours", "hate|dislike|can't stand",
    "hates|dislikes|detests", "dislike|hate", "dislikes|hates", "usually|normally|typically",
    "often|frequently", "every|each", "weekly|every week", "daily|every day",
    "evening|night",     # events and time
    "trip|journey|visit", "holiday|vacation|break", "vacation|holiday", "race|run", "marathon|race",
    "finish|complete", "finished|completed", "ran|completed|did", "visited|went to|saw", "went|travelled",
    "travelled|traveled|went", "started|began", "start|begin", "began|started",
    "birthday|date of birth", "wedding|marriage ceremony",
    "recently|lately", "last|previous",
    # verbs of having and doing
    "have|own|keep", "own|have|possess", "owns|has|possesses", "drives|has|uses",
    "drive|use", "uses|relies on", "use|rely on", "keeps|has", "keep|have", "carries|keeps|has",
    "carry|keep|have", "wears|has on", "plays|performs", "play|perform", "reads|is reading",
    "watch|see|view", "watches|sees", "feeds|gives food to", "waters|gives water to", "water|give water to",
    "brews|makes|produces", "brew|make|produce", "wants|would like|wishes", "need|require",
    "needs|requires", "get|receive", "gets|receives", ]

# Words with more than one sense, swapped only where the question has a word of the sense they share with their
# synonyms: Kabir "runs" a stall, he does not "complete" one, and a team that "plays" futsal does not "perform" it.
_RACE = r"\b(?:race|marathon|\d+\s?k|half|triathlon|parkrun|relay|ultra|km|miles?|sprint)\b"
_MUSIC = r"\b(?:band|guitar|bass|piano|violin|cello|drums?|gig|concert|music|song|tune|instrument|choir|orchestra)\b"
SENSES: dict[str, str] = {"run": _RACE, "runs": _RACE, "ran": _RACE, "race": _RACE, "play": _MUSIC,
                          "plays": _MUSIC}

# The opposite: contexts in which a word's synonyms change its sense. "have two teeth removed" is something done to
# the subject (causative "have" before a participle), not owning or keeping anything.
_CAUSATIVE = r"\b{w}\b(?:\s+[\w'-]+){{1,4}}?\s+(?:[a-z]+ed|done|cut|taken|made|built|seen|sewn|shown)\b"
NOT_SENSES: dict[str, str] = {w: _CAUSATIVE.format(w=w) for w in ("have", "has", "had")}

SYNONYMS: dict[str, list[str]] = {}
for _g in _GROUPS:
    _word, *_subs = _g.split("|")
    SYNONYMS.setdefault(_word, [])
    SYNONYMS[_word] += [s for s in _subs if s not in SYNONYMS[_word]]
