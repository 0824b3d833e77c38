"""Progress on a terminal (common/progress.py): a bar on a terminal, one line per step in a log."""

from __future__ import annotations

import io

from fangpin.common.progress import terminal_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_one_plain_line_per_step():
    log = io.StringIO()
    with terminal_progress(log) as progress:
        progress("读取文件", 1, 4)
        progress("读取文件", 1, 4)  # the same step again: no new line
        progress("逐行校验", 2, 4)
        progress("a line from an importer")
    assert log.getvalue().splitlines() == [
        "读取文件 (1/4)",
        "逐行校验 (2/4)",
        "a line from an importer",
    ]


def test_a_terminal_gets_a_bar_with_the_step_and_the_count():
    screen = Terminal()
    with terminal_progress(screen) as progress:
        progress("逐行校验", 3, 4)
    shown = screen.getvalue()
    assert "逐行校验" in shown and "3/4" in shown
