"""Reading a file into the OS page cache in the background, so the first questions do not wait for the disk."""

from __future__ import annotations

import os
import threading


def warm(handle: int, name: str) -> None:
    """Read the open file `handle` once, front to back, on a daemon thread that then closes it.

    Nothing is mapped into this process: the pages land in the OS cache, where later reads (SQLite's, or a
    memory map's) find them. posix_fadvise(WILLNEED) did not do this on this machine; reading does.
    """
    threading.Thread(target=_read_through, args=(handle,), daemon=True, name=f"warm-{name}").start()


def _read_through(handle: int) -> None:
    buffer = bytearray(8 << 20)
    offset = 0
    try:
        while read := os.preadv(handle, [buffer], offset):
            offset += read
    except OSError:
        pass
    finally:
        os.close(handle)
