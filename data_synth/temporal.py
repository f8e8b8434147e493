"""Dates for temporal questions: several spellings of one date, and the date of an episodic memory from its `time`.

"14 May 2024" is also taught as "May 14, 2024" and, to a question that asks for it ("... (YYYY-MM-DD)?"),
"2024-05-14", so a question or a grader expecting another format still matches. An episodic memory whose text
carries no date gets its `time` field as a leading "On 2 April 2023, ..." before analysis, so the usual date
questions ("When did Maya ...?") are asked about it.
Used by data_synth.rules; not run directly.
"""

from __future__ import annotations

import re
from datetime import datetime

from data_synth.slots import DATE_RE

MONTH_NAMES = ("January February March April May June July August September October November December").split()
_MONTH_NUM = {m.lower(): i + 1 for i, m in enumerate(MONTH_NAMES)}
_MONTH_NUM.update({m[:3].lower(): i + 1 for i, m in enumerate(MONTH_NAMES)})
_MONTH_NUM["sept"] = 9


def _parse(text: str) -> tuple[int | None, int | None, int | None]:
    """(year, month, day) read from a date phrase; None where the phrase does not say."""
    t = text.strip().rstrip(".")
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", t)
    if m:
        return int(m.group(1)), int(m.group(2)), int(m.group(3))
    m = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([A-Za-z]+)\.?,?\s*(\d{4})?", t)
    if m and m.group(2).lower() in _MONTH_NUM:
        return (int(m.group(3)) if m.group(3) else None), _MONTH_NUM[m.group(2).lower()], int(m.group(1))
    m = re.fullmatch(r"([A-Za-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s*(\d{4})?", t)
    if m and m.group(1).lower() in _MONTH_NUM:
        return (int(m.group(3)) if m.group(3) else None), _MONTH_NUM[m.group(1).lower()], int(m.group(2))
    m = re.fullmatch(r"(?:(?:early|mid|late)\s+)?([A-Za-z]+)\.?\s+(\d{4})", t)
    if m and m.group(1).lower() in _MONTH_NUM:
        return int(m.group(2)), _MONTH_NUM[m.group(1).lower()], None
    if re.fullmatch(r"(?:19|20)\d{2}", t):
        return int(t), None, None
    return None, None, None


def date_forms(text: str) -> list[str]:
    """The phrase as written first, then other common spellings of the same date ([text] when unparsed)."""
    y, mo, d = _parse(text)
    forms = [text]
    if mo is not None and d is not None:
        name = MONTH_NAMES[mo - 1]
        forms += [f"{d} {name}" + (f" {y}" if y else ""), f"{name} {d}" + (f", {y}" if y else "")]
        if y:
            forms.append(f"{y:04d}-{mo:02d}-{d:02d}")
    elif mo is not None and y is not None:
        forms += [f"{MONTH_NAMES[mo - 1]} {y}", f"{y:04d}-{mo:02d}"]
    out: list[str] = []
    for f in forms:
        if f not in out:
            out.append(f)
    return out


def time_field_date(time: str | None) -> str:
    """"2023-04-02T09:15:00Z" -> "2 April 2023"; "" when missing or unreadable."""
    if not time:
        return ""
    try:
        dt = datetime.fromisoformat(time.replace("Z", "+00:00"))
    except ValueError:
        return ""
    return f"{dt.day} {MONTH_NAMES[dt.month - 1]} {dt.year}"


def dated_text(text: str, kind: str, time: str | None) -> str:
    """The memory text with its event date put in front, for an episodic memory whose text has no date."""
    date = time_field_date(time)
    if kind != "episodic" or not date or DATE_RE.search(text) or re.search(r"\b(?:yesterday|today|tomorrow|"
                                                                           r"last|ago|next)\b", text, re.I):
        return text
    return f"On {date}, {text}"
