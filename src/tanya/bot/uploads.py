"""Articles sent by admins: a safe file name under the articles folder, and the sources to update from."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path, PurePosixPath

from tanya.app import Tanya
from tanya.ingest import SUPPORTED_SUFFIXES

MAX_STEM_CHARS = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def is_supported(name: str) -> bool:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower() in SUPPORTED_SUFFIXES


def safe_filename(name: str) -> str:
    """A plain file name: no folders, no leading dot, only [A-Za-z0-9._-], the suffix lower-cased."""
    base = PurePosixPath(unicodedata.normalize("NFKC", name).replace("\\", "/")).name
    suffix = PurePosixPath(base).suffix.lower()
    stem = base[: len(base) - len(suffix)] if suffix else base
    if suffix not in SUPPORTED_SUFFIXES:
        stem, suffix = base, ".txt"
    stem = _UNSAFE.sub("-", stem).strip(".-_")[:MAX_STEM_CHARS].strip(".-_")
    return f"{stem or 'artikel'}{suffix}"


def same_upload(folder: Path, data: bytes) -> Path | None:
    """A file already in `folder` with exactly these bytes: sending an article twice must not index it twice."""
    if not folder.is_dir():
        return None
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            return path
    return None


def store_upload(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` as a new file under `folder`; a taken name gets -2, -3, …: nothing is overwritten."""
    folder.mkdir(parents=True, exist_ok=True)
    safe = safe_filename(name)
    stem, suffix = safe[: -len(PurePosixPath(safe).suffix)], PurePosixPath(safe).suffix
    for number in range(1, 10_000):
        path = folder / (safe if number == 1 else f"{stem}-{number}{suffix}")
        if path.resolve().parent != folder.resolve():  # cannot happen with a safe name; checked anyway
            raise ValueError(f"refusing to write outside {folder}")
        try:
            with open(path, "xb") as handle:  # exclusive: two uploads of one name never collide
                handle.write(data)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"{folder}: too many files named {safe}")


def sources_with(tanya: Tanya, folder: Path) -> list[Path]:
    """The sources the index is updated from, plus `folder` unless one of them already holds it."""
    recorded = [Path(s) for s in tanya.index.manifest.sources] if tanya.has_index() else []
    sources = [s.resolve() for s in recorded or tanya.settings.source_paths]
    folder = folder.resolve()
    if folder.exists() and not any(folder == s or s in folder.parents for s in sources):
        sources.append(folder)
    return sources
