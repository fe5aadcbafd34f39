"""How long-running library code reports progress without printing: a small protocol.

The command line renders it as progress bars; tests and library callers use
:class:`SilentProgress`.
"""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger(__name__)


class Progress(Protocol):
    def start(self, stage: str, total: int) -> None:
        """A stage begins with ``total`` units of work."""

    def advance(self, stage: str, ok: bool = True) -> None:
        """One unit of ``stage`` finished (``ok`` false: it failed)."""

    def add(self, stage: str, count: int = 1) -> None:
        """``count`` more units of ``stage`` became known (follow-up jobs)."""

    def note(self, text: str) -> None:
        """A line worth telling the user."""


class SilentProgress:
    """Progress that only logs."""

    def start(self, stage: str, total: int) -> None:
        log.info("%s: %d to do", stage, total)

    def advance(self, stage: str, ok: bool = True) -> None:
        return None

    def add(self, stage: str, count: int = 1) -> None:
        return None

    def note(self, text: str) -> None:
        log.info(text)
