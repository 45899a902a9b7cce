"""`xero-assets demo --no-ui` from a fresh directory: three tenants connected through OAuth, synced, equal to the
sandbox's books, with the token key file readable by its owner only."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path


def test_demo_no_ui_syncs_three_tenants_and_prints_a_summary(tmp_path: Path) -> None:
    cli = Path(sys.executable).with_name("xero-assets")
    result = subprocess.run(
        [str(cli), "demo", "--no-ui", "--tenants", "3"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240, env={"PATH": "/usr/bin:/bin", "COLUMNS": "160"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Connected 3 organisations" in out
    assert out.count("equal") == 3, out
    key = tmp_path / ".xero_assets" / "demo" / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().strip() not in out + result.stderr
