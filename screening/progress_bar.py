"""Rich progress bars for the command line: one bar per stage, failures counted."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RichProgress:
    """Implements :class:`screening.progress.Progress` with rich bars."""

    def __init__(self, console: Console) -> None:
        self._bars = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self._tasks: dict[str, TaskID] = {}
        self._failed: dict[str, int] = {}
        self._totals: dict[str, int] = {}

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._bars.stop()

    def start(self, stage: str, total: int) -> None:
        self._failed[stage] = 0
        self._totals[stage] = total
        if stage in self._tasks:
            self._bars.reset(self._tasks[stage], total=total, failed=0)
        else:
            self._tasks[stage] = self._bars.add_task(stage, total=total, failed=0)

    def advance(self, stage: str, ok: bool = True) -> None:
        if not ok:
            self._failed[stage] += 1
        self._bars.update(self._tasks[stage], advance=1, failed=self._failed[stage])

    def add(self, stage: str, count: int = 1) -> None:
        self._totals[stage] += count
        self._bars.update(self._tasks[stage], total=self._totals[stage])

    def note(self, text: str) -> None:
        self._bars.console.print(text, highlight=False)
