"""Whole-number settings from the environment (XERO_ASSETS_*), read where they are used.

One parser, so every such setting refuses a bad value the same way: the error names the variable, what it was given
and what to give instead, and it is a ConfigError, which the CLI reports as bad configuration (exit 2) without a
traceback.
"""

from __future__ import annotations

import os

from xero_assets.xero.config import ConfigError


def whole_number(name: str, default: int, minimum: int = 0) -> int:
    """The environment variable `name` as a whole number of at least `minimum`, or `default` when it is unset or
    blank."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise ConfigError(
            f"{name}={raw!r}: give a whole number, {minimum} or more, or unset it for the default {default}"
        )
    return value
