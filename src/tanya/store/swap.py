"""Putting a freshly built index folder in place of the old one in one atomic step."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
from pathlib import Path

from tanya.store.manifest import fsync_dir

log = logging.getLogger(__name__)

_RENAME_EXCHANGE = 2  # from linux/fs.h
_AT_FDCWD = -100
OWN_FILES = ("tanya.db", "vectors.faiss", "manifest.json", "keyword.impact")


def building_path(target: Path) -> Path:
    """Where a build of `target` is written before it is swapped in."""
    return target.parent / f".{target.name}.building-{os.getpid()}"


def remove_leftovers(target: Path) -> None:
    """Delete half-built folders that killed builds left beside `target` (call under the write lock)."""
    for pattern in (f".{target.name}.building-*", f".{target.name}.old-*"):
        for leftover in target.parent.glob(pattern):
            log.info("removing %s, left by an interrupted build", leftover)
            shutil.rmtree(leftover, ignore_errors=True)


def swap_in(built: Path, target: Path) -> None:
    """Make `built` the folder at `target`; readers see the old index or the new one, never neither."""
    if target.exists():
        for item in target.iterdir():  # files tanya does not own (a README, .gitkeep) stay with the folder
            if item.is_file() and not item.name.startswith(OWN_FILES) and not (built / item.name).exists():
                shutil.copy2(item, built / item.name)
        if _exchange(built, target):
            shutil.rmtree(built, ignore_errors=True)  # `built` now holds the old index
        else:
            # No atomic exchange here: two renames, with a moment in which `target` is missing.
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            os.replace(target, old)
            os.replace(built, target)
            shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(built, target)
    fsync_dir(target.parent)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with Linux renameat2(RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0
