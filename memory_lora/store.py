"""The per-home SQLite store (SPEC section 6): users, their raw memories, their adapter versions, and the hashes of
their API keys (the server's identity: one key -> exactly one user).

Layout: `HOME/store.sqlite` holds the tables; adapter weights live in `HOME/adapters/USER/vN/` (written by the
adapter code; this module only names the directory and records finished versions). User ids are validated
everywhere they enter, so no id can point outside HOME.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from memory_lora.records import MEMORY_KINDS, Memory, normalize_text, text_hash

SCHEMA_VERSION = 1
STORE_FILE = "store.sqlite"
ADAPTERS_DIR = "adapters"
# No leading dot (hidden files, ".", ".."), no path separators, bounded length.
_USER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_VERSION_DIR_RE = re.compile(r"v([1-9][0-9]*)")
_MEMORY_FIELDS = ("id", "text", "user", "time", "kind", "source")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    user TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS memories (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order
    user TEXT NOT NULL REFERENCES users(user),
    id TEXT NOT NULL,
    text TEXT NOT NULL,
    time TEXT,
    kind TEXT NOT NULL,
    source TEXT,
    text_hash TEXT NOT NULL,                -- sha256 of the raw text (what manifests record)
    norm_hash TEXT NOT NULL,                -- sha256 of normalize_text(text): the dedupe key
    raw TEXT NOT NULL,                      -- the record as given, JSON
    added_at TEXT NOT NULL,
    UNIQUE (user, id),
    UNIQUE (user, norm_hash)
);
CREATE TABLE IF NOT EXISTS adapters (
    user TEXT NOT NULL REFERENCES users(user),
    version INTEGER NOT NULL,
    path TEXT NOT NULL,
    manifest TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user, version)
);
-- Added after schema version 1 without a version bump: CREATE IF NOT EXISTS adds it to older stores, and code that
-- does not know the table ignores it, so no store becomes unreadable by an older memory_lora.
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,              -- sha256 hex of the whole key (the key itself is never stored)
    key_id TEXT NOT NULL UNIQUE,            -- short public id, to list and revoke keys without showing them
    user TEXT NOT NULL REFERENCES users(user),
    created_at TEXT NOT NULL,
    revoked_at TEXT                         -- NULL while the key is valid
);
"""


def validate_user(user: object) -> str:
    """Checks that a user id is safe to use as a directory name.

    Args:
        user: The candidate id.

    Returns:
        The id, unchanged.

    Raises:
        ValueError: Unless it matches ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ and holds no "..".
    """
    # fullmatch, not match with "$": "$" also matches before a trailing newline.
    if not isinstance(user, str) or not _USER_RE.fullmatch(user) or ".." in user:
        raise ValueError(
            f"invalid user id {user!r}: use 1-64 letters, digits, '_', '.', '-', starting with a letter or digit"
        )
    return user


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _norm_hash(text: str) -> str:
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def _adapter_record(row: tuple) -> dict:
    """(version, path, manifest JSON, created_at) row -> the dict `adapters` and `latest_adapter` return."""
    version, path, manifest, created_at = row
    return {"version": version, "path": path, "manifest": json.loads(manifest), "created_at": created_at}

class Store:
    """SQLite-backed store of users, memories and adapter versions under one HOME directory.

    Usable as a context manager (closes the connection on exit). Safe to share between threads: calls are
    serialized by a lock.

    Args:
        home: The HOME directory; created if missing.

    Raises:
        ValueError: If the database was written by a newer schema than this code knows.
    """

    def __init__(self, home: str | Path):
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.path = self.home / STORE_FILE
        self._lock = threading.RLock()
        # Autocommit mode: transactions are opened explicitly in _tx, so every write is all-or-nothing.
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    # -- lifecycle -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the database connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back on any exception."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _migrate(self) -> None:
        with self._tx() as c:
            # Statement by statement: executescript would COMMIT the open transaction first.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    c.execute(statement)
            row = c.execute("SELECT MAX(version) FROM schema_version").fetchone()
            if row[0] is None:
                c.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif row[0] > SCHEMA_VERSION:
                raise ValueError(
                    f"{self.path} has schema version {row[0]}; this memory_lora knows up to {SCHEMA_VERSION}"
                )
            # Future migrations: `if row[0] < 2: ALTER ...; UPDATE schema_version SET version = 2`.

    @staticmethod
    def validate_user(user: object) -> str:
        """See the module-level `validate_user`."""
        return validate_user(user)

    def _ensure_user(self, c: sqlite3.Connection, user: str) -> None:
        c.execute("INSERT OR IGNORE INTO users (user, created_at) VALUES (?, ?)", (user, _now()))

    # -- users and memories --------------------------------------------------------------------------------

    def users(self) -> list[str]:
        """Returns every user id known to the store, sorted."""
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT user FROM users ORDER BY user")]

    def add_memories(self, user: str, memories: Iterable[Memory]) -> tuple[int, int]:
        """Adds memories to a user, skipping ones whose normalized text the user already has.

        The whole batch is one transaction: on error nothing is added.

        Args:
            user: The owner (the store's user wins over any `user` field in the records).
            memories: Records as read by `memory_lora.ingest`; kept in the given order.

        Returns:
            (added, skipped). Skipped: same normalized text as a stored memory or an earlier one in the batch.

        Raises:
            ValueError: On an invalid user id, an empty text or unknown kind, or an id the user already has for a
                different text.
        """
        validate_user(user)
        added = skipped = 0
        with self._tx() as c:
            self._ensure_user(c, user)
            for m in memories:
                if not isinstance(m.text, str) or not m.text.strip():
                    raise ValueError(f"memory {m.id!r} has an empty text")
                if m.kind not in MEMORY_KINDS:
                    raise ValueError(f"memory {m.id!r} has unknown kind {m.kind!r}")
                norm = _norm_hash(m.text)
                row = c.execute("SELECT norm_hash FROM memories WHERE user = ? AND id = ?", (user, m.id)).fetchone()
                if row is not None:
                    if row[0] != norm:
                        raise ValueError(f"memory id {m.id!r} already exists for user {user!r} with a different text")
                    skipped += 1
                    continue
                if c.execute("SELECT 1 FROM memories WHERE user = ? AND norm_hash = ?", (user, norm)).fetchone():
                    skipped += 1
                    continue
                c.execute(
                    "INSERT INTO memories (user, id, text, time, kind, source, text_hash, norm_hash, raw, added_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        user,
                        m.id,
                        m.text,
                        m.time,
                        m.kind,
                        m.source,
                        text_hash(m.text),
                        norm,
                        json.dumps(m.to_dict(), ensure_ascii=False),
                        _now(),
                    ),
                )
                added += 1
        return added, skipped

    def memories(self, user: str) -> list[Memory]:
        """Returns a user's memories in insertion order (empty for an unknown user)."""
        validate_user(user)
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, text, time, kind, source, raw FROM memories WHERE user = ? ORDER BY seq", (user,)
            ).fetchall()
        return [self._memory(user, r) for r in rows]

    def get_memory(self, user: str, memory_id: str) -> Memory | None:
        """Returns one memory of a user, or None if the user has no memory with that id."""
        validate_user(user)
        with self._lock:
            row = self._conn.execute(
                "SELECT id, text, time, kind, source, raw FROM memories WHERE user = ? AND id = ?", (user, memory_id)
            ).fetchone()
        return self._memory(user, row) if row else None

    def delete_memory(self, user: str, memory_id: str) -> bool:
        """Deletes one memory of a user. Returns True if it existed."""
        validate_user(user)
        with self._tx() as c:
            cur = c.execute("DELETE FROM memories WHERE user = ? AND id = ?", (user, memory_id))
            return cur.rowcount > 0

    @staticmethod
    def _memory(user: str, row: tuple) -> Memory:
        mid, text, time, kind, source, raw = row
        extra = {k: v for k, v in json.loads(raw).items() if k not in _MEMORY_FIELDS}
        return Memory(id=mid, text=text, user=user, time=time, kind=kind, source=source, extra=extra)

    # -- adapter versions ----------------------------------------------------------------------------------

    def adapter_dir(self, user: str, version: int) -> Path:
        """Returns HOME/adapters/USER/vN (not created).

        Raises:
            ValueError: On an invalid user id or a version that is not a positive integer.
        """
        validate_user(user)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError(f"invalid adapter version {version!r}: must be a positive integer")
        return self.home / ADAPTERS_DIR / user / f"v{version}"

    def next_adapter_version(self, user: str) -> int:
        """Returns 1 + the highest version recorded or present on disk for the user (1 for the first).

        Directories on disk count too, so a version written but never recorded (a crash in between) is not
        overwritten.
        """
        validate_user(user)
        with self._lock:
            row = self._conn.execute("SELECT MAX(version) FROM adapters WHERE user = ?", (user,)).fetchone()
        highest = row[0] or 0
        user_dir = self.home / ADAPTERS_DIR / user
        if user_dir.is_dir():
            for p in user_dir.iterdir():
                m = _VERSION_DIR_RE.fullmatch(p.name)
                if m:
                    highest = max(highest, int(m.group(1)))
        return highest + 1

    def record_adapter(self, user: str, version: int, path: str | Path, manifest: dict) -> None:
        """Records a finished adapter version.

        Args:
            user: The owner.
            version: The version number (see `next_adapter_version`).
            path: Where the adapter lives (normally `adapter_dir(user, version)`).
            manifest: JSON-serializable manifest (SPEC section 6).

        Raises:
            ValueError: On an invalid user or version, a version already recorded, or a manifest that is not a
                JSON-serializable dict.
        """
        self.adapter_dir(user, version)  # validates user and version
        if not isinstance(manifest, dict):
            raise ValueError(f"manifest must be a dict, got {type(manifest).__name__}")
        try:
            manifest_json = json.dumps(manifest, ensure_ascii=False, sort_keys=True)
        except (TypeError, ValueError) as e:
            raise ValueError(f"manifest is not JSON-serializable: {e}") from None
        with self._tx() as c:
            self._ensure_user(c, user)
            try:
                c.execute(
                    "INSERT INTO adapters (user, version, path, manifest, created_at) VALUES (?, ?, ?, ?, ?)",
                    (user, version, str(path), manifest_json, _now()),
                )
            except sqlite3.IntegrityError:
                raise ValueError(f"adapter version {version} already recorded for user {user!r}") from None

    def adapters(self, user: str) -> list[dict]:
        """Returns a user's adapter versions, oldest first, as dicts with version, path, manifest, created_at."""
        validate_user(user)
        with self._lock:
            rows = self._conn.execute(
                "SELECT version, path, manifest, created_at FROM adapters WHERE user = ? ORDER BY version", (user,)
            ).fetchall()
        return [_adapter_record(row) for row in rows]

    def latest_adapter(self, user: str) -> dict | None:
        """Returns the highest recorded adapter version of a user (see `adapters`), or None if there is none."""
        validate_user(user)
        # One row, not all versions: the server asks this on every request.
        with self._lock:
            row = self._conn.execute(
                "SELECT version, path, manifest, created_at FROM adapters WHERE user = ? ORDER BY version DESC LIMIT 1",
                (user,),
            ).fetchone()
        return None if row is None else _adapter_record(row)

    # -- API keys (hashes only; see memory_lora.keys) ------------------------------------------------------

    def add_api_key(self, user: str, key_hash: str, key_id: str) -> None:
        """Records the hash of a new API key for a user (creating the user if needed).

        Raises:
            ValueError: On an invalid user id, a malformed hash, or a hash or id already recorded.
        """
        validate_user(user)
        if not re.fullmatch(r"[0-9a-f]{64}", key_hash or ""):
            raise ValueError("key_hash must be a sha256 hex digest")
        with self._tx() as c:
            self._ensure_user(c, user)
            try:
                c.execute("INSERT INTO api_keys (key_hash, key_id, user, created_at) VALUES (?, ?, ?, ?)",
                          (key_hash, key_id, user, _now()))
            except sqlite3.IntegrityError:
                raise ValueError("API key already recorded") from None

    def user_for_key_hash(self, key_hash: str) -> str | None:
        """Returns the user owning a valid (not revoked) key with this hash, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT user FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", (key_hash,)
            ).fetchone()
        return row[0] if row else None

    def revoke_api_key(self, key_id: str) -> bool:
        """Revokes a key by its public id. Returns True if a valid key was revoked now."""
        with self._tx() as c:
            cur = c.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                            (_now(), key_id))
            return cur.rowcount > 0

    def api_keys(self, user: str) -> list[dict]:
        """Returns a user's keys, oldest first, as dicts with key_id, created_at, revoked_at (never the key)."""
        validate_user(user)
        with self._lock:
            rows = self._conn.execute(
                "SELECT key_id, created_at, revoked_at FROM api_keys WHERE user = ? ORDER BY rowid",
                (user,),
            ).fetchall()
        return [{"key_id": k, "created_at": c, "revoked_at": r} for k, c, r in rows]
