"""Roles asked through what the role does: "Maya's landlord is Tom" is also "Who does Maya rent from?".

A model trained only on "Who is Maya's landlord?" does not connect "rent from" to "landlord"; these questions give
it that bridge for common roles in a person's life. The table is written by hand (no offline WordNet here, see
data_synth.synonyms) and kept generic: every entry is a role, never a fact of one user. Used by
data_synth.questions; not run directly.
"""

from __future__ import annotations

import re

# role -> question templates ({o}: whose role it is, as the "Who is {o}'s role?" question names them).
_ROLES: dict[str, tuple[str, ...]] = {
    "landlord": ("Who does {o} rent from?", "Who does {o} pay rent to?", "Who is {o} renting from?"),
    "manager": ("Who does {o} report to?", "Who does {o} work under?", "Who is in charge of {o} at work?"),
    "dentist": ("Who does {o} see for dental care?", "Who takes care of {o}'s teeth?"),
    "doctor": ("Who does {o} see when ill?", "Who is {o}'s GP?"),
    "vet": ("Which vet does {o} see?", "Who treats {o} at the vet's?"),
    "physio": ("Who does {o} see for physiotherapy?", "Who is treating {o}'s injury?"),
    "therapist": ("Who does {o} see for therapy?",),
    "teacher": ("Who teaches {o}?", "Who gives {o} lessons?"),
    "coach": ("Who coaches {o}?", "Who trains {o}?"),
    "mentor": ("Who mentors {o}?",),
    "partner": ("Who is {o} together with?", "Who is {o} seeing?"),
    "flatmate": ("Who does {o} live with?", "Who shares a flat with {o}?"),
    "neighbour": ("Who lives next door to {o}?",),
    "colleague": ("Who does {o} work with?",),
    "employer": ("Who does {o} work for?",),
    "mechanic": ("Who fixes {o}'s car?",),
    "accountant": ("Who does {o}'s taxes?",),
    "hairdresser": ("Who cuts {o}'s hair?",),
    "babysitter": ("Who looks after {o}'s children?",),
}
# Words that name the same role.
_SAME = {"landlady": "landlord", "boss": "manager", "supervisor": "manager", "line manager": "manager",
         "dental surgeon": "dentist", "gp": "doctor", "physician": "doctor", "physiotherapist": "physio",
         "tutor": "teacher", "instructor": "teacher", "trainer": "coach", "boyfriend": "partner",
         "girlfriend": "partner", "husband": "partner", "wife": "partner", "fiance": "partner", "fiancee": "partner",
         "housemate": "flatmate", "roommate": "flatmate", "neighbor": "neighbour", "coworker": "colleague",
         "barber": "hairdresser", "nanny": "babysitter", "childminder": "babysitter"}

_WHO_IS = re.compile(r"Who is (.+?)'s ([A-Za-z ]+)\?")


def role_questions(who_is: str) -> list[tuple[str, str]]:
    """Role-verb questions for a "Who is X's role?" question.

    Args:
        who_is: A question such as "Who is Maya's landlord?".

    Returns:
        (question, template key) pairs with the same answer; [] when the question names no role in the table.
    """
    m = _WHO_IS.fullmatch(who_is)
    if not m:
        return []
    owner, role = m.group(1), m.group(2).lower()
    role = _SAME.get(role, role)
    return [(t.format(o=owner), f"role-{role}{i}") for i, t in enumerate(_ROLES.get(role, ()))]
