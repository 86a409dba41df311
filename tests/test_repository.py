"""What the repository itself holds: no large files (data, model weights and built indexes stay out of git)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 2 * 1024 * 1024  # bytes


def test_no_tracked_file_is_over_2_mb() -> None:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    paths = [ROOT / name for name in tracked.decode().split("\0") if name]
    large = [f"{p.relative_to(ROOT)} ({p.stat().st_size // 1024} KB)" for p in paths if p.is_file()
             and p.stat().st_size > LIMIT]
    assert not large, f"tracked files over 2 MB: {large}"
