"""Load on the Telegram bot: many chats asking at once, through a fake Bot API, with the real model.

    python bench/bot_load.py                    # 200 questions from 20 chats at once, examples/articles
    python bench/bot_load.py --chats 50 --per-chat 10

Runs `tanya bot` as a user would (its own process, the bundled model, long polling against the fake Bot API
of tests/fake_bot_api.py on 127.0.0.1), then:
  1. baseline: one question at a time, each sent after the previous reply arrived;
  2. burst: every chat sends all its questions in the same instant.
A question counts as replied when its chat gets the last message of an answer (or the no-answer message).
Latency is from the moment the question was queued at the fake API to that message; in the burst every
question is queued at once, so its latency includes waiting behind the others. Nothing may be lost.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from fake_bot_api import FakeBotApi, Sent  # noqa: E402

from tanya.bot.render import SOMETHING_WENT_WRONG  # noqa: E402
from tanya.render import NO_ANSWER  # noqa: E402

TOKEN = "123456789:AAE-bench_only_token_0123456789abcdef"
OFF_CORPUS = ["Berapa harga tiket pesawat ke Tokyo bulan depan?", "Siapa juara Piala Dunia 1986?"]


def questions() -> list[str]:
    lines = (ROOT / "examples" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()] + OFF_CORPUS


def is_final(message: Sent) -> bool:
    """The last message of a reply: an answer's closing part, the no-answer text, or an error."""
    return "Keyakinan:" in message.text or message.text in (NO_ANSWER, SOMETHING_WENT_WRONG)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def start_bot(fake: FakeBotApi, workdir: Path, sources: list[str] | None = None) -> subprocess.Popen[str]:
    config = workdir / "config.yaml"
    config.write_text(json.dumps({
        "sources": sources or [str(ROOT / "examples" / "articles")],
        "index_dir": str(workdir / "index"),
        "telegram": {"base_url": fake.base_url, "base_file_url": fake.base_file_url, "rate_limit": 0},
    }))
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen([sys.executable, "-m", "tanya", "--config", str(config), "bot"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    fake.wait_call("getUpdates", timeout=300)  # polling starts once the index is built and the model loaded
    return process


def finals(fake: FakeBotApi, chat_id: int) -> list[Sent]:
    return [m for m in fake.messages_to(chat_id) if is_final(m)]


def baseline(fake: FakeBotApi, asked: list[str], chat_id: int) -> dict[str, object]:
    chat = fake.private_chat(chat_id)
    latencies: list[float] = []
    answered = 0
    started = time.monotonic()
    for number, question in enumerate(asked, 1):
        update = fake.send_text(chat, chat_id, question)
        reply = fake.wait_for(lambda n=number: len(f := finals(fake, chat_id)) >= n and f[n - 1], timeout=120)
        latencies.append(reply.at - fake.enqueued_at[update])
        answered += reply.text not in (NO_ANSWER, SOMETHING_WENT_WRONG)
    return row("one at a time (baseline)", len(asked), latencies, answered, time.monotonic() - started)


def burst(fake: FakeBotApi, asked: list[str], chats: int, first_chat: int) -> dict[str, object]:
    ids = [first_chat + n for n in range(chats)]
    queued: list[int] = []
    for chat_id in ids:
        chat = fake.private_chat(chat_id)
        queued += [fake.send_text(chat, chat_id, q) for q in asked]
    sent_at = min(fake.enqueued_at[u] for u in queued)
    expected = len(asked)
    with contextlib.suppress(TimeoutError):  # whatever is missing then is counted as lost
        fake.wait_for(lambda: all(len(finals(fake, c)) >= expected for c in ids), timeout=600)
    replies = [m for c in ids for m in finals(fake, c)]
    latencies = [m.at - sent_at for m in replies]
    answered = sum(m.text not in (NO_ANSWER, SOMETHING_WENT_WRONG) for m in replies)
    total = max(latencies) if latencies else float("nan")
    return row(f"{len(queued)} at once from {chats} chats", len(queued), latencies, answered, total)


def row(name: str, asked: int, latencies: list[float], answered: int, seconds: float) -> dict[str, object]:
    worst = max(latencies) if latencies else float("nan")
    return {"scenario": name, "asked": asked, "replied": len(latencies), "with quotes": answered,
            "lost": asked - len(latencies), "p50 ms": pct(latencies, 0.5) * 1000,
            "p95 ms": pct(latencies, 0.95) * 1000, "max ms": worst * 1000,
            "total s": seconds, "q/s": len(latencies) / seconds if seconds else float("nan")}


def print_table(rows: list[dict[str, object]]) -> None:
    columns = list(rows[0])
    widths = [max(len(c), *(len(fmt(r[c])) for r in rows)) for c in columns]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(fmt(r[c]).ljust(w) for c, w in zip(columns, widths, strict=True)) + " |")


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.0f}" if value >= 100 else f"{value:.1f}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--per-chat", type=int, default=10)
    args = parser.parse_args()
    pool = questions()
    asked = [pool[n % len(pool)] for n in range(args.per_chat)]
    load_before = os.getloadavg()[0]
    with FakeBotApi(TOKEN) as fake, tempfile.TemporaryDirectory() as tmp:
        bot = start_bot(fake, Path(tmp))
        try:
            rows = [baseline(fake, pool, 1), burst(fake, asked, args.chats, 1000)]
        finally:
            bot.send_signal(signal.SIGTERM)
            _, stderr = bot.communicate(timeout=60)
        if TOKEN in stderr:
            raise SystemExit("the token appeared in the bot's output")
    print(f"tanya bot over examples/articles, bundled model, {os.cpu_count()} CPU cores, "
          f"Python {platform.python_version()}; fake Bot API on 127.0.0.1; "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print_table(rows)
    lost = sum(int(str(r["lost"])) for r in rows)
    if lost:
        raise SystemExit(f"{lost} question(s) got no reply")


if __name__ == "__main__":
    main()
