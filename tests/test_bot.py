"""The Telegram bot through the real python-telegram-bot Application, against a fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote

import pytest
from conftest import ROOT, write_article
from fake_bot_api import Call, FakeBotApi, Sent, parse_telegram_html, utf16_len
from hypothesis import given, settings
from hypothesis import strategies as st

import tanya
from tanya.app import Tanya
from tanya.bot import render
from tanya.bot.access import RateLimiter, Verdict
from tanya.bot.app import ALLOWED_UPDATES, COMMANDS, build_application
from tanya.bot.results import Result, ResultStore, more_data, parse_callback
from tanya.bot.token import REDACTED, RedactToken, install_redaction, quiet_http_logs, read_token
from tanya.bot.uploads import safe_filename, same_upload, store_upload
from tanya.config import Settings
from tanya.embedding import Embedder, HashingEmbedder
from tanya.errors import BotTokenError
from tanya.types import Answer, Article, Quote, Span

TOKEN = "123456789:AAE-tanya_test_SECRET_0123456789abcdefXYZ"
HEADLINE = "Siapa yang hadir dalam audiensi Kakanwil Kemenkumham Sumsel dengan Kepala BNNP Sumsel?"
ALICE, BOB, MALLORY = 1001, 1002, 1003
# Subprocesses run the same tanya these tests import, wherever it is.
CHILD_ENV = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": str(Path.home()),
             "PYTHONPATH": str(Path(tanya.__file__).resolve().parents[1])}
GROUP = -100_555

TENUN = ("Bupati Sukamaju Terima Audiensi Perajin Tenun Ikat",
         "Sukamaju - Bupati Sukamaju, Drs. Ahmad Fauzi, menerima audiensi Ketua Kelompok Perajin Tenun Ikat, "
         "Maria Goreti, di pendopo kabupaten, Senin (4/3). Maria meminta bantuan sertifikasi motif tenun. "
         "\"Kami ingin motif asli Sukamaju terlindungi,\" kata Maria.\n\n"
         "Bupati Ahmad Fauzi berjanji menyiapkan ruang pamer tenun di gedung dinas pariwisata tahun ini. "
         "Dinas Koperasi juga akan melatih perajin memasarkan kain secara daring.")
POMPA = ("Kontrak Pompa Air <Tahap 2> Diteken",
         "Direktur PT Sinar & Bakti <Persero>, Budi Hartono, menandatangani kontrak pengadaan pompa air "
         "<script>alert(1)</script> dengan nilai > Rp 5 miliar & masa kerja < 90 hari di kantor PDAM "
         "Sukamaju, Rabu (6/3). Menurut Budi, pompa itu dipasang di tiga kecamatan.")
PASAR = ("Pemkab Sukamaju Bangun Pasar Ikan Higienis",
         "Sukamaju - Kepala Dinas Perikanan Sukamaju, Ir. Hendra Wijaya, meresmikan pembangunan pasar ikan "
         "higienis di Kecamatan Pantai Indah, Kamis (7/3). Pasar ikan itu dibangun dengan dana Rp 12 miliar. "
         "Hendra mengatakan pasar ikan higienis akan menampung 200 pedagang ikan.")


# --- running the real Application against the fake API ------------------------------------------


class RunningBot:
    """The bot's Application in a thread with its own event loop, started and stopped like run_polling."""

    def __init__(self, application: Any, fake: FakeBotApi) -> None:
        self.application = application
        self.fake = fake
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="tanya-bot")

    def start(self) -> RunningBot:
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the bot did not stop"

    def idle(self, timeout: float = 15.0) -> None:
        """Wait until every queued update was fetched and handled (seen idle several times in a row)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 5:
            assert time.monotonic() < deadline, "the bot did not become idle"
            app = self.application
            busy = (self.fake.pending_updates() or not app.update_queue.empty()
                    or app.update_processor.current_concurrent_updates)
            quiet = 0 if busy else quiet + 1
            time.sleep(0.02)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        app = self.application
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await app.initialize()
        try:
            await app.post_init(app)
            await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES)
            await app.start()
            self._ready.set()
            await self._stop.wait()
        finally:
            if app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
            await app.post_shutdown(app)


@pytest.fixture(autouse=True)
def no_threads_left() -> Iterator[None]:
    """Every bot, server and worker thread a test starts is stopped by its end."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while (left := {t for t in set(threading.enumerate()) - before if t.name != "tqdm_monitor"}) \
            and time.monotonic() < deadline:  # tqdm's monitor lives as long as the process, by design
        time.sleep(0.05)
    assert not left, f"threads still running: {[t.name for t in left]}"


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi(TOKEN) as api:
        yield api


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Everything logged anywhere, at DEBUG, while the test runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


BotStarter = Callable[..., RunningBot]


@pytest.fixture
def start_bot(tmp_path: Path, fake: FakeBotApi) -> Iterator[BotStarter]:
    """start_bot(articles=..., telegram={...}, answer={...}) runs a bot over those articles."""
    running: list[RunningBot] = []
    undo: list[Callable[[], None]] = []

    def start(articles: tuple[tuple[str, str], ...] = (TENUN, POMPA, PASAR), embedder: Embedder | None = None,
              telegram: dict[str, Any] | None = None, **overrides: Any) -> RunningBot:
        folder = tmp_path / "articles"
        for number, (title, body) in enumerate(articles):
            write_article(folder, f"a{number}.txt", title, body)
        settings = Settings.model_validate({
            "sources": [str(folder)],
            "index_dir": str(tmp_path / "index"),
            "telegram": {"base_url": fake.base_url, "base_file_url": fake.base_file_url,
                         "articles_dir": str(tmp_path / "uploads"), **(telegram or {})},
            **overrides,
        })
        tanya = Tanya(settings, tmp_path / "index", embedder or HashingEmbedder())
        undo.append(install_redaction(TOKEN))  # as `tanya bot` does before building the bot
        quiet_http_logs()
        bot = RunningBot(build_application(settings, tanya, TOKEN), fake).start()
        running.append(bot)
        return bot

    yield start
    for bot in running:
        bot.stop()
    for step in reversed(undo):
        step()


def ask(fake: FakeBotApi, chat: dict[str, Any], user: int, text: str, count: int = 1) -> list[Sent]:
    """Send `text` and wait for `count` more bot messages in that chat."""
    before = len(fake.messages_to(chat["id"]))
    fake.send_text(chat, user, text)
    return fake.wait_messages(chat["id"], before + count)[before:]


# --- asking ------------------------------------------------------------------------------------


def test_private_question_is_answered_with_quotes_sources_and_buttons(fake: FakeBotApi,
                                                                       start_bot: BotStarter) -> None:
    start_bot()
    chat = fake.private_chat(ALICE)
    [reply] = ask(fake, chat, ALICE, "Siapa Ketua Kelompok Perajin Tenun Ikat yang diterima Bupati Sukamaju?")
    assert "<blockquote>" in reply.html and "</blockquote>" in reply.html
    assert "<b>Maria Goreti</b>" in reply.html  # the answering name, from Quote.highlights
    assert "Bupati Sukamaju Terima Audiensi Perajin Tenun Ikat" in reply.text  # the source line
    assert "Keyakinan" in reply.text
    assert any(b["text"].startswith("📄") for b in reply.buttons())
    assert fake.calls_of("sendChatAction")[0].params == {"chat_id": ALICE, "action": "typing"}
    assert reply.reply_to is None  # private chats need no reply threading


def test_commands_are_registered_and_answered(fake: FakeBotApi, start_bot: BotStarter) -> None:
    start_bot()
    assert [c["command"] for c in fake.commands] == [c.command for c in COMMANDS]
    assert {"start", "help", "sumber", "tanya", "reindex"} == {c["command"] for c in fake.commands}
    chat = fake.private_chat(ALICE)

    [started] = ask(fake, chat, ALICE, "/start")
    examples = [line for line in started.text.splitlines() if line.startswith("• ")]
    assert len(examples) == 3
    assert any(title in started.text for title, _ in (TENUN, PASAR, POMPA))

    [helped] = ask(fake, chat, ALICE, "/help")
    assert "/tanya" in helped.text and "@tanya_test_bot" in helped.text

    [sources] = ask(fake, chat, ALICE, "/sumber")
    assert "Artikel: 3" in sources.text and "Berita terbaru" in sources.text

    [unknown] = ask(fake, chat, ALICE, "/entahlah")
    assert unknown.text == render.UNKNOWN_COMMAND

    [tanya] = ask(fake, chat, ALICE, "/tanya Berapa pedagang ikan yang ditampung pasar ikan higienis?")
    assert "200 pedagang" in tanya.text

    [empty] = ask(fake, chat, ALICE, "/tanya")
    assert empty.text == render.ASK_HOW


def test_flood_control_delays_an_answer_but_does_not_lose_it(fake: FakeBotApi, start_bot: BotStarter) -> None:
    start_bot()
    fake.flood(1)
    [reply] = ask(fake, fake.private_chat(ALICE), ALICE, "Siapa Ketua Kelompok Perajin Tenun Ikat?")
    assert fake.flooded == 1 and "Maria Goreti" in reply.text


def test_no_answer_says_so_kindly(fake: FakeBotApi, start_bot: BotStarter) -> None:
    bot = start_bot()

    def nothing_found(question: str, max_quotes: int | None = None) -> Answer:
        return Answer(question, ())  # what the app returns when no passage clears answer.min_score

    bot.application.bot_data["tanya"].ask = nothing_found
    [reply] = ask(fake, fake.private_chat(ALICE), ALICE, "Berapa harga tiket pesawat ke Tokyo bulan depan?")
    assert reply.text == render.NO_ANSWER
    assert "kata lain" in reply.text and not reply.buttons()


def test_group_answers_only_mentions_replies_and_tanya(fake: FakeBotApi, start_bot: BotStarter) -> None:
    bot = start_bot()
    group = fake.group_chat(GROUP)
    question = "Siapa Ketua Kelompok Perajin Tenun Ikat?"

    chatter = fake.send_text(group, ALICE, question)  # no mention: other people talking
    fake.send_text(group, ALICE, f"/tanya@other_bot {question}")  # another bot's command
    fake.send_text(group, ALICE, "/entahlah")  # an untargeted unknown command: not ours to answer
    bot.idle()
    assert fake.messages_to(GROUP) == []
    assert all(c.params.get("chat_id") != GROUP for c in fake.calls_of("sendChatAction"))

    mentioned_id = fake.send_text(group, BOB, f"@tanya_test_bot {question}")
    [mentioned] = fake.wait_messages(GROUP, 1)
    assert "Maria Goreti" in mentioned.text
    assert mentioned.reply_to is not None  # threaded under the question in a group
    assert chatter < mentioned_id

    before = len(fake.messages_to(GROUP))
    fake.send_text(group, ALICE, "Berapa dana pembangunan pasar ikan higienis?", reply_to=mentioned)
    reply_to_bot = fake.wait_messages(GROUP, before + 1)[-1]
    assert "Rp 12 miliar" in reply_to_bot.text

    [by_command] = ask(fake, group, BOB, f"/tanya@tanya_test_bot {question}")
    assert "Maria Goreti" in by_command.text
    [plain_command] = ask(fake, group, BOB, f"/tanya {question}")
    assert "Maria Goreti" in plain_command.text
    [bare_mention] = ask(fake, group, BOB, "@tanya_test_bot")
    assert bare_mention.text == render.ASK_HOW

    bot.idle()
    assert len(fake.messages_to(GROUP)) == 5  # nothing for the chatter


def test_article_text_is_escaped(fake: FakeBotApi, start_bot: BotStarter) -> None:
    start_bot()
    chat = fake.private_chat(ALICE)
    [reply] = ask(fake, chat, ALICE, "Siapa Direktur PT Sinar & Bakti yang menandatangani kontrak pompa air?")
    assert "PT Sinar &amp; Bakti &lt;Persero&gt;" in reply.html
    assert "&gt; Rp 5 miliar" in reply.html and "&lt; 90 hari" in reply.html
    assert "<script>" not in reply.html and "&lt;script&gt;" in reply.html
    assert "Kontrak Pompa Air &lt;Tahap 2&gt; Diteken" in reply.html  # the title too
    assert "PT Sinar & Bakti <Persero>" in reply.text  # and Telegram shows it as written

    [paragraph] = press(fake, chat, ALICE, reply, "📄 [1]")
    assert "&lt;script&gt;" in paragraph.html and "<b>" in paragraph.html


def test_long_answer_is_split_between_quotes(fake: FakeBotApi, start_bot: BotStarter) -> None:
    def sentence(n: int, s: int) -> str:  # ~1,700 characters, its own words so no quote repeats another
        filler = " ".join(f"desa{n}x{s}x{i}" for i in range(200))
        return f"Bendungan Sungai Lestari dibangun untuk mengairi sawah menurut rencana balai, {filler}."

    long_articles = tuple((f"Bendungan Sungai Lestari bagian {n}", " ".join(sentence(n, s) for s in range(2)))
                          for n in range(4))
    start_bot(articles=long_articles, embedder=HashingEmbedder(max_tokens=2000))
    chat = fake.private_chat(ALICE)
    before = len(fake.messages_to(chat["id"]))
    fake.send_text(chat, ALICE, "Untuk apa bendungan Sungai Lestari dibangun menurut rencana balai?")
    parts = fake.wait_for(lambda: (m := fake.messages_to(ALICE)[before:]) and m[-1].buttons() and m)
    assert len(parts) >= 2
    for part in parts:
        assert utf16_len(part.text) <= 4096 and len(part.html) <= 4096
        assert part.html.count("<blockquote>") == part.html.count("</blockquote>") >= 1
    assert all(not p.buttons() for p in parts[:-1])  # the buttons ride on the last part
    assert "Keyakinan" in parts[-1].text


# --- buttons -----------------------------------------------------------------------------------


def press(fake: FakeBotApi, chat: dict[str, Any], user: int, on: Sent, label: str) -> list[Sent]:
    """Press the button labelled `label` on message `on`; returns any new messages in the chat."""
    before = len(fake.messages_to(chat["id"]))
    edits = on.edits
    callback_answer(fake, fake.press(chat, user, on, on.button(label)["callback_data"]))
    fake.wait_for(lambda: len(fake.messages_to(chat["id"])) > before or on.edits > edits, what="a reply")
    return fake.messages_to(chat["id"])[before:]


def callback_answer(fake: FakeBotApi, update_id: int) -> Call:
    """The bot's answerCallbackQuery for the button press in update `update_id`."""
    return fake.wait_call("answerCallbackQuery", lambda c: c.params["callback_query_id"] == f"cq{update_id}")


def test_more_button_edits_in_the_next_quotes(fake: FakeBotApi, start_bot: BotStarter) -> None:
    start_bot(answer={"max_quotes": 1})
    chat = fake.private_chat(ALICE)
    [reply] = ask(fake, chat, ALICE, "Siapa Bupati Sukamaju dan apa yang dijanjikan kepada perajin tenun?")
    first_text = reply.text
    assert "[1]" in first_text and "kutipan 1–1 dari" in first_text
    assert press(fake, chat, ALICE, reply, "Lebih banyak") == []  # edited in place, nothing new sent
    assert reply.edits == 1 and reply.text != first_text
    assert "[2]" in reply.text and "kutipan 2–2 dari" in reply.text
    assert [b["text"] for b in reply.buttons()][0] == "📄 [2]"

    [paragraph] = press(fake, chat, ALICE, reply, "📄 [2]")
    assert paragraph.text.startswith("Paragraf [2]")
    assert paragraph.reply_to == reply.message_id


def test_forged_or_foreign_callbacks_are_refused(fake: FakeBotApi, start_bot: BotStarter) -> None:
    bot = start_bot(answer={"max_quotes": 1})
    alice, mallory = fake.private_chat(ALICE), fake.private_chat(MALLORY)
    [answer] = ask(fake, alice, ALICE, "Siapa Bupati Sukamaju dan apa yang dijanjikan kepada perajin tenun?")
    [own] = ask(fake, mallory, MALLORY, "/help")
    stolen = answer.button("Lebih banyak")["callback_data"]
    token = stolen.split(":")[1]
    edits_before = len(fake.calls_of("editMessageText"))
    messages_before = len(fake.sent)

    for data in (stolen, f"p:{token}:0", "m:AAAAAAAAAAAAAAAA:1", "p:../../etc/passwd:0", "x" * 64,
                 f"m:{token}:99"):
        call = callback_answer(fake, fake.press(mallory, MALLORY, own, data))
        assert call.params["text"] == render.EXPIRED
    bot.idle()
    assert len(fake.calls_of("editMessageText")) == edits_before
    assert len(fake.sent) == messages_before  # nothing of Alice's was shown anywhere
    assert answer.edits == 0


# --- access ------------------------------------------------------------------------------------


def test_allowlist_refuses_others(fake: FakeBotApi, start_bot: BotStarter) -> None:
    start_bot(telegram={"allowed_users": [ALICE]})
    [refused] = ask(fake, fake.private_chat(BOB), BOB, "Siapa Ketua Kelompok Perajin Tenun Ikat?")
    assert refused.text == render.NOT_ALLOWED
    [answered] = ask(fake, fake.private_chat(ALICE), ALICE, "Siapa Ketua Kelompok Perajin Tenun Ikat?")
    assert "Maria Goreti" in answered.text


def test_allowed_chats_refuse_other_groups_and_their_buttons(fake: FakeBotApi, start_bot: BotStarter) -> None:
    bot = start_bot(telegram={"allowed_chats": [GROUP]})
    other = fake.group_chat(-100_999, "Grup Lain")
    [refused] = ask(fake, other, ALICE, "@tanya_test_bot Siapa Ketua Kelompok Perajin Tenun Ikat?")
    assert refused.text == render.NOT_ALLOWED
    fake.send_text(other, ALICE, "obrolan biasa tanpa menyebut bot")
    bot.idle()
    assert len(fake.messages_to(other["id"])) == 1  # chatter is not even refused
    call = callback_answer(fake, fake.press(other, ALICE, refused, "m:AAAAAAAAAAAAAAAA:1"))
    assert call.params["text"] == render.NOT_ALLOWED


def test_rate_limit_answers_kindly_once(fake: FakeBotApi, start_bot: BotStarter) -> None:
    bot = start_bot(telegram={"rate_limit": 2})
    chat = fake.private_chat(ALICE)
    for _ in range(4):
        fake.send_text(chat, ALICE, "Siapa Ketua Kelompok Perajin Tenun Ikat?")
    fake.wait_messages(ALICE, 3)
    bot.idle()
    texts = [m.text for m in fake.messages_to(ALICE)]
    assert len(texts) == 3
    assert texts.count(render.RATE_LIMITED.format(limit=2)) == 1  # told once, then quiet
    assert sum("Maria Goreti" in t for t in texts) == 2
    [other] = ask(fake, fake.private_chat(BOB), BOB, "Siapa Ketua Kelompok Perajin Tenun Ikat?")
    assert "Maria Goreti" in other.text  # the limit is per user


# --- admin -------------------------------------------------------------------------------------


def test_admin_uploads_an_article_then_asks_about_it(tmp_path: Path, fake: FakeBotApi,
                                                     start_bot: BotStarter) -> None:
    start_bot(telegram={"admins": [ALICE]})
    chat = fake.private_chat(ALICE)
    article = ("Koperasi Susu Lembah Hijau Resmikan Pabrik Keju\n"
               "Lembah Hijau - Ketua Koperasi Susu Lembah Hijau, Yohana Simanjuntak, meresmikan pabrik keju "
               "rakyat di Desa Cibodas, Jumat (8/3). Pabrik itu mengolah 3.000 liter susu sehari.\n")
    before = len(fake.messages_to(ALICE))
    fake.send_document(chat, ALICE, "../../../etc/Berita <Keju>.txt", article.encode())
    [summary] = fake.wait_messages(ALICE, before + 1)[before:]
    assert "1 baru" in summary.text and "Berita-Keju.txt" in summary.text
    uploads = tmp_path / "uploads"
    assert [p.name for p in uploads.iterdir()] == ["Berita-Keju.txt"]
    assert not (tmp_path / "etc").exists()

    [answer] = ask(fake, chat, ALICE, "Siapa Ketua Koperasi Susu Lembah Hijau yang meresmikan pabrik keju?")
    assert "Yohana Simanjuntak" in answer.text

    # The same bytes again, under another name: kept once, so the article is not quoted twice.
    before = len(fake.messages_to(ALICE))
    fake.send_document(chat, ALICE, "keju-lagi.txt", article.encode())
    [same] = fake.wait_messages(ALICE, before + 1)[before:]
    assert "sudah tersimpan" in same.text and "Berita-Keju.txt" in same.text and "0 baru" in same.text
    assert [p.name for p in uploads.iterdir()] == ["Berita-Keju.txt"]

    second = article.replace("3.000 liter", "4.500 liter").replace("Jumat (8/3)", "Sabtu (9/3)")
    before = len(fake.messages_to(ALICE))
    fake.send_document(chat, ALICE, "Berita <Keju>.txt", second.encode())
    [again] = fake.wait_messages(ALICE, before + 1)[before:]
    assert "Berita-Keju-2.txt" in again.text  # same name: a suffix, the first file untouched
    assert (uploads / "Berita-Keju.txt").read_text() == article

    [reindexed_started, reindexed] = ask(fake, chat, ALICE, "/reindex", count=2)
    assert reindexed_started.text == render.REINDEX_STARTED
    assert "Indeks diperbarui" in reindexed.text and "5 tetap" in reindexed.text  # 3 articles + 2 uploads


def test_uploads_are_checked(fake: FakeBotApi, start_bot: BotStarter, tmp_path: Path) -> None:
    start_bot(telegram={"admins": [ALICE], "max_upload_bytes": 1000})
    chat = fake.private_chat(ALICE)
    for name, data, size, expected in [
        ("foto.png", b"\x89PNG", None, "Jenis berkas"),
        ("besar.txt", b"x" * 2000, None, "terlalu besar"),
        ("bohong.txt", b"Judul\n" + b"y" * 2000, 10, "terlalu besar"),  # the announced size lied
    ]:
        before = len(fake.messages_to(ALICE))
        fake.send_document(chat, ALICE, name, data, declared_size=size)
        [reply] = fake.wait_messages(ALICE, before + 1)[before:]
        assert expected in reply.text
    assert not (tmp_path / "uploads").exists()


def test_non_admins_cannot_reindex_or_upload(fake: FakeBotApi, start_bot: BotStarter, tmp_path: Path) -> None:
    start_bot(telegram={"admins": [ALICE]})
    chat = fake.private_chat(BOB)
    [refused] = ask(fake, chat, BOB, "/reindex")
    assert refused.text == render.ADMIN_ONLY
    before = len(fake.messages_to(BOB))
    fake.send_document(chat, BOB, "berita.txt", b"Judul\nIsi berita palsu.")
    [upload_refused] = fake.wait_messages(BOB, before + 1)[before:]
    assert upload_refused.text == render.UPLOAD_ADMIN_ONLY
    assert not (tmp_path / "uploads").exists()
    assert fake.calls_of("getFile") == []


def test_an_index_updated_elsewhere_is_used_without_a_restart(tmp_path: Path, fake: FakeBotApi,
                                                               start_bot: BotStarter) -> None:
    bot = start_bot()
    chat = fake.private_chat(ALICE)
    question = "Siapa Ketua Koperasi Susu Lembah Hijau yang meresmikan pabrik keju?"
    [before] = ask(fake, chat, ALICE, question)
    assert "Yohana" not in before.text
    write_article(tmp_path / "articles", "keju.txt", "Koperasi Susu Resmikan Pabrik Keju",
                  "Ketua Koperasi Susu Lembah Hijau, Yohana Simanjuntak, meresmikan pabrik keju.")
    settings = bot.application.bot_data["settings"]
    elsewhere = Tanya(settings, tmp_path / "index", HashingEmbedder())  # as `tanya index update` would
    assert elsewhere.update().added == 1
    elsewhere.close()
    [after] = ask(fake, chat, ALICE, question)
    assert "Yohana Simanjuntak" in after.text


# --- failures and secrets ----------------------------------------------------------------------


def test_a_failing_handler_is_logged_and_the_user_told(fake: FakeBotApi, start_bot: BotStarter,
                                                       logs: io.StringIO) -> None:
    bot = start_bot()

    def broken(*args: object, **kwargs: object) -> Answer:
        raise RuntimeError("the index exploded")

    bot.application.bot_data["tanya"].ask = broken
    update = fake.send_text(fake.private_chat(ALICE), ALICE, "Siapa Ketua Kelompok Perajin Tenun Ikat?")
    [reply] = fake.wait_messages(ALICE, 1)
    assert reply.text == render.SOMETHING_WENT_WRONG
    bot.idle()
    assert f"update {update} failed" in logs.getvalue() and "the index exploded" in logs.getvalue()


def test_the_token_never_reaches_the_logs(fake: FakeBotApi, start_bot: BotStarter, logs: io.StringIO) -> None:
    bot = start_bot(telegram={"admins": [ALICE]})
    for name in ("httpx", "httpcore"):  # as if someone turned HTTP logging back on
        logging.getLogger(name).setLevel(logging.DEBUG)
    chat = fake.private_chat(ALICE)
    ask(fake, chat, ALICE, "Siapa Ketua Kelompok Perajin Tenun Ikat?")
    fake.send_document(chat, ALICE, "keju.txt", b"Pabrik Keju\nYohana meresmikan pabrik keju.\n")
    fake.wait_messages(ALICE, 2)
    def leaky(*args: object, **kwargs: object) -> Answer:
        raise RuntimeError(f"boom {TOKEN}")

    bot.application.bot_data["tanya"].ask = leaky
    ask(fake, chat, ALICE, "Siapa Ketua Kelompok Perajin Tenun Ikat?")
    bot.idle()
    bot.stop()
    output = logs.getvalue()
    assert "HTTP Request" in output and REDACTED in output  # the URLs were logged, redacted
    assert TOKEN not in output and url_quote(TOKEN, safe="") not in output
    assert TOKEN.split(":")[1] not in output


# --- the token and the command line ------------------------------------------------------------


def test_token_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    settings = Settings()
    assert read_token(settings, {"TELEGRAM_BOT_TOKEN": f"  {TOKEN}\n"}) == TOKEN
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    from_file = Settings.model_validate({"telegram": {"token_file": str(token_file)}})
    assert read_token(from_file, {}) == TOKEN
    missing_file = Settings.model_validate({"telegram": {"token_file": str(tmp_path / "nope")}})
    malformed = {"TELEGRAM_BOT_TOKEN": "not-a-token"}
    for environ, config in [({}, settings), (malformed, settings), ({}, missing_file)]:
        with pytest.raises(BotTokenError) as caught:
            read_token(config, environ)
        assert "\n" not in str(caught.value) and "not-a-token" not in str(caught.value)


def test_redaction_covers_messages_arguments_and_tracebacks(logs: io.StringIO) -> None:
    undo = install_redaction(TOKEN)
    try:
        log = logging.getLogger("some.library")
        log.debug("POST https://api.telegram.org/bot%s/getMe", TOKEN)
        log.info("encoded %s", url_quote(TOKEN, safe=""))
        try:
            raise ValueError(f"The token `{TOKEN}` was rejected by the server.")
        except ValueError:
            log.exception("failed")
    finally:
        undo()
    output = logs.getvalue()
    assert TOKEN not in output and url_quote(TOKEN, safe="") not in output
    assert output.count(REDACTED) == 3 and "ValueError" in output
    assert RedactToken(TOKEN).redact(f"x{TOKEN}y") == f"x{REDACTED}y"


def run_tanya(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tanya", *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env={**CHILD_ENV, **(env or {})})


def test_cli_bad_tokens_are_one_line_errors(tmp_path: Path, fake: FakeBotApi) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"sources: []\nindex_dir: idx\ntelegram:\n  base_url: {fake.base_url}\n")
    wrong = "987654321:AAE-wrong_token_0123456789abcdefghijk"
    for env, words in [({}, "TELEGRAM_BOT_TOKEN"), ({"TELEGRAM_BOT_TOKEN": "12345"}, "does not look like"),
                       ({"TELEGRAM_BOT_TOKEN": wrong}, "rejected")]:
        result = run_tanya("--config", str(config), "bot", env=env)
        assert result.returncode == 2, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("tanya: error:") and words in lines[0], result.stderr
        assert wrong not in result.stdout + result.stderr and wrong.split(":")[1] not in result.stderr
    assert fake.unauthorized == ["getMe"]  # the wrong token really was tried, and refused with 401


def test_cli_unreachable_bot_api_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "config.yaml"
    config.write_text(f"sources: []\nindex_dir: idx\ntelegram:\n  base_url: http://127.0.0.1:{port}/bot\n")
    result = run_tanya("--config", str(config), "bot", env={"TELEGRAM_BOT_TOKEN": TOKEN})
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("tanya: error: Bot API at http://127.0.0.1:") and "Traceback" not in result.stderr
    assert TOKEN not in result.stderr


def test_cli_webhook_misconfiguration_is_a_one_line_error(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    public = "public_url: 'https://bot.example/tanya'"
    for telegram, words in [("{webhook: true}", "telegram.public_url"),
                            (f"{{webhook: true, {public}}}", "TELEGRAM_WEBHOOK_SECRET")]:
        config.write_text(f"sources: []\ntelegram: {telegram}\n")
        result = run_tanya("--config", str(config), "bot", env={"TELEGRAM_BOT_TOKEN": TOKEN})
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2 and len(lines) == 1 and words in lines[0], result.stderr
        assert TOKEN not in result.stderr


def test_bot_command_has_help() -> None:
    result = run_tanya("bot", "--help")
    assert result.returncode == 0 and "Telegram" in result.stdout


@pytest.mark.model
def test_done_means_the_real_bot_over_the_seed(tmp_path: Path, fake: FakeBotApi, shared_data: Path,
                                                real_embedder: Embedder) -> None:
    """`tanya --config CFG --index IDX bot` as a user runs it, with the real bundled model."""
    index = tmp_path / "idx"
    Tanya(Settings(), index, real_embedder).build([shared_data / "seed"])
    config = tmp_path / "config.yaml"
    telegram = {"base_url": fake.base_url, "base_file_url": fake.base_file_url}
    config.write_text(json.dumps({"sources": [str(shared_data / "seed")], "telegram": telegram}))
    process = subprocess.Popen(
        [sys.executable, "-m", "tanya", "--config", str(config), "--index", str(index), "-v", "bot"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**CHILD_ENV, "TELEGRAM_BOT_TOKEN": TOKEN},
    )
    try:
        fake.wait_call("getUpdates", timeout=90)  # polling starts after post_init: model and index are loaded
        group = fake.group_chat(GROUP)
        private = fake.private_chat(ALICE)
        fake.send_text(group, BOB, HEADLINE)  # not mentioned: ignored
        fake.send_text(private, ALICE, HEADLINE)
        fake.send_text(private, ALICE, "/start")
        replies = fake.wait_messages(ALICE, 2, timeout=60)
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    answer = next(r for r in replies if "<blockquote>" in r.html)
    assert "Ilham Djaya" in answer.text and "Tri Julianto Djatiutomo" in answer.text
    assert "<b>" in answer.html and "[1]" in answer.text
    assert any("Contoh pertanyaan" in r.text for r in replies)
    assert fake.messages_to(GROUP) == []
    assert "bot @tanya_test_bot is ready (long polling)" in stderr
    assert TOKEN not in stdout + stderr and TOKEN.split(":")[1] not in stdout + stderr


# --- the parts, without Telegram ---------------------------------------------------------------


def _quote(text: str, n: int = 0, highlights: tuple[Span, ...] = ()) -> Quote:
    return Quote(f"a{n}", f"Judul {n} <&>", f"2024-03-0{n % 9 + 1}", "Outlet & Co",
                 f"https://contoh.example/{n}?a=1&b=2", text, 100, 100 + len(text), 0.5, highlights)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("ab <>&\"'\n😀é"), min_size=1, max_size=3000),
                min_size=1, max_size=6),
       st.integers(min_value=300, max_value=4096))
def test_pages_are_valid_html_under_the_limit_and_lose_nothing(texts: list[str], limit: int) -> None:
    quotes = tuple(_quote(t, n, (Span(100, 100 + min(3, len(t))),)) for n, t in enumerate(texts))
    answer = Answer("siapa?", quotes, "sedang")
    parts = render.page_html(answer, 0, len(quotes), limit)
    visible = ""
    for part in parts:
        assert utf16_len(part) <= limit
        visible += parse_telegram_html(part)
    squeezed = "".join(visible.split())
    for text in texts:
        assert "".join(text.split()) in squeezed


def test_paragraph_is_the_lines_around_the_quote() -> None:
    text = "Judul\nKalimat satu. Kalimat dua & tiga.\nParagraf lain."
    start = text.index("Kalimat dua")
    quote = Quote("a", "Judul", "", "", "", text[start : start + 18], start, start + 18, 0.9)
    html = render.paragraph_html(Article("a", text, "Judul"), quote, 1)
    assert "Kalimat satu. <b>Kalimat dua &amp; tiga</b>." in html and "Paragraf lain" not in html
    long = "kata " * 2000 + "INTI." + " kata" * 2000
    span = render.paragraph_span(long, long.index("INTI"), long.index("INTI") + 5)
    assert span.end - span.start < 2 * render.PARAGRAPH_CONTEXT + 10


@pytest.mark.parametrize(("name", "expected"), [
    ("berita.txt", "berita.txt"),
    ("../../etc/passwd", "passwd.txt"),
    ("..\\..\\win.ini.MD", "win.ini.md"),
    (".hidden.json", "hidden.json"),
    ("Berita <Keju> & Susu.JSONL", "Berita-Keju-Susu.jsonl"),
    ("..", "artikel.txt"),
    ("ｂｅｒｉｔａ.html", "berita.html"),
])
def test_upload_names_are_sanitised(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_same_upload_finds_identical_bytes_only(tmp_path: Path) -> None:
    assert same_upload(tmp_path / "none", b"1") is None
    first = store_upload(tmp_path, "a.txt", b"12")
    assert same_upload(tmp_path, b"12") == first
    assert same_upload(tmp_path, b"13") is None and same_upload(tmp_path, b"123") is None


def test_uploads_never_overwrite(tmp_path: Path) -> None:
    first = store_upload(tmp_path, "a.txt", b"1")
    second = store_upload(tmp_path, "a.txt", b"2")
    assert (first.name, second.name) == ("a.txt", "a-2.txt")
    assert first.read_bytes() == b"1"


def test_rate_limiter_slides_and_forgets() -> None:
    now = [0.0]
    limiter = RateLimiter(2, window=60, clock=lambda: now[0], max_users=2)
    assert [limiter.hit(1) for _ in range(4)] == [Verdict.ALLOWED, Verdict.ALLOWED, Verdict.RATE_LIMITED,
                                                  Verdict.RATE_LIMITED_AGAIN]
    now[0] = 61
    assert limiter.hit(1) is Verdict.ALLOWED
    limiter.hit(2)
    limiter.hit(3)
    assert len(limiter._hits) == 2


def test_result_store_is_bounded_and_per_chat() -> None:
    store = ResultStore(max_results=5, per_chat=2)
    answer = Answer("q", (_quote("x"),), "tinggi")
    tokens = [store.add(Result(chat, answer, 3)) for chat in (1, 1, 1, 2)]
    assert store.get(tokens[0], 1) is None  # chat 1 keeps only its newest two
    assert store.get(tokens[2], 1) is not None and store.get(tokens[2], 2) is None
    for chat in (3, 4, 5, 6):
        store.add(Result(chat, answer, 3))
    assert len(store) == 5 and store.get(tokens[1], 1) is None  # the oldest overall go first
    assert parse_callback(more_data(tokens[2], 1)) is not None
    assert parse_callback("m:short:1") is None and parse_callback(None) is None


def test_every_file_of_the_bot_package_stays_telegram_free_except_the_edges() -> None:
    package = ROOT / "src" / "tanya" / "bot"
    imports = re.compile(r"^\s*(from|import) telegram\b", re.MULTILINE)
    importers = {p.name for p in package.glob("*.py") if imports.search(p.read_text())}
    assert importers == {"app.py", "handlers.py"}
    outside = [p for p in (ROOT / "src" / "tanya").rglob("*.py")
               if package not in p.parents and imports.search(p.read_text())]
    assert outside == []
