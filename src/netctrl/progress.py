"""Progress bars for long loops (training, evaluation, sweeps, labelling), in the core so that every layer (problem
packages included) can show one: rich bars on stderr, drawn only when stderr is a terminal.

A bar only displays: it draws no random numbers and changes nothing its loop computes, so a run with bars gives
the results of one without. Tests draw bars on a console of their own by patching :func:`progress_console`
(e.g. ``rich.console.Console(file=io.StringIO(), force_terminal=True)``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def progress_console():
    """The rich console progress bars draw on: stderr, shared by every bar (a bar inside another's loop is drawn
    under it). Bars are off when it is not a terminal (a file, a pipe, a test's capture)."""
    global _CONSOLE
    if _CONSOLE is None:
        from rich.console import Console

        _CONSOLE = Console(stderr=True)
    return _CONSOLE


_CONSOLE = None


def _stdout_is_terminal() -> bool:
    try:
        return bool(sys.stdout.isatty())
    except (AttributeError, ValueError):  # replaced or closed stdout
        return False


class Progress:
    """A rich progress bar on stderr: ``description``, bar, ``completed/total``, elapsed and remaining time, and a
    status text; nothing at all when ``enabled`` is false (rich is not even imported) or when the console
    (:func:`progress_console`, or ``console``) is not a terminal. A bar only displays: it draws no random
    numbers and changes nothing its loop computes.

    ``start``: units already done (a resumed run). :meth:`update` advances it (or sets ``completed``, ``total``,
    ``description``, ``status``), :meth:`reset` starts a new phase on the same line; use it as a context manager
    or call :meth:`close`. While it is drawn, what the loop prints goes above it (to stdout still, unless stdout
    is the terminal too).
    """

    def __init__(self, total: float, description: str, enabled: bool = True, start: float = 0, *, console=None) -> None:
        self._bar = None
        if enabled:
            console = console if console is not None else progress_console()
            enabled = bool(console.is_terminal)
        self.enabled = enabled
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"),
                console=console,
                transient=False,
                redirect_stdout=_stdout_is_terminal(),
            )
            self._bar.start()
            self._task = self._bar.add_task(description, total=total, completed=int(start), status="")

    def update(
        self,
        advance: float = 1,
        status: str | None = None,
        *,
        description: str | None = None,
        total: float | None = None,
        completed: float | None = None,
    ) -> None:
        """Advance by ``advance`` (or set ``completed``); ``status``, ``description``, ``total``: new values
        (``None``: unchanged)."""
        if self._bar is None:
            return
        fields: dict[str, Any] = {"status": status} if status is not None else {}
        if completed is not None:
            self._bar.update(self._task, completed=completed, total=total, description=description, **fields)
        else:
            self._bar.update(self._task, advance=advance, total=total, description=description, **fields)

    def reset(self, total: float, description: str, status: str = "") -> None:
        """A new phase on the same bar: ``0/total``, its clock restarted (the last phase is drawn as it ended)."""
        if self._bar is not None:
            self._bar.refresh()
            self._bar.reset(self._task, total=total, description=description, status=status)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def track(items: Iterable[T], description: str, enabled: bool = True) -> Iterator[T]:
    """The items of ``items`` with a :class:`Progress` bar over them (``for x in track(xs, "load sweep"):``); the
    bar closes when the loop ends, breaks or raises."""
    items = list(items)
    with Progress(len(items), description, enabled=enabled) as bar:
        for item in items:
            yield item
            bar.update(1)
