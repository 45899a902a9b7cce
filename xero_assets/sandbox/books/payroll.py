"""Payroll employees and leave (filled in below)."""

from __future__ import annotations

from typing import Any


def generate_payroll(generator: Any) -> None:
    """Placeholder until payroll lands."""
