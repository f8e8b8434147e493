"""What kind of thing a brand or a specific name is: a Mazda Demio is a car, amoxicillin is an antibiotic.

Memories name things by brand ("bought a silver 2012 Mazda Demio") where people ask by kind ("What name did Ravi
give his car?"), so a phrase with no common-noun head takes its category as head. Written by hand for the reason
data_synth/synonyms.py is (no offline WordNet). Only unambiguous words: no brand that is also a common first name,
surname or word ("Pixel", "Gibson", "Mini" are left out). Used by data_synth.slots.
"""

from __future__ import annotations

import re

_KINDS = {
    "car": "mazda toyota honda ford volkswagen nissan bmw audi kia hyundai subaru tesla vauxhall peugeot renault "
           "skoda škoda fiat volvo suzuki mitsubishi lexus citroen citroën opel dacia polestar hatchback sedan "
           "demio corolla yaris civic fiesta golf prius",
    "bike": "brompton cannondale pinarello cervelo cervélo",
    "antibiotic": "amoxicillin penicillin ampicillin erythromycin clarithromycin azithromycin doxycycline "
                  "ciprofloxacin cephalexin flucloxacillin trimethoprim nitrofurantoin metronidazole tetracycline",
    "painkiller": "ibuprofen paracetamol aspirin codeine naproxen acetaminophen tramadol",
    "laptop": "macbook thinkpad chromebook",
    "drink": "cider beer ale lager stout wine mead kombucha whisky whiskey gin rum vodka coffee tea espresso latte",
    "phone": "iphone",
}
CATEGORY: dict[str, str] = {word: kind for kind, words in _KINDS.items() for word in words.split()}


def category(phrase: str) -> str:
    """The kind of thing the phrase names ("a silver 2012 Mazda Demio" -> "car"), or "" when no word is known."""
    for word in reversed(re.findall(r"[\w-]+", phrase.lower())):
        if word in CATEGORY:
            return CATEGORY[word]
    return ""
