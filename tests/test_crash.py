"""kill -9 at random points of a build or update: the index still opens and answers, the next update finishes."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_app

ARTICLES = 1200
KILLS = 10


def write_corpus(folder: Path, count: int, variant: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "berita.jsonl", "w", encoding="utf-8") as handle:
        for i in range(count):
            text = (
                f"Kota{i} - Wali Kota Kota{i}, Dr. Pejabat{i}, menerima audiensi Ketua Koperasi{i}, Senin (4/3). "
                f"Keduanya sepakat membangun gudang{i} dan dermaga{i}{variant}. "
                + " ".join(f"Kalimat tambahan {j} tentang program{i} yang dibahas." for j in range(8))
            )
            handle.write(json.dumps({"id": f"a{i}", "title": f"Rapat {i}", "text": text}) + "\n")


ENV = {"PATH": "/usr/bin:/bin", "TANYA_MODEL__NAME": "hashing"}


def run_tanya(index: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tanya", "--index", str(index), *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )


def start_tanya(index: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tanya", "--index", str(index), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ENV,
    )


@pytest.mark.parametrize("command", ["update", "build"])
def test_kill_anywhere_leaves_a_usable_index(tmp_path: Path, command: str) -> None:
    rng = random.Random(7 if command == "update" else 11)
    articles = tmp_path / "articles"
    index = tmp_path / "index"
    write_corpus(articles, 50)
    first = run_tanya(index, "index", "build", str(articles))
    assert first.returncode == 0, first.stderr
    write_corpus(articles, ARTICLES, variant="")  # 1,150 new articles and the first 50 unchanged

    for attempt in range(KILLS):
        if command == "build" and attempt % 2:
            write_corpus(articles, ARTICLES, variant=f"-v{attempt}")  # every article changed
        process = start_tanya(index, "index", command, *([str(articles)] if command == "build" else []))
        time.sleep(rng.uniform(0.3, 3.0))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)

        app = make_app(tmp_path)
        counts = app.index.db.counts()
        assert counts["articles"] >= 50, attempt
        assert counts["chunks"] == counts["keyword_rows"] == len(app.index.vectors), attempt
        # The index answers: retrieval finds the one article that names this mayor (abstention aside).
        top = app.retrieve("Siapa yang diterima Wali Kota Kota3 Dr. Pejabat3?").candidates[0]
        assert app.index.db.chunks([top.chunk_id])[top.chunk_id].article_id == "a3", attempt
        app.close()

    finished = run_tanya(index, "index", "update", "--json")
    assert finished.returncode == 0, finished.stderr
    app = make_app(tmp_path)
    assert app.index.db.counts()["articles"] == ARTICLES
    again = json.loads(run_tanya(index, "index", "update", "--json").stdout)
    assert again["chunks_embedded"] == 0 and again["unchanged"] == ARTICLES
    leftovers = [p.name for p in tmp_path.iterdir() if ".building-" in p.name or ".old-" in p.name]
    assert leftovers == []
