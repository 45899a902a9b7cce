"""Encryption at rest for OAuth tokens: Fernet (AES-128-CBC + HMAC-SHA256) keyed by XERO_ASSETS_SECRET_KEY.

A stolen database file is then useless without the key. Several comma-separated keys rotate the key: the first
encrypts, all decrypt (MultiFernet). The demo has no key to hand, so it generates one into a file only its owner
can read, instead of storing tokens in plain text.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet

from xero_assets.store.db import DEFAULT_DATA_DIR

log = logging.getLogger(__name__)

SECRET_KEY_ENV = "XERO_ASSETS_SECRET_KEY"
DEFAULT_KEY_FILE = DEFAULT_DATA_DIR / "secret.key"

Cipher = Fernet | MultiFernet


class SecretKeyError(ValueError):
    """The configured key is not a Fernet key; the message says how to make one (never echoing the value)."""


def cipher_from_keys(keys: str) -> Cipher:
    """A cipher from one key, or a comma-separated list (newest first) to rotate keys without re-connecting."""
    parts = [part.strip() for part in keys.split(",") if part.strip()]
    try:
        fernets = [Fernet(part.encode()) for part in parts]
    except (ValueError, TypeError):
        raise SecretKeyError(
            f"{SECRET_KEY_ENV} is not a valid Fernet key (32 url-safe base64-encoded bytes); generate one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
        ) from None
    if not fernets:
        raise SecretKeyError(f"{SECRET_KEY_ENV} is empty: set it to a Fernet key")
    return fernets[0] if len(fernets) == 1 else MultiFernet(fernets)


def load_or_create_key(path: Path) -> str:
    """The key stored at `path`, creating it (mode 600, owner only) on first use. For the demo and local use."""
    path = Path(path)
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    # O_EXCL: two processes starting at once must not each write a different key; the loser reads the winner's.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    os.chmod(path, 0o600)
    log.warning("generated a new token encryption key in %s (set %s to use your own)", path, SECRET_KEY_ENV)
    return key


def cipher_from_env(
    env: Mapping[str, str] | None = None,
    key_file: Path = DEFAULT_KEY_FILE,
    *,
    stored_tokens: Callable[[], int] | None = None,
) -> Cipher:
    """XERO_ASSETS_SECRET_KEY when set, else the key in `key_file`, created only if `stored_tokens()` says no tokens
    are stored yet: a new key over existing tokens would make every stored consent unreadable, silently."""
    env = os.environ if env is None else env
    keys = env.get(SECRET_KEY_ENV, "").strip()
    if keys:
        return cipher_from_keys(keys)
    key_file = Path(key_file)
    if not key_file.exists() and stored_tokens is not None:
        count = stored_tokens()
        if count:
            raise SecretKeyError(
                f"{SECRET_KEY_ENV} is not set and there is no key file at {key_file}, but the database holds the "
                f"tokens of {count} consent(s), encrypted with another key: set {SECRET_KEY_ENV} to that key (a new "
                "key would make them unreadable)"
            )
    return cipher_from_keys(load_or_create_key(key_file))
