"""Progress of long work on a terminal: ``progress(step, done=None, total=None)``.

The same callable shape the background jobs record (``jobs.services.JobProgress``) and
the importers already call with a line (``progress("checking …")``). On a terminal it
draws a bar with ``rich``; in a log (cron, CI, a pipe) it writes one plain line per
step, so logs stay readable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TextIO

Progress = Callable[..., None]


@contextlib.contextmanager
def terminal_progress(stream: Any) -> Iterator[Progress]:
    """A ``progress`` writing to ``stream`` (a ``TextIO`` or a Django ``OutputWrapper``)."""
    raw: TextIO = getattr(stream, "_out", stream)
    ending = "" if raw is not stream else "\n"  # Django's OutputWrapper ends lines itself
    if not getattr(raw, "isatty", lambda: False)():
        last = [""]

        def plain(step: str, done: int | None = None, total: int | None = None) -> None:
            if step != last[0]:
                last[0] = step
                counted = f" ({done:,}/{total:,})" if done is not None and total else ""
                stream.write(f"{step}{counted}{ending}")

        yield plain
        return

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=raw),
        transient=False,
    )
    task = bar.add_task("", total=None)

    def drawn(step: str, done: int | None = None, total: int | None = None) -> None:
        bar.update(task, description=str(step), completed=done or 0, total=total or None)

    with bar:
        yield drawn
