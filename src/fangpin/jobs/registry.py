"""The runners jobs can run, each registered by the app that owns the work (in its
``AppConfig.ready``), by ``"module:function"`` so that registering costs nothing.

A runner is ``run(*, progress, actor, **params) -> dict``: it does its work all or
nothing, reports ``progress(step, done, total)`` as it goes, raises a ``DomainError``
with a message the user can read when the work is refused, and returns what the job's
page shows and links to (JSON-safe values; ``url`` is linked).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

RUNNERS: dict[str, str] = {}


def runner_register(kind: str, target: str) -> None:
    """Offer the runner ``target`` ("module:function") as jobs of ``kind``."""
    if ":" not in target:
        raise ValueError(f"runner {kind!r}: {target!r} is not 'module:function'")
    RUNNERS[kind] = target


def runner(kind: str) -> Callable[..., dict[str, Any]]:
    module, function = RUNNERS[kind].split(":")
    return getattr(import_module(module), function)
