"""The `tanya` command end to end, as a user runs it: exit codes, JSON shapes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT, write_article

HEADLINE = "Siapa yang hadir dalam audiensi Kakanwil Kemenkumham Sumsel dengan Kepala BNNP Sumsel?"


def tanya(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tanya", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": str(Path.home())},
    )


def assert_user_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]


def test_help_lists_every_command() -> None:
    result = tanya("--help")
    assert result.returncode == 0
    for command in ("ask", "chat", "index"):
        assert command in result.stdout
    index_help = tanya("index", "--help").stdout
    for command in ("build", "update", "stats"):
        assert command in index_help


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from tanya.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n"
        "print(sorted(m for m in ('torch', 'faiss', 'telegram', 'sentence_transformers') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().endswith("[]"), result.stdout


def test_empty_question_is_a_user_error(tmp_path: Path) -> None:
    assert_user_error(tanya("--index", str(tmp_path / "i"), "ask", "   "), "question is empty")


def test_missing_batch_file_is_a_user_error(tmp_path: Path) -> None:
    assert_user_error(tanya("ask", "--batch", str(tmp_path / "none.jsonl")), "none.jsonl")


def test_bad_config_is_a_user_error(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("answer:\n  max_quotes: many\n")
    assert_user_error(tanya("--config", str(config), "ask", "apa?"), "c.yaml", "answer.max_quotes")


def test_missing_source_is_a_user_error(tmp_path: Path) -> None:
    assert_user_error(tanya("--index", str(tmp_path / "i"), "index", "build", str(tmp_path / "nope")), "nope")


def test_stats_without_index_is_a_user_error(tmp_path: Path) -> None:
    assert_user_error(tanya("--index", str(tmp_path / "i"), "index", "stats"), "tanya index build")


@pytest.mark.model
def test_ask_json_builds_the_index_and_quotes_exactly(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"sources: [{EXAMPLES}]\nindex_dir: idx\n")
    result = tanya("--config", str(config), "ask", "--json", "Apa yang disepakati dalam nota kesepahaman?")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) >= {"question", "answered", "quotes"}
    assert answer["answered"] is True
    assert 1 <= len(answer["quotes"]) <= 3
    for quote in answer["quotes"]:
        assert set(quote) >= {"article_id", "title", "date", "source", "url", "text", "start", "end", "score"}
    assert (tmp_path / "idx" / "manifest.json").is_file()


@pytest.mark.model
def test_batch_answers_in_order_and_update_adds_one(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    write_article(
        articles,
        "a.txt",
        "Pemkot Kupang dan Undana teken nota kesepahaman",
        "Kupang - Wali Kota Kupang, Dr. Yosef Lena, dan Rektor Universitas Nusa Cendana, Prof. Maria "
        'Taneo, menandatangani nota kesepahaman riset air bersih, Selasa (5/3). "Kami sepakat '
        'membangun sepuluh sumur bor," kata Yosef.',
    )
    index = str(tmp_path / "idx")
    built = tanya("--index", index, "index", "build", str(articles), "--json")
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["added"] == 1

    batch = (
        "\n".join(
            json.dumps({"id": i, "question": q})
            for i, q in [
                ("q1", "Siapa yang menandatangani nota kesepahaman riset air bersih?"),
                ("q2", "Berapa harga tiket pesawat ke Tokyo bulan depan?"),
                ("q3", "Apa yang disepakati Wali Kota Kupang dan Universitas Nusa Cendana?"),
            ]
        )
        + "\n"
    )
    result = tanya("--index", index, "ask", "--batch", "-", stdin=batch)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3"]
    assert rows[0]["answered"] and "Yosef Lena" in rows[0]["quotes"][0]["text"]
    assert rows[1]["answered"] is False and rows[1]["quotes"] == []
    assert rows[2]["answered"]

    write_article(
        articles,
        "b.txt",
        "Dinkes dan RSUD sepakat berbagi data",
        "Kupang - Kepala Dinas Kesehatan, dr. Rina Bessie, bertemu Direktur RSUD, dr. Hans Amalo, "
        "Rabu (6/3). Mereka sepakat berbagi data rujukan pasien.",
    )
    (articles / "junk.txt").write_bytes(b"\x00\x01\x02binary\x00")
    updated = tanya("--index", index, "index", "update", "--json")
    assert updated.returncode == 0, updated.stderr
    summary = json.loads(updated.stdout)
    assert (summary["added"], summary["unchanged"], summary["skipped"]) == (1, 1, 1)
    assert 1 <= summary["chunks_embedded"] <= 2
    assert "junk.txt" in updated.stderr

    answer = json.loads(
        tanya(
            "--index", index, "ask", "--json", "Siapa Direktur RSUD yang bertemu Kepala Dinas Kesehatan?"
        ).stdout
    )
    assert answer["quotes"][0]["article_id"] == "b.txt"


@pytest.mark.model
def test_headline_example_quotes_both_attendees(tmp_path: Path, shared_data: Path) -> None:
    index = str(tmp_path / "idx")
    assert tanya("--index", index, "index", "build", str(shared_data / "seed")).returncode == 0
    result = tanya("--index", index, "ask", "--json", HEADLINE)
    assert result.returncode == 0, result.stderr
    quotes = json.loads(result.stdout)["quotes"][:3]
    text = " ".join(q["text"] for q in quotes)
    assert "Dr. Ilham Djaya" in text
    assert "Brigjen Pol Tri Julianto Djatiutomo" in text


def test_every_command_has_help_and_is_in_the_readme() -> None:
    import click

    from tanya.cli import cli

    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    def walk(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
        found = []
        for name, command in group.commands.items():
            found.append((f"{prefix} {name}", command))
            if isinstance(command, click.Group):
                found += walk(command, f"{prefix} {name}")
        return found

    commands = walk(cli, "tanya")
    assert len(commands) >= 7
    for name, command in commands:
        assert (command.help or "").strip(), f"{name} has no help"
        assert f"`{name}" in readme, f"{name} is not in the README"
