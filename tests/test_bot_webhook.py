"""Webhook mode: updates POSTed to the bot's own server on 127.0.0.1, replies through the fake Bot API.

As behind the reverse proxy of docs/telegram.md §5: Telegram (here the test) POSTs each update to
http://listen:port/<path of public_url> with the secret in X-Telegram-Bot-Api-Secret-Token; the bot registers
that URL and secret with setWebhook on start. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import io
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import test_bot
from conftest import write_article
from fake_bot_api import FakeBotApi
from test_bot import ALICE, BOB, CHILD_ENV, MALLORY, PASAR, POMPA, TENUN, TOKEN, RunningBot, run_tanya

from tanya.app import Tanya
from tanya.bot.app import ALLOWED_UPDATES, _webhook_options, build_application
from tanya.bot.token import install_redaction, quiet_http_logs
from tanya.config import Settings
from tanya.embedding import HashingEmbedder

# test_bot's fixtures here too: the fake Bot API, the captured logs, no thread outliving a test.
fake = test_bot.fake
logs = test_bot.logs
no_threads_left = test_bot.no_threads_left

SECRET = "webhook_Secret-0123456789abcdefXYZ"
SECRET_ENV = "TELEGRAM_WEBHOOK_SECRET"
PUBLIC_URL = "https://bot.example.test/tanya-bot"
QUESTION = "Siapa Ketua Kelompok Perajin Tenun Ikat yang diterima Bupati Sukamaju?"
SECOND = "Berapa pedagang ikan yang ditampung pasar ikan higienis?"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[str] | None = None, timeout: float = 60.0) -> None:
    """setWebhook comes just before the bot's server listens: wait for the listening socket."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert process is None or process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, f"nothing listens on 127.0.0.1:{port}"
            time.sleep(0.02)


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy from the environment


def post(port: int, update: dict[str, Any], secret: str | None, path: str = "/tanya-bot") -> int:
    """POST an update as Telegram does (through the reverse proxy); returns the HTTP status."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(update).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    if secret is not None:
        request.add_header("X-Telegram-Bot-Api-Secret-Token", secret)
    try:
        with _DIRECT.open(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as refused:
        refused.close()
        return refused.code


class RunningWebhookBot(RunningBot):
    """The Application as run_webhook runs it, with the webhook options `tanya bot` derives from config."""

    def __init__(self, application: Any, fake: FakeBotApi, options: dict[str, object]) -> None:
        super().__init__(application, fake)
        self.options = options

    async def _serve(self) -> None:
        app = self.application
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await app.initialize()
        try:
            await app.post_init(app)
            await app.updater.start_webhook(allowed_updates=ALLOWED_UPDATES, **self.options)
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


def write_articles(folder: Path) -> Path:
    for number, (title, body) in enumerate((TENUN, POMPA, PASAR)):
        write_article(folder, f"a{number}.txt", title, body)
    return folder


def bot_settings(tmp_path: Path, fake: FakeBotApi, **telegram: Any) -> Settings:
    return Settings.model_validate({
        "sources": [str(write_articles(tmp_path / "articles"))],
        "index_dir": str(tmp_path / "index"),
        "telegram": {"base_url": fake.base_url, "base_file_url": fake.base_file_url, **telegram},
    })


Starter = Callable[[Settings], RunningBot]


@pytest.fixture
def running(tmp_path: Path, fake: FakeBotApi, monkeypatch: pytest.MonkeyPatch) -> Iterator[Starter]:
    """running(settings): the bot by webhook if settings say so, else by polling; all stopped at the end."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    bots: list[RunningBot] = []
    undo = install_redaction(TOKEN, SECRET)  # as `tanya bot` does before building the bot
    quiet_http_logs()

    def start(settings: Settings) -> RunningBot:
        tanya = Tanya(settings, tmp_path / "index", HashingEmbedder())
        application = build_application(settings, tanya, TOKEN)
        if settings.telegram.webhook:
            bot: RunningBot = RunningWebhookBot(application, fake, _webhook_options(settings))
        else:
            bot = RunningBot(application, fake)
        bots.append(bot.start())
        return bot

    yield start
    for bot in bots:
        bot.stop()
    undo()


def test_webhook_registers_answers_with_the_secret_and_rejects_without(
        tmp_path: Path, fake: FakeBotApi, running: Starter, logs: io.StringIO) -> None:
    port = free_port()
    bot = running(bot_settings(tmp_path, fake, webhook=True, port=port, public_url=PUBLIC_URL))

    assert fake.webhook["url"] == PUBLIC_URL and fake.webhook["secret_token"] == SECRET
    assert fake.webhook["allowed_updates"] == ["message", "callback_query"]
    assert fake.calls_of("getUpdates") == []  # no polling beside the webhook

    alice, bob = fake.private_chat(ALICE), fake.private_chat(BOB)
    assert post(port, fake.text_update(alice, ALICE, QUESTION), SECRET) == 200
    [reply] = fake.wait_messages(ALICE, 1)
    assert "<blockquote>" in reply.html and "<b>Maria Goreti</b>" in reply.html
    assert "Bupati Sukamaju Terima Audiensi Perajin Tenun Ikat" in reply.text

    # Anyone can reach the URL; only Telegram knows the secret.
    assert post(port, fake.text_update(bob, BOB, QUESTION), None) == 403
    assert post(port, fake.text_update(bob, BOB, QUESTION), "wrong-secret") == 403
    assert post(port, fake.text_update(bob, BOB, QUESTION), SECRET[:-1]) == 403
    assert post(port, fake.text_update(bob, BOB, QUESTION), SECRET, path="/other") == 404

    # The next genuine update is answered, and by then nothing came of the rejected ones.
    assert post(port, fake.text_update(alice, ALICE, SECOND), SECRET) == 200
    [second] = fake.wait_messages(ALICE, 2)[1:]
    assert "200 pedagang" in second.text
    bot.idle()
    assert fake.messages_to(BOB) == []
    assert all(c.params.get("chat_id") != BOB for c in fake.calls)  # not even "typing…"

    bot.stop()
    output = logs.getvalue()
    assert "is ready (webhook)" in output and "Received Update with ID" in output  # PTB's DEBUG lines too
    assert TOKEN not in output and TOKEN.split(":")[1] not in output
    assert "setWebhook" in output and SECRET not in output  # PTB logs setWebhook's arguments at DEBUG


def test_back_to_polling_deletes_the_webhook(tmp_path: Path, fake: FakeBotApi,
                                             running: Starter) -> None:
    """docs/telegram.md §5: switching back to webhook: false and restarting deletes the webhook again."""
    port = free_port()
    webhook = running(bot_settings(tmp_path, fake, webhook=True, port=port, public_url=PUBLIC_URL))
    assert fake.webhook["url"] == PUBLIC_URL
    webhook.stop()
    assert fake.webhook["url"] == PUBLIC_URL  # a stopped webhook bot keeps its registration, as on Telegram

    running(bot_settings(tmp_path, fake))
    assert fake.webhook == {} and fake.calls_of("deleteWebhook")
    fake.send_text(fake.private_chat(MALLORY), MALLORY, QUESTION)
    [reply] = fake.wait_messages(MALLORY, 1)
    assert "Maria Goreti" in reply.text


# `tanya`, but with every logger at DEBUG, where PTB logs each Bot API call with its arguments.
DEBUG_TANYA = """
import logging, sys
from tanya import cli
setup = cli._setup_logging
def setup_debug(verbose):
    setup(verbose)
    logging.getLogger().setLevel(logging.DEBUG)
cli._setup_logging = setup_debug
cli.main(sys.argv[1:])
"""


def tanya_bot(config: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """`tanya --config CONFIG -v bot`, logging at DEBUG."""
    return subprocess.Popen([sys.executable, "-c", DEBUG_TANYA, "--config", str(config), "-v", "bot"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=config.parent,
                            env={**CHILD_ENV, **env})


def webhook_config(tmp_path: Path, fake: FakeBotApi, port: int, **telegram: Any) -> Path:
    config = tmp_path / "config.yaml"
    settings = {
        "sources": [str(write_articles(tmp_path / "articles"))],
        "index_dir": str(tmp_path / "index"),
        "model": {"name": "hashing"},  # the test double: no model to load
        "telegram": {"base_url": fake.base_url, "base_file_url": fake.base_file_url, "webhook": True,
                     "listen": "127.0.0.1", "port": port, "public_url": PUBLIC_URL, **telegram},
    }
    config.write_text(json.dumps(settings))
    return config


def test_tanya_bot_serves_a_webhook_and_stops_on_sigterm(tmp_path: Path, fake: FakeBotApi) -> None:
    """`tanya bot` as a service runs it: the webhook, one genuine and one forged update, then SIGTERM."""
    port = free_port()
    config = webhook_config(tmp_path, fake, port, secret_token_env="BOT_HOOK_SECRET")
    process = tanya_bot(config, {"TELEGRAM_BOT_TOKEN": TOKEN, "BOT_HOOK_SECRET": SECRET})
    try:
        wait_listening(port, process)  # after setWebhook
        chat = fake.private_chat(ALICE)
        assert post(port, fake.text_update(chat, ALICE, "Kuda terbang?"), "forged") == 403
        assert post(port, fake.text_update(chat, ALICE, QUESTION), SECRET) == 200
        [reply] = fake.wait_messages(ALICE, 1)
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "Maria Goreti" in reply.text and len(fake.messages_to(ALICE)) == 1
    assert fake.webhook["url"] == PUBLIC_URL and fake.webhook["secret_token"] == SECRET
    assert "bot @tanya_test_bot is ready (webhook)" in stderr and "Application.stop() complete" in stderr
    assert "Calling Bot API endpoint `setWebhook`" in stderr  # DEBUG was on
    assert TOKEN not in stdout + stderr and TOKEN.split(":")[1] not in stdout + stderr
    assert SECRET not in stdout + stderr
    with pytest.raises(OSError):  # the server is gone with the process
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


@pytest.mark.parametrize(("telegram", "env", "words"), [
    ({"public_url": ""}, {SECRET_ENV: SECRET}, "telegram.public_url"),
    ({"public_url": "http://bot.example.test/tanya-bot"}, {SECRET_ENV: SECRET}, "telegram.public_url"),
    ({}, {}, SECRET_ENV),
    ({}, {SECRET_ENV: "has spaces in it"}, SECRET_ENV),
    ({"secret_token_env": "BOT_HOOK_SECRET"}, {SECRET_ENV: SECRET}, "BOT_HOOK_SECRET"),
])
def test_webhook_misconfiguration_is_one_line_and_exit_2(tmp_path: Path, fake: FakeBotApi,
                                                        telegram: dict[str, Any], env: dict[str, str],
                                                        words: str) -> None:
    config = webhook_config(tmp_path, fake, free_port(), **telegram)
    result = run_tanya("--config", str(config), "bot", env={"TELEGRAM_BOT_TOKEN": TOKEN, **env})
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("tanya: error:") and words in lines[0], result.stderr
    assert TOKEN not in result.stderr and SECRET not in result.stderr
    assert fake.calls == []  # refused before talking to Telegram


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path, fake: FakeBotApi) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        config = webhook_config(tmp_path, fake, port)
        env = {"TELEGRAM_BOT_TOKEN": TOKEN, SECRET_ENV: SECRET}
        result = run_tanya("--config", str(config), "bot", env=env)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0] == (f"tanya: error: telegram.listen/port: cannot listen on 127.0.0.1:{port} "
                        "(Address already in use)")
    assert fake.calls == []  # refused before setWebhook pointed Telegram at a bot that is not there
