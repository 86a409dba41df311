"""The bot's Application: built in one place, then run by long polling or as a webhook."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import re
import socket
from urllib.parse import urlsplit

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, Defaults

from tanya.app import Tanya
from tanya.bot import handlers
from tanya.bot.access import Access
from tanya.bot.results import ResultStore
from tanya.bot.token import RedactToken, install_redaction, quiet_http_logs, read_token
from tanya.config import Settings
from tanya.errors import BotTokenError, ConfigError, TanyaError

log = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("tanya", "Ajukan pertanyaan: /tanya <pertanyaan>"),
    BotCommand("sumber", "Jumlah artikel, berita terbaru dan sumbernya"),
    BotCommand("start", "Salam dan contoh pertanyaan"),
    BotCommand("help", "Cara bertanya"),
    BotCommand("reindex", "Perbarui indeks (khusus admin)"),
]
NO_PREVIEWS = LinkPreviewOptions(is_disabled=True)  # a preview card per source link would bury the quotes
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as a webhook secret


def build_application(settings: Settings, tanya: Tanya, token: str) -> Application:  # type: ignore[type-arg]
    """The bot with its handlers; `tanya` is prepared (index, model) in post_init, off the event loop."""

    async def post_init(application: Application) -> None:  # type: ignore[type-arg]
        await asyncio.to_thread(_prepare, tanya)
        application.bot_data[handlers.TANYA] = tanya
        application.bot_data[handlers.UPDATE_LOCK] = asyncio.Lock()
        await application.bot.set_my_commands(COMMANDS)
        mode = "webhook" if settings.telegram.webhook else "long polling"
        log.info("bot @%s is ready (%s)", application.bot.username, mode)  # after getMe: token accepted

    async def post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
        tanya.close()

    telegram = settings.telegram
    application = (
        Application.builder()
        .token(token)
        .base_url(telegram.base_url)
        .base_file_url(telegram.base_file_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEWS))
        .concurrent_updates(True)  # many chats at once; retrieval itself runs in threads
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.bot_data[handlers.SETTINGS] = settings
    application.bot_data[handlers.ACCESS] = Access(telegram)
    application.bot_data[handlers.RESULTS] = ResultStore()
    handlers.register(application)
    return application


def _prepare(tanya: Tanya) -> None:
    """Build the index if there is none, open it and load the model, so the first question is quick."""
    summary = tanya.ensure_index()
    if summary is not None:
        log.info("built the index: %s", summary.to_text())
    log.info("index: %s articles", tanya.stats().get("articles"))
    tanya.embedder.encode_query("pemanasan")


def run(tanya: Tanya) -> None:
    """Run until SIGINT/SIGTERM. Polling by default; a webhook when telegram.webhook is true."""
    settings = tanya.settings
    token = read_token(settings)
    webhook = _webhook_options(settings) if settings.telegram.webhook else None
    secret = str(webhook["secret_token"]) if webhook else ""  # PTB logs setWebhook's arguments at DEBUG
    install_redaction(token, secret)
    quiet_http_logs()
    # PTB logs a traceback when the token is rejected or the Bot API cannot be reached at start-up; each
    # becomes one line below instead.
    logging.getLogger("telegram.ext").addFilter(_NotStartupFailure())
    redactor = RedactToken(token, secret)
    application = build_application(settings, tanya, token)
    try:
        if webhook is None:
            application.run_polling(allowed_updates=ALLOWED_UPDATES)
        else:
            application.run_webhook(allowed_updates=ALLOWED_UPDATES, **webhook)  # type: ignore[arg-type]
    except InvalidToken:
        raise BotTokenError("the Bot API rejected the bot token; check TELEGRAM_BOT_TOKEN") from None
    except TelegramError as exc:
        where = _public(settings.telegram.base_url)
        raise TanyaError(f"Bot API at {where}: {redactor.redact(str(exc))}") from None


class _NotStartupFailure(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, InvalidToken):
            return False
        # PTB's start-up retry loop ("Bootstrap Initialize Application") gives up on a NetworkError and
        # re-raises it: run() reports it in one line. Network errors later, while polling, are still logged.
        return not (isinstance(error, NetworkError) and "Bootstrap" in record.getMessage())


def _webhook_options(settings: Settings) -> dict[str, object]:
    """run_webhook's arguments from config; errors name the key or variable to fix."""
    telegram = settings.telegram
    url = urlsplit(telegram.public_url)
    if url.scheme != "https" or not url.netloc:
        raise ConfigError("telegram.public_url: webhook mode needs the https URL Telegram posts updates to")
    secret = os.environ.get(telegram.secret_token_env, "")
    if not _SECRET_TOKEN.fullmatch(secret):
        raise ConfigError(
            f"webhook mode needs a secret token in ${telegram.secret_token_env} (1-256 of A-Z a-z 0-9 _ -)"
        )
    if importlib.util.find_spec("tornado") is None:
        raise ConfigError("webhook mode needs tornado: pip install 'python-telegram-bot[webhooks]'")
    _check_can_listen(telegram.listen, telegram.port)
    return {
        "listen": telegram.listen,
        "port": telegram.port,
        "url_path": url.path.strip("/"),
        "webhook_url": telegram.public_url,
        "secret_token": secret,
    }


def _check_can_listen(listen: str, port: int) -> None:
    """Bind listen:port once, so a port in use is one line now rather than a traceback after setWebhook."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(listen or None, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as tornado binds
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"telegram.listen/port: cannot listen on {listen}:{port} ({reason})") from None


def _public(base_url: str) -> str:
    """The Bot API address without the path, safe to print."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"
