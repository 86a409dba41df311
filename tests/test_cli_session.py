"""Long-running CLI modes: `tanya chat` at a prompt and `tanya index update --watch` following a folder."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import make_app, write_article

ENV = {"PATH": "/usr/bin:/bin", "TANYA_MODEL__NAME": "hashing"}
GOOD = (
    "Sorong - Bupati Sorong Raya, Yohanes Kambu, menerima Ketua Adat Moi, Silas Malak, Selasa (9/4). "
    "Keduanya sepakat menjaga hutan adat seluas 500 hektare."
)


def tanya(index: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "tanya", "--index", str(index), *args]


def test_chat_answers_each_question_until_an_empty_line(tmp_path: Path) -> None:
    write_article(tmp_path / "articles", "hutan.txt", "Bupati terima ketua adat", GOOD)
    index = tmp_path / "index"
    subprocess.run(
        tanya(index, "index", "build", str(tmp_path / "articles")), env=ENV, check=True, capture_output=True
    )
    result = subprocess.run(
        tanya(index, "chat"),
        input="Siapa ketua adat yang diterima Bupati Sorong Raya?\n"
        "Berapa harga tiket kereta cepat ke Bandung?\n\n",
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Silas Malak" in result.stdout
    assert result.stdout.count("\n? ") == 3  # a prompt for each question and one for the empty line


def test_watch_updates_after_files_appear_change_and_disappear(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    write_article(folder, "hutan.txt", "Bupati terima ketua adat", GOOD)
    index = tmp_path / "index"
    process = subprocess.Popen(
        tanya(index, "index", "update", "--watch", "--json", str(folder)),
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        app = make_app(tmp_path)

        def wait_for_ids(expected: set[str]) -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if set(app.index.db.article_hashes()) == expected:
                        return
                except Exception:  # the index may not exist yet
                    pass
                time.sleep(0.3)
            raise AssertionError(f"index never held {expected}")

        wait_for_ids({"hutan.txt"})
        write_article(
            folder,
            "laut.txt",
            "Nelayan dan TNI AL sepakat",
            "Raja Ampat - Nelayan dan TNI AL sepakat berpatroli bersama, Rabu (10/4).",
        )
        wait_for_ids({"hutan.txt", "laut.txt"})
        (folder / "hutan.txt").unlink()
        wait_for_ids({"laut.txt"})
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert "Traceback" not in err
    summaries = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert summaries[0]["added"] == 1
    assert sum(s["added"] for s in summaries) == 2 and sum(s["removed"] for s in summaries) == 1


def test_watch_updates_once_as_soon_as_it_is_watching(tmp_path: Path) -> None:
    # A file that arrived between the last update and the start of watching raised no event; the first
    # update after the watch starts must still pick it up, without waiting for another change.
    import threading

    from tanya.watch import watch_sources

    folder = tmp_path / "articles"
    folder.mkdir()
    calls: list[float] = []
    stop = threading.Event()
    watcher = threading.Thread(target=watch_sources, args=([folder], lambda: calls.append(1.0), 0.1, stop))
    watcher.start()
    try:
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:
            time.sleep(0.05)
        assert calls == [1.0]  # no file event at all, and still one update
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert not watcher.is_alive()
