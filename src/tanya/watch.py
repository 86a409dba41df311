"""Watch source folders and run an update shortly after files appear, change or disappear."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tanya.errors import TanyaError

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")
CHANGES = frozenset({"created", "modified", "deleted", "moved", "closed"})


def watch_sources(
    sources: Sequence[Path],
    on_change: Callable[[], None],
    debounce: float = 2.0,
    stop: threading.Event | None = None,
) -> None:
    """Call `on_change` once things have been quiet for `debounce` seconds after a change (and once after the
    watch starts); until stopped."""
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    changed = threading.Event()
    stop = stop or threading.Event()

    class _Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            paths = [str(event.src_path), str(getattr(event, "dest_path", "") or "")]
            # Reading a file raises "opened"/"closed_no_write" events; only real changes count.
            if event.event_type in CHANGES and any(p.lower().endswith(SUFFIXES) for p in paths):
                changed.set()

    observer = Observer()
    for source in sources:
        folder = source if source.is_dir() else source.parent
        observer.schedule(_Handler(), str(folder), recursive=True)
    observer.start()
    # Files that arrived after the caller's last update but before the observer started raised no event:
    # one update right after it starts catches them (it embeds nothing when nothing came).
    changed.set()
    try:
        while not stop.is_set():
            if not changed.wait(timeout=0.5):
                continue
            # Debounce: wait until no event has arrived for `debounce` seconds.
            while changed.is_set() and not stop.is_set():
                changed.clear()
                time.sleep(debounce)
            if stop.is_set():
                break
            try:
                on_change()
            except TanyaError as exc:
                log.warning("update failed: %s", exc)
    finally:
        observer.stop()
        observer.join(timeout=5)
