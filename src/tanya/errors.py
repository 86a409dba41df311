"""Errors whose message is safe and useful to show a user as one line."""

from __future__ import annotations


class TanyaError(Exception):
    """Base error: str(error) is a one-line message meant for the user."""


class ConfigError(TanyaError):
    """config.yaml or an environment override is invalid."""


class InputError(TanyaError):
    """A question, file or argument given by the user cannot be used."""


class IndexMissingError(TanyaError):
    """No index exists where one was expected."""


class IndexMismatchError(TanyaError):
    """The index was built with another model or chunking settings."""


class IndexCorruptError(TanyaError):
    """The index files disagree with each other or cannot be read."""


class ModelLoadError(TanyaError):
    """The embedding model could not be loaded."""


class BotTokenError(TanyaError):
    """The Telegram bot token is missing, malformed or rejected (the message never contains it)."""
