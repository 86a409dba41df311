"""Telegram handlers: parse the update, call one Tanya method off the event loop, reply in HTML."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from functools import partial
from typing import TypeVar, cast

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from tanya.app import Tanya
from tanya.bot import render
from tanya.bot.access import Access, Verdict
from tanya.bot.results import MORE, Callback, Result, ResultStore, more_data, paragraph_data, parse_callback
from tanya.bot.uploads import is_supported, same_upload, sources_with, store_upload
from tanya.config import Settings
from tanya.errors import InputError, TanyaError
from tanya.indexing import UpdateSummary

log = logging.getLogger(__name__)

# bot_data keys
TANYA = "tanya"
SETTINGS = "settings"
ACCESS = "access"
RESULTS = "results"
UPDATE_LOCK = "update_lock"

PAGES_FETCHED = 3  # one question fetches this many pages of quotes; "Lebih banyak" pages through them
MAX_QUOTES = 20  # answer.max_quotes' own ceiling
TYPING_REPEAT_SECONDS = 4.0  # Telegram shows "typing…" for about 5 s per action
_COMMANDS = frozenset({"start", "help", "sumber", "tanya", "reindex"})

Context = ContextTypes.DEFAULT_TYPE
T = TypeVar("T")


def register(application: Application) -> None:  # type: ignore[type-arg]
    """The guard first (group -1, it sees every update), then one handler per kind of update."""
    application.add_handler(TypeHandler(Update, guard), group=-1)
    new = filters.UpdateType.MESSAGE  # edits of old messages are not new questions
    application.add_handlers([
        CommandHandler("start", start, filters=new),
        CommandHandler("help", help_command, filters=new),
        CommandHandler("sumber", sources, filters=new),
        CommandHandler("tanya", ask_command, filters=new),
        CommandHandler("reindex", reindex, filters=new),
        MessageHandler(new & filters.COMMAND, unknown_command),
        MessageHandler(new & filters.ChatType.PRIVATE & filters.TEXT, private_question),
        MessageHandler(new & filters.ChatType.GROUPS & filters.TEXT, group_message),
        MessageHandler(new & filters.ChatType.PRIVATE & filters.Document.ALL, document),
        MessageHandler(new & filters.ChatType.PRIVATE, not_text),
        CallbackQueryHandler(button),
    ])
    application.add_error_handler(on_error)


# --- access ------------------------------------------------------------------------------------


async def guard(update: Update, context: Context) -> None:
    """Allowlists and rate limit for every update addressed to the bot; refused ones stop here."""
    if not addressed(update, context.bot):
        return  # group chatter: no handler answers it, so it costs nobody's rate limit
    user, chat = update.effective_user, update.effective_chat
    verdict = _access(context).check(user.id if user else None, chat.id if chat else None)
    if verdict is Verdict.ALLOWED:
        return
    log.info("update %s from user %s in chat %s refused: %s", update.update_id,
             user.id if user else "-", chat.id if chat else "-", verdict.value)
    if verdict is Verdict.NOT_ALLOWED:
        await _tell(update, render.NOT_ALLOWED)
    elif verdict is Verdict.RATE_LIMITED:
        await _tell(update, render.RATE_LIMITED.format(limit=_access(context).rate.limit))
    raise ApplicationHandlerStop


def addressed(update: Update, bot: Bot) -> bool:
    """Button presses, private messages, and group messages that are meant for this bot."""
    if update.callback_query is not None:
        return True
    message = update.message
    if message is None:
        return False
    if message.chat.type == ChatType.PRIVATE:
        return True
    command = _command(message)
    if command is not None:
        name, target = command
        return target == bot.username.lower() or (not target and name in _COMMANDS)
    return group_question(message, bot) is not None


def group_question(message: Message, bot: Bot) -> str | None:
    """The question in a group message that mentions the bot or replies to it; None for other chatter."""
    text = message.text or ""
    mention = f"@{bot.username}".lower()
    mentions = [t for t in message.parse_entities([MessageEntity.MENTION]).values() if t.lower() == mention]
    if mentions:
        for found in mentions:
            text = text.replace(found, " ")
        return " ".join(text.split())
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return text
    return None


# --- questions ---------------------------------------------------------------------------------


async def private_question(update: Update, context: Context) -> None:
    await _answer(update, context, update.effective_message.text or "")  # type: ignore[union-attr]


async def group_message(update: Update, context: Context) -> None:
    question = group_question(update.effective_message, context.bot)  # type: ignore[arg-type]
    if question is not None:
        await _answer(update, context, question)


async def ask_command(update: Update, context: Context) -> None:
    text = update.effective_message.text or ""  # type: ignore[union-attr]
    parts = text.split(maxsplit=1)
    await _answer(update, context, parts[1] if len(parts) > 1 else "")


async def _answer(update: Update, context: Context, question: str) -> None:
    message = cast(Message, update.effective_message)
    question = " ".join(question.split())
    if not question:
        await message.reply_text(render.ASK_HOW)
        return
    page_size = _settings(context).answer.max_quotes
    async with typing(message):
        try:
            answer = await asyncio.to_thread(
                _tanya(context).ask, question, min(page_size * PAGES_FETCHED, MAX_QUOTES)
            )
        except InputError:
            await message.reply_text(render.ASK_HOW)
            return
    if not answer.answered:
        await message.reply_text(render.no_answer_html())
        return
    result = Result(message.chat.id, answer, page_size)
    token = _results(context).add(result)
    in_group = message.chat.type != ChatType.PRIVATE
    await _show_page(context.bot, token, result, 0, reply_to=message.message_id if in_group else None)


async def _show_page(bot: Bot, token: str, result: Result, page: int,
                     reply_to: int | None = None, edit: int | None = None) -> None:
    """Send page `page` of a result (or edit it into message `edit`); the buttons go on the last part."""
    chat_id = result.chat_id
    first, end = result.page(page)
    parts = render.page_html(result.answer, first, end)
    for number, part in enumerate(parts):
        markup = _keyboard(token, result, page) if number == len(parts) - 1 else None
        if number == 0 and edit is not None:
            try:
                await _patiently(partial(bot.edit_message_text, part, chat_id=chat_id, message_id=edit,
                                         reply_markup=markup))
            except BadRequest as exc:
                if "not modified" not in str(exc).lower():  # the same button pressed twice
                    raise
        else:
            threaded = reply_to is not None and number == 0
            reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if threaded else None
            send = partial(bot.send_message, chat_id, part, reply_markup=markup, reply_parameters=reply)
            await _patiently(send)


async def _patiently(call: Callable[[], Awaitable[T]], attempts: int = 3) -> T:
    """`call()`, waiting out Telegram's flood control (429 RetryAfter) instead of losing the answer."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except RetryAfter as exc:
            if attempt == attempts:
                raise
            wait = _seconds(exc)
            log.info("flood control: waiting %.0f s before sending", wait)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)  # an int in PTB 22, a timedelta from 23
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


def _keyboard(token: str, result: Result, page: int) -> InlineKeyboardMarkup:
    first, end = result.page(page)
    rows = [[InlineKeyboardButton(f"📄 [{i + 1}]", callback_data=paragraph_data(token, i))
             for i in range(first, end)]]
    if page + 1 < result.pages:
        rows.append([InlineKeyboardButton("Lebih banyak", callback_data=more_data(token, page + 1))])
    return InlineKeyboardMarkup(rows)


async def button(update: Update, context: Context) -> None:
    """'Lebih banyak' and the paragraph buttons; a token from another chat, or made up, opens nothing."""
    query = update.callback_query
    assert query is not None
    pressed = parse_callback(query.data)
    chat_id = query.message.chat.id if query.message is not None else None
    result = _results(context).get(pressed.token, chat_id) if pressed is not None else None
    if pressed is None or result is None or chat_id is None or not _in_range(pressed, result):
        log.info("update %s: button %r refused in chat %s", update.update_id, query.data, chat_id)
        await query.answer(render.EXPIRED, show_alert=True)
        return
    await query.answer()
    message_id = query.message.message_id  # type: ignore[union-attr]
    if pressed.kind == MORE:
        await _show_page(context.bot, pressed.token, result, pressed.number, edit=message_id)
        return
    quote = result.answer.quotes[pressed.number]
    article = await asyncio.to_thread(_tanya(context).article, quote.article_id)
    if article is None or article.text[quote.start : quote.end] != quote.text:
        text = render.ARTICLE_CHANGED  # re-indexed since: the offsets no longer point at the quote
    else:
        text = render.paragraph_html(article, quote, pressed.number + 1)
    reply = ReplyParameters(message_id, allow_sending_without_reply=True)
    await context.bot.send_message(chat_id, text, reply_parameters=reply)


def _in_range(pressed: Callback, result: Result) -> bool:
    limit = result.pages if pressed.kind == MORE else len(result.answer.quotes)
    return 0 <= pressed.number < limit


# --- commands ----------------------------------------------------------------------------------


async def start(update: Update, context: Context) -> None:
    titles = await asyncio.to_thread(_tanya(context).newest_titles, 3)
    text = render.start_html(context.bot.username, render.example_questions(titles))
    await update.effective_message.reply_text(text)  # type: ignore[union-attr]


async def help_command(update: Update, context: Context) -> None:
    await update.effective_message.reply_text(render.help_html(context.bot.username))  # type: ignore[union-attr]


async def sources(update: Update, context: Context) -> None:
    stats = await asyncio.to_thread(_tanya(context).stats)
    await update.effective_message.reply_text(render.sources_html(stats))  # type: ignore[union-attr]


async def unknown_command(update: Update, context: Context) -> None:
    message = cast(Message, update.effective_message)
    command = _command(message)
    if message.chat.type == ChatType.PRIVATE or (command and command[1] == context.bot.username.lower()):
        await message.reply_text(render.UNKNOWN_COMMAND)


async def not_text(update: Update, context: Context) -> None:
    await update.effective_message.reply_text(render.ASK_HOW)  # type: ignore[union-attr]


def _command(message: Message) -> tuple[str, str] | None:
    """(command, @target or "") of a message that starts with a command, lower-cased."""
    text = message.text or ""
    if not text.startswith("/"):
        return None
    name, _, target = text.split(maxsplit=1)[0][1:].partition("@")
    return name.lower(), target.lower()


# --- admin: reindex and uploads ----------------------------------------------------------------


async def reindex(update: Update, context: Context) -> None:
    message = cast(Message, update.effective_message)
    if not _is_admin(update, context):
        await message.reply_text(render.ADMIN_ONLY)
        return
    await message.reply_text(render.REINDEX_STARTED)
    context.application.create_task(_reindex_and_report(message, context), update=update)


async def _reindex_and_report(message: Message, context: Context) -> None:
    await message.reply_text(await _update_index(context, None))


async def document(update: Update, context: Context) -> None:
    message = cast(Message, update.effective_message)
    upload = message.document
    assert upload is not None
    if not _is_admin(update, context):
        await message.reply_text(render.UPLOAD_ADMIN_ONLY)
        return
    name = upload.file_name or "artikel.txt"
    if not is_supported(name):
        await message.reply_text(render.UNSUPPORTED_UPLOAD)
        return
    limit = _settings(context).telegram.max_upload_bytes
    too_big = render.UPLOAD_TOO_BIG.format(megabytes=limit / 1e6)
    if (upload.file_size or 0) > limit:
        await message.reply_text(too_big)
        return
    async with typing(message):
        data = bytes(await (await upload.get_file()).download_as_bytearray())
        if len(data) > limit:  # the size Telegram announced is not trusted
            await message.reply_text(too_big)
            return
        await message.reply_text(await _update_index(context, (name, data)))


async def _update_index(context: Context, upload: tuple[str, bytes] | None) -> str:
    """Store the upload (if any) and update the index from its sources plus the articles folder."""
    async with context.bot_data[UPDATE_LOCK]:
        try:
            stored, already, summary = await asyncio.to_thread(
                _store_and_update, _tanya(context), _settings(context), upload
            )
        except TanyaError as exc:
            return f"Pembaruan indeks gagal: {render.esc(str(exc))}"
    log.info("index updated from the bot: %s", summary.to_text())
    return render.summary_html(summary, stored, already_stored=already)


def _store_and_update(
    tanya: Tanya, settings: Settings, upload: tuple[str, bytes] | None
) -> tuple[str, bool, UpdateSummary]:
    """(file name, whether those bytes were already there, the update's summary)."""
    folder = settings.resolve(settings.telegram.articles_dir)
    same = same_upload(folder, upload[1]) if upload else None
    stored = (same or store_upload(folder, *upload)).name if upload else ""
    return stored, same is not None, tanya.update(sources_with(tanya, folder))


# --- plumbing ----------------------------------------------------------------------------------


@asynccontextmanager
async def typing(message: Message) -> AsyncIterator[None]:
    """Show "typing…" in the chat until the block ends."""

    async def keep_typing() -> None:
        while True:
            await asyncio.sleep(TYPING_REPEAT_SECONDS)
            await _send_typing(message)

    await _send_typing(message)
    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def _send_typing(message: Message) -> None:
    try:
        await message.reply_chat_action(ChatAction.TYPING)
    except TelegramError as exc:  # a missing typing indicator is no reason to drop the answer
        log.debug("typing action failed: %s", exc)


async def _tell(update: Update, text: str) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)


async def on_error(update: object, context: Context) -> None:
    """Log the failure with its update id, and tell the user instead of going silent."""
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("update %s failed: %s", update_id, type(context.error).__name__, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    with suppress(TelegramError):  # telling the user must not fail in turn
        if update.callback_query is not None:
            await update.callback_query.answer()
        await context.bot.send_message(update.effective_chat.id, render.SOMETHING_WENT_WRONG)


def _is_admin(update: Update, context: Context) -> bool:
    return _access(context).is_admin(update.effective_user.id if update.effective_user else None)


def _tanya(context: Context) -> Tanya:
    return cast(Tanya, context.bot_data[TANYA])


def _settings(context: Context) -> Settings:
    return cast(Settings, context.bot_data[SETTINGS])


def _access(context: Context) -> Access:
    return cast(Access, context.bot_data[ACCESS])


def _results(context: Context) -> ResultStore:
    return cast(ResultStore, context.bot_data[RESULTS])
