"""API keys for the server: each key belongs to exactly one user; the store keeps only its sha256.

A key is `ml-` + 43 url-safe characters (`secrets.token_urlsafe(32)`, 256 random bits). With that much entropy an
unsalted sha256 is enough: there is nothing to brute-force, and a hash lookup keeps authentication one indexed
query. The public key id (`key_id`, shown by `memory-lora keys list`) is derived from the hash, so it reveals nothing
about the key and can be used to revoke it.

Run: memory-lora keys create USER | memory-lora keys list USER | memory-lora keys revoke KEY_ID
"""

from __future__ import annotations

import hashlib
import re
import secrets

from memory_lora.store import Store, validate_user

KEY_PREFIX = "ml-"
# What a key can look like: anything else is rejected before hashing, so odd header values never reach the store.
_KEY_RE = re.compile(r"ml-[A-Za-z0-9_-]{43}")


def hash_key(key: str) -> str:
    """Hex sha256 of a key (what the store records)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id_of(key_hash: str) -> str:
    """The public id of a key: a short prefix of its hash."""
    return "key-" + key_hash[:12]


def create_key(store: Store, user: str) -> str:
    """Creates a new API key for a user and records its hash.

    Args:
        store: The store.
        user: The user the key will act as (created in the store if new).

    Returns:
        The key. It is shown once; only its hash is kept.

    Raises:
        ValueError: On an invalid user id.
    """
    validate_user(user)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_hash = hash_key(key)
    store.add_api_key(user, key_hash, key_id_of(key_hash))
    return key


def authenticate(store: Store, key: str | None) -> str | None:
    """Returns the user a valid, unrevoked key belongs to, else None (no key, malformed, unknown or revoked)."""
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        return None
    user = store.user_for_key_hash(hash_key(key))
    try:  # a row written around this module (by hand, an old bug) must not name a path outside the store
        return validate_user(user) if user is not None else None
    except ValueError:
        return None


def revoke_key(store: Store, key_or_id: str) -> bool:
    """Revokes a key given the key itself or its public id. Returns True if a valid key was revoked now."""
    key_id = key_id_of(hash_key(key_or_id)) if _KEY_RE.fullmatch(key_or_id) else key_or_id
    return store.revoke_api_key(key_id)
