"""The bot token: read from the environment or a file, checked, and kept out of every log record."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import quote

from tanya.config import Settings
from tanya.errors import BotTokenError

log = logging.getLogger(__name__)

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
REDACTED = "[REDACTED-TOKEN]"
# What BotFather hands out: the bot's numeric id, a colon, then a secret of URL-safe characters.
_TOKEN_SHAPE = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{20,200}")


def read_token(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """The token from $TELEGRAM_BOT_TOKEN, else from telegram.token_file; never from config.yaml itself."""
    environ = os.environ if environ is None else environ
    token = environ.get(TOKEN_ENV, "").strip()
    where = f"${TOKEN_ENV}"
    if not token and settings.telegram.token_file:
        path = settings.resolve(settings.telegram.token_file)
        where = str(path)
        try:
            token = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not readable text"
            raise BotTokenError(f"{path}: cannot read the bot token file ({reason})") from None
        _warn_if_readable_by_others(path)
    if not token:
        raise BotTokenError(f"no bot token: set {TOKEN_ENV}, or name a file in telegram.token_file")
    if not _TOKEN_SHAPE.fullmatch(token):
        raise BotTokenError(f"{where} does not look like a bot token from BotFather (123456789:AAE…)")
    return token


def _warn_if_readable_by_others(path: Path) -> None:
    try:
        if path.stat().st_mode & 0o077:
            log.warning("%s is readable by other users; chmod 600 it", path)
    except OSError:
        pass


class RedactToken(logging.Filter):
    """Replaces the token (and any other secrets) in a record's message, traceback and stack; drops none."""

    def __init__(self, token: str, *secrets: str) -> None:
        super().__init__()
        # httpx logs URLs, where the colon may arrive percent-encoded.
        forms = {f for secret in (token, *secrets) for f in (secret, quote(secret, safe=""), quote(secret))}
        self._secrets = sorted(forms - {""}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record with mismatched args: let the handler report it, minus the token
            message = self.redact(str(record.msg))
            record.msg, record.args = message, None
        else:
            if self.redact(message) != message:
                record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def install_redaction(token: str, *secrets: str) -> Callable[[], None]:
    """Redact the token (and other secrets) from every log record, whichever handler gets it; returns an undo.

    The filter runs inside the record factory rather than on a handler, so handlers added later
    (a test's capture, a library's own) never see the token either.
    """
    redactor = RedactToken(token, *secrets)
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redactor.filter(record)
        return record

    logging.setLogRecordFactory(factory)

    def undo() -> None:
        if logging.getLogRecordFactory() is factory:
            logging.setLogRecordFactory(previous)

    return undo


def quiet_http_logs() -> None:
    """httpx and httpcore log request URLs, which hold the token: keep them at WARNING."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
