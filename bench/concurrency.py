"""Questions during an update: the bot and the CLI keep answering while `tanya index update` adds articles.

    python bench/concurrency.py                 # 500 new articles; 500 questions by bot, 500 by CLI
    python bench/concurrency.py --articles 100 --questions 200

Runs three processes as a user would, all with the bundled model: `tanya bot` (long polling against the fake
Bot API of tests/fake_bot_api.py on 127.0.0.1), `tanya ask --batch -` (one process, questions streamed in), and
`tanya index update` adding new articles (fictional, generated here) to the folder the index was built from.
Questions are sent while the update runs. Then it checks: every question got a reply without an error; the
index is consistent (`tanya index check`); and once the update has committed, a question that only a new
article answers is answered from it, by the bot and by the CLI, with no restart.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bot_load import TOKEN, finals, print_table, questions, start_bot  # noqa: E402
from fake_bot_api import FakeBotApi  # noqa: E402

from tanya.bot.render import SOMETHING_WENT_WRONG  # noqa: E402

PROBE = "Siapa Ketua Koperasi Tenun Sentosa{n} yang bertemu Camat Lembah Baru{n}?"


def write_new_articles(folder: Path, count: int) -> None:
    """Fictional articles, each naming a different cooperative head; one JSONL file."""
    with open(folder / "baru.jsonl", "w", encoding="utf-8") as handle:
        for n in range(count):
            text = (
                f"Lembah Baru{n} - Camat Lembah Baru{n}, Drs. Halim Saputra{n}, bertemu Ketua Koperasi Tenun "
                f"Sentosa{n}, Hj. Wulan Pertiwi{n}, Senin (6/5). Keduanya sepakat membuka galeri tenun di pasar "
                f'kecamatan. "Galeri ini untuk 40 perajin," kata Wulan. Pertemuan dihadiri lurah setempat.'
            )
            record = {
                "id": f"baru-{n}",
                "title": f"Camat Lembah Baru{n} temui koperasi tenun",
                "date": "2024-05-06",
                "source": "Contoh Fiktif (bench)",
                "text": text,
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def tanya(config: Path, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen(
        [sys.executable, "-m", "tanya", "--config", str(config), *args], env=env, text=True, **kwargs
    )  # type: ignore[call-overload]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--questions", type=int, default=500, help="per side: bot and CLI")
    parser.add_argument("--chats", type=int, default=10)
    args = parser.parse_args()
    pool = questions()
    with FakeBotApi(TOKEN) as fake, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        articles = workdir / "articles"
        shutil.copytree(ROOT / "examples" / "articles", articles)
        bot = start_bot(fake, workdir, sources=[str(articles)])  # builds the index of the examples first
        config = workdir / "config.yaml"
        cli = tanya(
            config,
            "ask",
            "--batch",
            "-",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        cli_rows: list[dict[str, object]] = []
        reader = threading.Thread(target=lambda: cli_rows.extend(json.loads(line) for line in cli.stdout))
        reader.start()

        write_new_articles(articles, args.articles)
        started = time.monotonic()
        update = tanya(config, "index", "update", "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        chats = [fake.private_chat(5000 + c) for c in range(args.chats)]
        per_chat = args.questions // args.chats
        for i in range(args.questions):  # spread over the update: both sides ask while it runs
            chat = chats[i % args.chats]
            fake.send_text(chat, chat["id"], pool[i % len(pool)])
            cli.stdin.write(json.dumps({"id": i, "question": pool[(i + 3) % len(pool)]}) + "\n")
            cli.stdin.flush()
            time.sleep(0.02)
        summary_text, update_err = update.communicate(timeout=3600)
        update_seconds = time.monotonic() - started
        summary = json.loads(summary_text)

        # After the commit: a question only a new article answers, through both running processes.
        probe = PROBE.format(n=args.articles - 1)
        probe_chat = fake.private_chat(9999)
        fake.send_text(probe_chat, 9999, probe)
        cli.stdin.write(json.dumps({"id": "probe", "question": probe}) + "\n")
        cli.stdin.close()
        fake.wait_for(
            lambda: all(len(finals(fake, c["id"])) >= per_chat for c in chats) and finals(fake, 9999),
            timeout=1800,
            what="bot replies",
        )
        cli.wait(timeout=1800)
        reader.join(timeout=60)
        bot.send_signal(signal.SIGTERM)
        bot.communicate(timeout=60)
        check = subprocess.run(
            [sys.executable, "-m", "tanya", "--config", str(config), "index", "check", "--json"],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )

        bot_replies = [m for c in chats for m in finals(fake, c["id"])]
        bot_errors = sum(m.text == SOMETHING_WENT_WRONG for m in bot_replies)
        cli_errors = sum("error" in r for r in cli_rows)
        probe_bot = finals(fake, 9999)[0].text
        probe_cli = next(r for r in cli_rows if r.get("id") == "probe")
        expected_name = f"Wulan Pertiwi{args.articles - 1}"
        rows = [
            {
                "side": "bot",
                "asked": args.questions,
                "replied": len(bot_replies),
                "errors": bot_errors,
                "new article answered after commit": expected_name in probe_bot,
            },
            {
                "side": "CLI --batch",
                "asked": args.questions,
                "replied": len(cli_rows) - 1,
                "errors": cli_errors,
                "new article answered after commit": any(
                    expected_name in q["text"] for q in probe_cli["quotes"]
                ),
            },
        ]
    print(
        f"{args.articles} articles added by `tanya index update` in {update_seconds:.0f} s while "
        f"{2 * args.questions} questions were asked; {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"update summary: {summary}")
    print_table(rows)
    print(f"index check after: {json.loads(check.stdout)['ok']}")
    failed = [
        r
        for r in rows
        if r["replied"] != r["asked"] or r["errors"] or not r["new article answered after commit"]
    ]
    if failed or update.returncode or not json.loads(check.stdout)["ok"]:
        raise SystemExit(f"FAILED: {failed or update_err}")


if __name__ == "__main__":
    main()
