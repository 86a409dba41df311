"""A fake Telegram Bot API on 127.0.0.1: serves queued updates, records every request, checks HTML.

Enough of the real API for the bot to run through python-telegram-bot unchanged: getMe, getUpdates
(offset, limit, long-poll timeout), sendMessage, editMessageText, answerCallbackQuery, sendChatAction,
setMyCommands, setWebhook, deleteWebhook, getWebhookInfo, getFile and file downloads. Like Telegram it rejects
a wrong token (401), malformed HTML, messages longer than 4,096 characters, a webhook URL that is not https
and getUpdates while a webhook is set (409), so a bot that passes here behaves there. It does not push
updates to a webhook: a test POSTs `text_update(...)` to the bot itself, as Telegram would.
Used by tests/test_bot.py, tests/test_bot_webhook.py and bench/bot_load.py; stdlib only.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

T = TypeVar("T")

MESSAGE_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64
_JSON_PARAMS = {"reply_markup", "commands", "allowed_updates", "reply_parameters", "link_preview_options",
                "entities", "scope"}
_INT_PARAMS = {"chat_id", "message_id", "offset", "limit", "timeout", "from_chat_id", "max_connections"}
_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "blockquote",
         "tg-spoiler", "span", "tg-emoji"}
_ENTITIES = {"lt", "gt", "amp", "quot"}
_WORD = re.compile(r"@\w+")


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _TelegramHtml(HTMLParser):
    """Telegram's HTML subset: known tags, balanced, no bare <, > or &, no nested blockquote."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TAGS:
            raise ApiError(400, f"Bad Request: can't parse entities: unsupported start tag \"{tag}\"")
        if tag == "a" and not dict(attrs).get("href"):
            raise ApiError(400, "Bad Request: can't parse entities: <a> without href")
        if tag == "blockquote" and "blockquote" in self.open:
            raise ApiError(400, "Bad Request: can't parse entities: nested blockquote")
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise ApiError(400, f"Bad Request: can't parse entities: unsupported tag \"{tag}/\"")

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            raise ApiError(400, f"Bad Request: can't parse entities: unmatched end tag \"{tag}\"")
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if any(c in data for c in "<>&"):
            raise ApiError(400, "Bad Request: can't parse entities: unescaped <, > or &")
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in _ENTITIES:
            raise ApiError(400, f"Bad Request: can't parse entities: unsupported entity &{name};")
        self.text.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.text.append(html.unescape(f"&#{name};"))


def parse_telegram_html(text: str) -> str:
    """The visible text of a Telegram HTML message; ApiError(400) where Telegram would refuse it."""
    parser = _TelegramHtml()
    parser.feed(text)
    parser.close()
    if parser.open:
        raise ApiError(400, f"Bad Request: can't parse entities: unclosed tag \"{parser.open[-1]}\"")
    if parser.rawdata:
        raise ApiError(400, "Bad Request: can't parse entities: unfinished tag")
    return "".join(parser.text)


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Sent:
    """A message the bot sent (and its latest edit)."""

    chat_id: int
    message_id: int
    html: str
    text: str
    reply_markup: dict[str, Any] | None
    reply_to: int | None
    at: float
    edits: int = 0

    def buttons(self) -> list[dict[str, Any]]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    def button(self, label: str) -> dict[str, Any]:
        return next(b for b in self.buttons() if label in b["text"])


class FakeBotApi:
    """Start with `with FakeBotApi(token) as api:`; point the bot at api.base_url and api.base_file_url."""

    def __init__(self, token: str, bot_id: int = 700_000_001, username: str = "tanya_test_bot") -> None:
        self.token = token
        self.bot = {"id": bot_id, "is_bot": True, "first_name": "Tanya", "username": username,
                    "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": False}
        self.username = username
        self.calls: list[Call] = []
        self.sent: list[Sent] = []
        self.commands: list[dict[str, str]] = []
        self.unauthorized: list[str] = []  # methods called with a wrong token
        self.webhook: dict[str, Any] = {}  # setWebhook's parameters while a webhook is set
        self.flooded = 0  # sendMessage calls refused with 429, as Telegram's flood control does
        self._flood_next = 0
        self.enqueued_at: dict[int, float] = {}
        self.delivered_at: dict[int, float] = {}
        self._changed = threading.Condition()
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._next_message_id = 1
        self._chats: dict[int, dict[str, Any]] = {}
        self._files: dict[str, bytes] = {}
        self._closing = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeBotApi:
        api = self

        class Handler(_Handler):
            fake = api

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = False
        self._server.block_on_close = True  # server_close() joins every request thread
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-bot-api")
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._changed:
            self._closing = True
            self._changed.notify_all()  # long polls return at once
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)
        self._server = self._thread = None

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # --- what users do -------------------------------------------------------------------------

    def private_chat(self, user_id: int) -> dict[str, Any]:
        return self._chat({"id": user_id, "type": "private", "first_name": f"User{user_id}"})

    def group_chat(self, chat_id: int, title: str = "Grup Berita") -> dict[str, Any]:
        return self._chat({"id": chat_id, "type": "supergroup", "title": title})

    def send_text(self, chat: dict[str, Any], user_id: int, text: str,
                  reply_to: Sent | dict[str, Any] | None = None) -> int:
        """A user sends `text` to `chat`; commands and @mentions get their entities. Returns the update id."""
        message = self._user_message(chat, user_id, text=text, entities=_entities(text))
        if reply_to is not None:
            message["reply_to_message"] = self._as_message(reply_to)
        return self.enqueue({"message": message})

    def text_update(self, chat: dict[str, Any], user_id: int, text: str) -> dict[str, Any]:
        """The update send_text would queue, with a fresh id, for a test to POST to a webhook itself."""
        message = self._user_message(chat, user_id, text=text, entities=_entities(text))
        with self._changed:
            update_id = self._next_update_id
            self._next_update_id += 1
        return {"update_id": update_id, "message": message}

    def send_document(self, chat: dict[str, Any], user_id: int, file_name: str, data: bytes,
                      mime_type: str = "text/plain", declared_size: int | None = None) -> int:
        with self._changed:
            file_id = f"file{len(self._files) + 1}"
            self._files[file_id] = data
        size = len(data) if declared_size is None else declared_size
        document = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": file_name,
                    "mime_type": mime_type, "file_size": size}
        return self.enqueue({"message": self._user_message(chat, user_id, document=document)})

    def press(self, chat: dict[str, Any], user_id: int, on: Sent, data: str) -> int:
        """A user presses a button with callback `data` on the bot's message `on` (shown in `chat`)."""
        message = self._as_message(on)
        message["chat"] = self._chats[chat["id"]]
        query = {"id": f"cq{self._next_update_id}", "from": _user(user_id),
                 "chat_instance": f"ci{chat['id']}", "message": message, "data": data}
        return self.enqueue({"callback_query": query})

    def enqueue(self, update: dict[str, Any]) -> int:
        with self._changed:
            update_id = self._next_update_id
            self._next_update_id += 1
            self._updates.append({"update_id": update_id, **update})
            self.enqueued_at[update_id] = time.monotonic()
            self._changed.notify_all()
            return update_id

    def flood(self, messages: int) -> None:
        """Refuse the next `messages` sendMessage calls with 429 "retry after 1"."""
        with self._changed:
            self._flood_next = messages

    # --- what tests look at --------------------------------------------------------------------

    def wait_for(self, check: Callable[[], T | None], timeout: float = 15.0, what: str = "") -> T:
        """Wait until check() returns something truthy (called under the lock) and return it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = check()
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    methods = [c.method for c in self.calls][-20:]
                    raise TimeoutError(f"timed out waiting for {what or check}; last calls: {methods}")
                self._changed.wait(left)

    def messages_to(self, chat_id: int) -> list[Sent]:
        with self._changed:
            return [s for s in self.sent if s.chat_id == chat_id]

    def wait_messages(self, chat_id: int, count: int = 1, timeout: float = 15.0) -> list[Sent]:
        return self.wait_for(lambda: (found := self.messages_to(chat_id)) and len(found) >= count and found,
                             timeout, f"{count} message(s) to chat {chat_id}")

    def calls_of(self, method: str) -> list[Call]:
        with self._changed:
            return [c for c in self.calls if c.method == method]

    def wait_call(self, method: str, check: Callable[[Call], bool] = lambda c: True,
                  timeout: float = 15.0) -> Call:
        def found() -> Call | None:
            return next((c for c in self.calls_of(method) if check(c)), None)

        return self.wait_for(found, timeout, method)

    def wait_delivered(self, update_id: int, timeout: float = 15.0) -> None:
        self.wait_for(lambda: update_id in self.delivered_at, timeout, f"update {update_id} delivered")

    def pending_updates(self) -> int:
        with self._changed:
            return sum(1 for u in self._updates if u["update_id"] not in self.delivered_at)

    # --- the API -------------------------------------------------------------------------------

    def handle(self, method: str, params: dict[str, Any]) -> Any:
        with self._changed:
            self.calls.append(Call(method, params))
            self._changed.notify_all()
        action = getattr(self, f"_api_{method}", None)
        if action is None:
            raise ApiError(404, "Not Found")
        return action(params)

    def file(self, path: str) -> bytes:
        file_id = path.rsplit("/", 1)[-1].split(".", 1)[0]
        with self._changed:
            if file_id not in self._files:
                raise ApiError(404, "Not Found")
            return self._files[file_id]

    def _api_getMe(self, params: dict[str, Any]) -> Any:
        return self.bot

    def _api_setWebhook(self, params: dict[str, Any]) -> Any:
        if not str(params.get("url", "")).startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        with self._changed:
            self.webhook = dict(params)
        return True

    def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        with self._changed:
            self.webhook = {}
        return True

    def _api_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        with self._changed:
            info = {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                    "pending_update_count": 0}
            if self.webhook.get("allowed_updates"):
                info["allowed_updates"] = self.webhook["allowed_updates"]
            return info

    def _api_setMyCommands(self, params: dict[str, Any]) -> Any:
        with self._changed:
            self.commands = list(params.get("commands", []))
        return True

    def _api_sendChatAction(self, params: dict[str, Any]) -> Any:
        self._known_chat(params.get("chat_id"))
        return True

    def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        if len(str(params.get("text", ""))) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        if self.webhook:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._changed:
            while True:
                if offset:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                batch = self._updates[:limit]
                left = deadline - time.monotonic()
                if batch or self._closing or left <= 0:
                    break
                self._changed.wait(left)
            now = time.monotonic()
            for update in batch:
                self.delivered_at.setdefault(update["update_id"], now)
            self._changed.notify_all()
            return batch

    def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        with self._changed:
            if self._flood_next:
                self._flood_next -= 1
                self.flooded += 1
                raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        chat = self._known_chat(params.get("chat_id"))
        text, visible = self._checked_text(params)
        reply = params.get("reply_parameters") or {}
        with self._changed:
            sent = Sent(chat["id"], self._next_message_id, text, visible, params.get("reply_markup"),
                        reply.get("message_id"), time.monotonic())
            self._next_message_id += 1
            self.sent.append(sent)
            self._changed.notify_all()
            return self._message_of(sent)

    def _api_editMessageText(self, params: dict[str, Any]) -> Any:
        chat = self._known_chat(params.get("chat_id"))
        text, visible = self._checked_text(params)
        with self._changed:
            sent = next((s for s in self.sent
                         if s.chat_id == chat["id"] and s.message_id == params.get("message_id")), None)
            if sent is None:
                raise ApiError(400, "Bad Request: message to edit not found")
            markup = params.get("reply_markup")
            if sent.html == text and sent.reply_markup == markup:
                raise ApiError(400, "Bad Request: message is not modified: specified new message content and "
                                    "reply markup are exactly the same as a current content and reply markup")
            sent.html, sent.text, sent.reply_markup = text, visible, markup
            sent.edits += 1
            self._changed.notify_all()
            return self._message_of(sent)

    def _api_getFile(self, params: dict[str, Any]) -> Any:
        file_id = str(params.get("file_id"))
        with self._changed:
            if file_id not in self._files:
                raise ApiError(400, "Bad Request: invalid file_id")
            size = len(self._files[file_id])
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": size,
                "file_path": f"documents/{file_id}.bin"}

    # --- helpers -------------------------------------------------------------------------------

    def _checked_text(self, params: dict[str, Any]) -> tuple[str, str]:
        text = str(params.get("text", ""))
        visible = parse_telegram_html(text) if str(params.get("parse_mode", "")).upper() == "HTML" else text
        if not visible.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(visible) > MESSAGE_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")
        for row in (params.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if len(button.get("callback_data", "").encode()) > CALLBACK_DATA_LIMIT:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return text, visible

    def _chat(self, chat: dict[str, Any]) -> dict[str, Any]:
        with self._changed:
            self._chats[chat["id"]] = chat
        return chat

    def _known_chat(self, chat_id: object) -> dict[str, Any]:
        with self._changed:
            chat = self._chats.get(chat_id)  # type: ignore[call-overload]
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _user_message(self, chat: dict[str, Any], user_id: int, **content: Any) -> dict[str, Any]:
        with self._changed:
            message_id = self._next_message_id
            self._next_message_id += 1
        return {"message_id": message_id, "date": int(time.time()), "chat": chat, "from": _user(user_id),
                **{k: v for k, v in content.items() if v}}

    def _message_of(self, sent: Sent) -> dict[str, Any]:
        message = {"message_id": sent.message_id, "date": int(time.time()), "chat": self._chats[sent.chat_id],
                   "from": self.bot, "text": sent.text}
        if sent.reply_markup:
            message["reply_markup"] = sent.reply_markup
        return message

    def _as_message(self, message: Sent | dict[str, Any]) -> dict[str, Any]:
        return self._message_of(message) if isinstance(message, Sent) else dict(message)


def _user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}


def _entities(text: str) -> list[dict[str, Any]]:
    """bot_command at the start and @mentions, with offsets in UTF-16 units as Telegram sends them."""
    entities = []
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command)})
    for match in _WORD.finditer(text):
        if text.startswith("/") and match.start() < len(text.split(maxsplit=1)[0]):
            continue  # the @bot of /command@bot belongs to the command
        entities.append({"type": "mention", "offset": utf16_len(text[: match.start()]),
                         "length": utf16_len(match.group())})
    return entities


class _Handler(BaseHTTPRequestHandler):
    fake: FakeBotApi
    protocol_version = "HTTP/1.0"  # one request per connection: no idle threads left behind

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # quiet: the request lines carry the token

    def _route(self) -> None:
        path = unquote(urlsplit(self.path).path)  # PTB percent-encodes the token's colon in file URLs
        file_prefix = f"/file/bot{self.fake.token}/"
        api_prefix = f"/bot{self.fake.token}/"
        try:
            if path.startswith(file_prefix):
                self._reply(200, self.fake.file(path[len(file_prefix) :]), "application/octet-stream")
                return
            if path.startswith(("/bot", "/file/bot")) and not path.startswith(api_prefix):
                self.fake.unauthorized.append(path.rsplit("/", 1)[-1])
                raise ApiError(401, "Unauthorized")
            if not path.startswith(api_prefix):
                raise ApiError(404, "Not Found")
            result = self.fake.handle(path[len(api_prefix) :], self._params())
            self._json(200, {"ok": True, "result": result})
        except ApiError as exc:
            error = {"ok": False, "error_code": exc.code, "description": exc.description}
            self._json(exc.code, {**error, "parameters": exc.parameters} if exc.parameters else error)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the bot gave up on this request (e.g. a long poll at shutdown)

    def _params(self) -> dict[str, Any]:
        raw = dict(parse_qsl(urlsplit(self.path).query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        kind = self.headers.get("Content-Type", "")
        if kind.startswith("application/json") and body:
            return dict(json.loads(body))
        if kind.startswith("multipart/"):
            raise ApiError(400, "Bad Request: the fake Bot API does not take uploads")
        raw.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if key in _JSON_PARAMS:
                params[key] = json.loads(value)
            elif key in _INT_PARAMS and re.fullmatch(r"-?\d+", value):
                params[key] = int(value)
            else:
                params[key] = value
        return params

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._reply(status, json.dumps(payload).encode(), "application/json")

    def _reply(self, status: int, body: bytes, kind: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
