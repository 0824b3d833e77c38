"""The file importers ``fangpin import KIND PATH`` runs, each registered by the app that
owns it (in its ``AppConfig.ready``), so that the command knows no app by name and no
app imports another to reach its importer.

An importer is a function ``run(path=, actor=[, progress=])`` whose result has ``ok``,
``problems``, ``error_lines()`` and ``summary()`` (``common.tabular.ImportOutcome``): the
whole file is checked, every problem printed as ``PATH:ROW:COLUMN: message`` and nothing
written, or the changes are written and counted. An importer with options of its own
(the department feeds) gives ``add_arguments`` and ``handle`` instead of ``run``.
"""

from __future__ import annotations

from argparse import ArgumentParser
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any


@dataclass(frozen=True)
class FileImporter:
    kind: str
    help: str
    # the importer, or its "module:function" — imported only when the command runs, so that
    # registering it at start-up costs every process nothing
    run: Callable[..., Any] | str | None = None
    progress: bool = False  # ``run`` takes ``progress=`` (a line printer)
    add_arguments: Callable[[ArgumentParser], None] | None = None
    handle: Callable[[Any, dict, Any], None] | None = None  # (command, options, actor)

    def runner(self) -> Callable[..., Any]:
        if isinstance(self.run, str):
            module, function = self.run.split(":")
            return getattr(import_module(module), function)
        return self.run


IMPORTERS: dict[str, FileImporter] = {}


def importer_register(importer: FileImporter) -> None:
    """Offer ``importer`` as ``fangpin import <kind>``."""
    if importer.run is None and importer.handle is None:
        raise ValueError(f"importer {importer.kind!r} needs run or handle")
    IMPORTERS[importer.kind] = importer
