"""The Telegram bot: `tanya bot`. Only this package imports telegram, and only when the bot runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tanya.app import Tanya


def run_bot(tanya: Tanya) -> None:
    """Run the bot until stopped (SIGINT/SIGTERM); errors a user can fix raise TanyaError."""
    from tanya.bot.app import run

    run(tanya)
