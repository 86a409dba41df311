"""Who may use the bot: allowlists, admins and a per-user rate limit. Plain ids in, a verdict out."""

from __future__ import annotations

import enum
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from tanya.config import TelegramSettings

RATE_WINDOW_SECONDS = 60.0
MAX_TRACKED_USERS = 10_000  # the least recently seen are forgotten first


class Verdict(enum.Enum):
    ALLOWED = "allowed"
    NOT_ALLOWED = "not allowed"  # outside the allowlists
    RATE_LIMITED = "rate limited"  # over the limit: tell the user once
    RATE_LIMITED_AGAIN = "rate limited again"  # still over it: stay quiet rather than spam


class RateLimiter:
    """At most `limit` requests per user in any sliding window of `window` seconds; 0 means no limit."""

    def __init__(self, limit: int, window: float = RATE_WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic, max_users: int = MAX_TRACKED_USERS) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_users = max_users
        self._hits: OrderedDict[int, deque[float]] = OrderedDict()
        self._warned: set[int] = set()

    def hit(self, user_id: int) -> Verdict:
        if self.limit <= 0:
            return Verdict.ALLOWED
        now = self._clock()
        hits = self._hits.pop(user_id, None) or deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        self._hits[user_id] = hits  # most recently seen last
        while len(self._hits) > self._max_users:
            forgotten, _ = self._hits.popitem(last=False)
            self._warned.discard(forgotten)
        if len(hits) < self.limit:
            hits.append(now)
            self._warned.discard(user_id)
            return Verdict.ALLOWED
        if user_id in self._warned:
            return Verdict.RATE_LIMITED_AGAIN
        self._warned.add(user_id)
        return Verdict.RATE_LIMITED


class Access:
    """The allowlists, admins and rate limit of telegram settings; admins pass every check."""

    def __init__(self, settings: TelegramSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.admins = frozenset(settings.admins)
        self.allowed_users = frozenset(settings.allowed_users)
        self.allowed_chats = frozenset(settings.allowed_chats)
        self.rate = RateLimiter(settings.rate_limit, clock=clock)

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admins

    def is_allowed(self, user_id: int | None, chat_id: int | None) -> bool:
        """Each non-empty list must contain the id; an empty list allows everyone."""
        if self.is_admin(user_id):
            return True
        if self.allowed_users and user_id not in self.allowed_users:
            return False
        return not (self.allowed_chats and chat_id not in self.allowed_chats)

    def check(self, user_id: int | None, chat_id: int | None) -> Verdict:
        """The verdict for one request; an allowed request counts towards the user's rate limit."""
        if not self.is_allowed(user_id, chat_id):
            return Verdict.NOT_ALLOWED
        if user_id is None or self.is_admin(user_id):
            return Verdict.ALLOWED
        return self.rate.hit(user_id)
