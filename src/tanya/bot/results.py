"""Answers kept for their inline buttons: opaque tokens, tied to one chat, bounded in number."""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict, deque
from dataclasses import dataclass

from tanya.types import Answer

MAX_RESULTS = 1000  # across all chats; the oldest are forgotten first
MAX_PER_CHAT = 20  # a chat's older answers lose their buttons first

MORE = "m"
PARAGRAPH = "p"
_CALLBACK = re.compile(r"([mp]):([A-Za-z0-9_-]{16}):(\d{1,2})")


@dataclass
class Result:
    """One answer shown in a chat, paged `page_size` quotes at a time."""

    chat_id: int
    answer: Answer
    page_size: int

    def __post_init__(self) -> None:
        self.page_size = max(1, self.page_size)

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.answer.quotes) // self.page_size))

    def page(self, number: int) -> tuple[int, int]:
        """(index of the first quote, index after the last) of page `number`."""
        first = number * self.page_size
        return first, min(first + self.page_size, len(self.answer.quotes))


@dataclass(frozen=True)
class Callback:
    """A parsed button press: show page `number` (MORE) or the paragraph of quote `number` (PARAGRAPH)."""

    kind: str
    token: str
    number: int


def more_data(token: str, page: int) -> str:
    return f"{MORE}:{token}:{page}"


def paragraph_data(token: str, quote_index: int) -> str:
    return f"{PARAGRAPH}:{token}:{quote_index}"


def parse_callback(data: str | None) -> Callback | None:
    """The button press, or None for anything this bot did not make."""
    match = _CALLBACK.fullmatch(data or "")
    return Callback(match[1], match[2], int(match[3])) if match else None


class ResultStore:
    """Token -> Result. A token only opens results of the chat it was made in."""

    def __init__(self, max_results: int = MAX_RESULTS, per_chat: int = MAX_PER_CHAT) -> None:
        self._max_results = max_results
        self._per_chat = per_chat
        self._results: OrderedDict[str, Result] = OrderedDict()
        self._by_chat: dict[int, deque[str]] = {}

    def __len__(self) -> int:
        return len(self._results)

    def add(self, result: Result) -> str:
        """Keep `result`; the token names it in callback data."""
        token = secrets.token_urlsafe(12)  # 16 characters, 96 random bits
        self._results[token] = result
        chat = self._by_chat.setdefault(result.chat_id, deque())
        chat.append(token)
        while len(chat) > self._per_chat:
            self._results.pop(chat.popleft(), None)
        while len(self._results) > self._max_results:
            old_token, old = self._results.popitem(last=False)
            self._forget(old.chat_id, old_token)
        return token

    def get(self, token: str, chat_id: int | None) -> Result | None:
        """The result, unless it is unknown, forgotten, or belongs to another chat."""
        result = self._results.get(token)
        if result is None or chat_id is None or result.chat_id != chat_id:
            return None
        return result

    def _forget(self, chat_id: int, token: str) -> None:
        chat = self._by_chat.get(chat_id)
        if chat is None:
            return
        if token in chat:
            chat.remove(token)
        if not chat:
            del self._by_chat[chat_id]
