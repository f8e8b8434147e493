"""Input files -> Memory and Question records (SPEC sections 1-2), with one-line, line-numbered errors.

`read_memories` accepts three shapes and tells them apart from the content (the extension only decides whether
text that does not parse as JSON is an error or plain notes):

- JSON Lines memory records (`{"text": ...}`, only `text` required);
- plain text (`.txt`, `.md`, anything that is not JSON): one memory per non-empty line;
- chat transcripts, OpenAI style: a JSON array of `{"role", "content"}` messages, an object
  `{"messages": [...]}`, or JSON Lines of messages. Each user message becomes one episodic memory.

`read_questions` reads JSON Lines evaluation questions. Every problem with the input raises `InputError`
(file, line, problem); texts are kept exactly as given.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from memory_lora.records import (
    MEMORY_KINDS,
    QUESTION_TYPES,
    InputError,
    Memory,
    Question,
    normalize_text,
    stable_memory_id,
)

MAX_LINE_BYTES = 16 * 1024
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
# Memory dataclass fields: never copied into `extra`, because Memory.to_dict merges extra last and a stray
# "id" there would silently replace the real id.
_MEMORY_FIELDS = ("id", "text", "user", "time", "kind", "source")
_QUESTION_FIELDS = ("id", "question", "answers", "type", "evidence")
_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")


def read_memories(path: str | Path) -> list[Memory]:
    """Reads memories from a JSONL, plain-text or chat-transcript file.

    Args:
        path: The input file. The format is detected from its content.

    Returns:
        The memories in file order. Memories without an explicit id get `stable_memory_id(text)`, so two lines
        with the same normalized text share an id (the store keeps the first and counts the rest as skipped).

    Raises:
        InputError: On unreadable files, non-UTF-8 bytes, invalid JSON, missing or wrong-typed fields, unknown
            kinds, bad times, duplicate explicit ids, lines over MAX_LINE_BYTES, or a file with no memories.
    """
    name = str(path)
    text = _read_text(path)
    stripped = text.lstrip()
    if not stripped:
        raise InputError(name, 1, "no memories: the file is empty")
    json_suffix = Path(path).suffix.lower() in JSON_SUFFIXES
    lines = _LineIndex(text)

    memories: list[Memory] | None = None
    if stripped[0] in "[{":
        memories = _read_json_document(text, name, lines, json_suffix)
    elif json_suffix:
        # A .json/.jsonl file that starts with something else: report its first line's JSON or type error.
        memories = _read_records([*_jsonl_objects(text, name)], name)
    if memories is None:
        memories = _read_plain(text, name)
    if not memories:
        raise InputError(name, 1, "no memories: the file holds no user memories")
    return memories


def read_questions(path: str | Path) -> list[Question]:
    """Reads evaluation questions from a JSON Lines file (SPEC section 2).

    Args:
        path: The questions file, one JSON object per line.

    Returns:
        The questions in file order. A question without an id gets "q-" plus a hash of its normalized text.

    Raises:
        InputError: On unreadable files, non-UTF-8 bytes, invalid JSON, missing or wrong-typed fields, unknown
            types, duplicate ids, lines over MAX_LINE_BYTES, or a file with no questions.
    """
    name = str(path)
    text = _read_text(path)
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for line_no, obj in _jsonl_objects(text, name):
        q = _question_from_record(obj, name, line_no)
        if q.id in seen:
            raise InputError(name, line_no, f"duplicate id {q.id!r} (first on line {seen[q.id]})")
        seen[q.id] = line_no
        questions.append(q)
    if not questions:
        raise InputError(name, 1, "no questions: the file is empty")
    return questions


def _read_text(path: str | Path) -> str:
    """File bytes -> str, with a line-numbered error for the first byte that is not UTF-8."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise InputError(name, None, f"cannot read file: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise InputError(name, line, f"not valid UTF-8 (byte 0x{data[e.start]:02x} at column {col})") from None
    # Editors on Windows write a BOM; it is not part of the first memory and would break json.loads.
    return text.removeprefix("\ufeff")


def _split_lines(text: str, name: str) -> Iterator[tuple[int, str]]:
    """Yields (line number, line without its terminator), enforcing MAX_LINE_BYTES.

    Splits on "\\n" only (not str.splitlines, which also breaks on U+2028 and form feeds) so line numbers
    agree with the ones json reports.
    """
    for i, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        size = len(line.encode("utf-8"))
        if size > MAX_LINE_BYTES:
            raise InputError(name, i, f"line is {size} bytes, over the {MAX_LINE_BYTES}-byte limit")
        yield i, line


def _jsonl_objects(text: str, name: str) -> Iterator[tuple[int, object]]:
    """Yields (line number, decoded value) for each non-blank line of a JSON Lines text."""
    for line_no, line in _split_lines(text, name):
        if not line.strip():
            continue
        yield line_no, _loads(line, name, line_no)


def _loads(text: str, name: str, line: int) -> object:
    """json.loads with errors as InputError; `line` is where `text` starts in the file."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(name, line + e.lineno - 1, f"invalid JSON: {e.msg} (column {e.colno})") from None
    except RecursionError:  # e.g. "[[[[...": json's decoder recurses per nesting level
        raise InputError(name, line, "invalid JSON: nested too deeply") from None


class _LineIndex:
    """Character offset -> line number, in O(log n) (chat arrays can hold thousands of messages)."""

    def __init__(self, text: str):
        self._newlines = [m.start() for m in re.finditer("\n", text)]

    def line(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1


def _read_json_document(text: str, name: str, lines: _LineIndex, json_suffix: bool) -> list[Memory] | None:
    """Parses text that starts with "[" or "{". Returns None when it is not JSON and may be read as plain text."""
    start = len(text) - len(text.lstrip())
    try:
        doc = _loads(text, name, 1)
    except InputError:
        # JSON Lines fail as a whole document; a first line that is an object on its own tells them apart from
        # a broken pretty-printed document, whose own error carries the right line.
        if text[start] == "{" and _first_line_is_object(text):
            return _read_records([*_jsonl_objects(text, name)], name)
        if json_suffix:
            raise
        return None

    if isinstance(doc, list):
        if not json_suffix and not all(isinstance(m, dict) for m in doc):
            return None  # e.g. a note that happens to read "[1, 2]"
        # An array of messages (the usual export) or of memory records: the first item decides.
        return _read_records(list(zip([lines.line(p) for p in _array_positions(text, start)], doc, strict=True)), name)
    if "messages" in doc:
        if not isinstance(doc["messages"], list):
            raise InputError(name, lines.line(start), f"'messages' must be an array, got {_json_type(doc['messages'])}")
        pos = _messages_position(text, start)
        positions = _array_positions(text, pos) if pos is not None else [start] * len(doc["messages"])
        return _read_chat(doc["messages"], [lines.line(p) for p in positions], name)
    # One record, maybe pretty-printed over several lines: still subject to the line limit.
    for _ in _split_lines(text, name):
        pass
    return _read_records([(lines.line(start), doc)], name)


def _first_line_is_object(text: str) -> bool:
    """True when the first non-blank line decodes to a JSON object (the mark of a JSON Lines file)."""
    line = next(ln for ln in text.split("\n") if ln.strip())
    try:
        return isinstance(_loads(line, "", 1), dict)
    except InputError:
        return False


def _array_positions(text: str, i: int) -> list[int]:
    """Character offsets of the items of the JSON array starting at text[i] (already known to be valid)."""
    i = _WS.match(text, i + 1).end()
    positions: list[int] = []
    if text[i] == "]":
        return positions
    while True:
        positions.append(i)
        _, end = _DECODER.raw_decode(text, i)
        i = _WS.match(text, end).end()
        if text[i] != ",":
            return positions
        i = _WS.match(text, i + 1).end()


def _messages_position(text: str, i: int) -> int | None:
    """Offset of the value of the top-level "messages" key of the JSON object at text[i] (last one wins)."""
    found = None
    i = _WS.match(text, i + 1).end()
    while text[i] == '"':
        key, i = _DECODER.raw_decode(text, i)
        i = _WS.match(text, i).end() + 1  # past ":"
        i = _WS.match(text, i).end()
        if key == "messages":
            found = i
        _, i = _DECODER.raw_decode(text, i)
        i = _WS.match(text, i).end()
        if text[i] == ",":
            i = _WS.match(text, i + 1).end()
    return found


def _read_plain(text: str, name: str) -> list[Memory]:
    """One memory per non-blank line, text kept exactly (only the line terminator removed)."""
    source = Path(name).name
    return [
        Memory(id=stable_memory_id(line), text=line, source=source)
        for _, line in _split_lines(text, name)
        if line.strip()
    ]


def _is_message(obj: object) -> bool:
    return isinstance(obj, dict) and "role" in obj and "text" not in obj


def _read_records(items: list[tuple[int, object]], name: str) -> list[Memory]:
    """JSON objects -> memories. The first object decides: chat messages or memory records."""
    if items and _is_message(items[0][1]):
        return _read_chat([obj for _, obj in items], [ln for ln, _ in items], name)
    memories: list[Memory] = []
    seen: dict[str, tuple[int, bool]] = {}
    for line_no, obj in items:
        memory, explicit = _memory_from_record(obj, name, line_no)
        _check_duplicate(seen, memory.id, explicit, name, line_no)
        memories.append(memory)
    return memories


def _check_duplicate(seen: dict[str, tuple[int, bool]], mid: str, explicit: bool, name: str, line_no: int) -> None:
    """Duplicate ids are an error, except two derived ids (same normalized text: the store dedupes those)."""
    if mid in seen:
        first_line, first_explicit = seen[mid]
        if explicit or first_explicit:
            raise InputError(name, line_no, f"duplicate id {mid!r} (first on line {first_line})")
        return
    seen[mid] = (line_no, explicit)


def _memory_from_record(obj: object, name: str, line: int) -> tuple[Memory, bool]:
    """Validates one memory record; returns the memory and whether its id was given explicitly."""
    if not isinstance(obj, dict):
        raise InputError(name, line, f"expected a JSON object, got {_json_type(obj)}")
    text = obj.get("text")
    if text is None:
        hint = " (chat messages cannot be mixed with memory records)" if "role" in obj else ""
        raise InputError(name, line, f"missing required field 'text'{hint}")
    if not isinstance(text, str):
        raise InputError(name, line, f"'text' must be a string, got {_json_type(text)}")
    if not text.strip():
        raise InputError(name, line, "'text' is empty")
    _check_size(text, name, line)
    mid = _optional_str(obj, "id", name, line)
    if mid is not None and not mid.strip():
        raise InputError(name, line, "'id' is empty")
    kind = _optional_str(obj, "kind", name, line) or "semantic"
    if kind not in MEMORY_KINDS:
        raise InputError(name, line, f"unknown kind {kind!r} (expected one of: {', '.join(MEMORY_KINDS)})")
    memory = Memory(
        id=mid if mid is not None else stable_memory_id(text),
        text=text,
        user=_optional_str(obj, "user", name, line),
        time=_check_time(_optional_str(obj, "time", name, line), name, line),
        kind=kind,
        source=_optional_str(obj, "source", name, line),
        extra={k: v for k, v in obj.items() if k not in _MEMORY_FIELDS},
    )
    return memory, mid is not None


def _read_chat(messages: list, line_numbers: list[int], name: str) -> list[Memory]:
    """Chat messages -> one episodic memory per non-empty user message (assistant/system turns are skipped:
    they are not the user's memories). `line_numbers[i]` is the line where message i starts."""
    memories: list[Memory] = []
    seen: dict[str, tuple[int, bool]] = {}
    for line_no, msg in zip(line_numbers, messages, strict=True):
        if not isinstance(msg, dict):
            raise InputError(name, line_no, f"expected a chat message object, got {_json_type(msg)}")
        if "role" not in msg:
            raise InputError(name, line_no, "chat message without a 'role' (memory records cannot be mixed in)")
        role = msg["role"]
        if not isinstance(role, str):
            raise InputError(name, line_no, f"'role' must be a string, got {_json_type(role)}")
        if role != "user":
            continue
        text = _message_text(msg.get("content"), name, line_no)
        if text is None or not text.strip():
            continue  # e.g. an image-only message: nothing to remember
        _check_size(text, name, line_no)
        mid = _optional_str(msg, "id", name, line_no)
        memory = Memory(
            id=mid if mid else stable_memory_id(text),
            text=text,
            time=_check_time(_optional_str(msg, "time", name, line_no), name, line_no),
            kind="episodic",
            source="chat",
            extra={k: v for k, v in msg.items() if k not in ("role", "content", *_MEMORY_FIELDS)},
        )
        _check_duplicate(seen, memory.id, bool(mid), name, line_no)
        memories.append(memory)
    return memories


def _message_text(content: object, name: str, line: int) -> str | None:
    """OpenAI content: a string, null, or a list of parts of which the text parts are kept (joined by newlines)."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    raise InputError(name, line, f"'content' must be a string or a list of parts, got {_json_type(content)}")


def _question_from_record(obj: object, name: str, line: int) -> Question:
    """Validates one question record (SPEC section 2)."""
    if not isinstance(obj, dict):
        raise InputError(name, line, f"expected a JSON object, got {_json_type(obj)}")
    question = obj.get("question")
    if question is None:
        raise InputError(name, line, "missing required field 'question'")
    if not isinstance(question, str):
        raise InputError(name, line, f"'question' must be a string, got {_json_type(question)}")
    if not question.strip():
        raise InputError(name, line, "'question' is empty")
    answers = obj.get("answers")
    if answers is None:
        raise InputError(name, line, "missing required field 'answers'")
    if not isinstance(answers, list) or not answers:
        raise InputError(name, line, "'answers' must be a non-empty list of strings")
    for a in answers:
        # An empty gold answer is "contained" in every reply and would score everything as correct.
        if not isinstance(a, str) or not a.strip():
            raise InputError(name, line, f"'answers' must hold non-empty strings, got {json.dumps(a)}")
    qtype = _optional_str(obj, "type", name, line) or "single-hop"
    if qtype not in QUESTION_TYPES:
        raise InputError(name, line, f"unknown type {qtype!r} (expected one of: {', '.join(QUESTION_TYPES)})")
    evidence = obj.get("evidence")
    if evidence is None:
        evidence = []
    if not isinstance(evidence, list) or not all(isinstance(e, str) for e in evidence):
        raise InputError(name, line, "'evidence' must be a list of memory id strings")
    qid = _optional_str(obj, "id", name, line)
    if qid is not None and not qid.strip():
        raise InputError(name, line, "'id' is empty")
    if qid is None:
        qid = "q-" + hashlib.sha256(normalize_text(question).encode("utf-8")).hexdigest()[:12]
    extra = {k: v for k, v in obj.items() if k not in _QUESTION_FIELDS}
    return Question(id=qid, question=question, answers=list(answers), type=qtype, evidence=list(evidence),
                    extra=extra)


def _json_type(value: object) -> str:
    """JSON's name for a decoded value, for messages a user can act on."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _optional_str(obj: dict, key: str, name: str, line: int) -> str | None:
    """obj[key] when it is a string, None when absent or null, InputError for any other type."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise InputError(name, line, f"'{key}' must be a string, got {_json_type(value)}")


def _check_size(text: str, name: str, line: int) -> None:
    """One memory may not exceed MAX_LINE_BYTES, whatever the format (arrays can hold it on one long line)."""
    size = len(text.encode("utf-8"))
    if size > MAX_LINE_BYTES:
        raise InputError(name, line, f"memory text is {size} bytes, over the {MAX_LINE_BYTES}-byte limit")


def _check_time(value: str | None, name: str, line: int) -> str | None:
    """Validates an ISO 8601 time and returns it unchanged (raw input is never rewritten)."""
    if value is None:
        return None
    candidate = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        datetime.fromisoformat(candidate)
    except ValueError:
        raise InputError(name, line, f"'time' is not ISO 8601: {value!r}") from None
    return value
