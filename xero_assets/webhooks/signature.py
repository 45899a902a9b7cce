"""Xero's webhook signature: `x-xero-signature` is base64(HMAC-SHA256(webhook key, raw request body)).

It is computed over the bytes as received, never over re-serialised JSON (which would reorder or re-space them),
and compared in constant time so a forger learns nothing from how long a wrong guess takes to be refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SIGNATURE_HEADER = "x-xero-signature"
WEBHOOK_KEY_ENV = "XERO_WEBHOOK_KEY"  # the app's webhook key, as developer.xero.com shows it (your app, Webhooks)


def signature_of(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def is_signed_by(key: str, body: bytes, signature: str | None) -> bool:
    """True only when `signature` is the key's signature of exactly these bytes."""
    if not key or not signature:
        return False
    return hmac.compare_digest(signature_of(key, body).encode(), signature.strip().encode())
