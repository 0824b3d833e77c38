"""What feeds tells the apps downstream of it, without importing them (imports run one way).

``batch_accepted`` — a batch has just been accepted into the lake. ``services.feed_import``
fires it inside the transaction that commits the batch's manifest row, so what a
subscriber writes (the screening queues a run of the batch's years) commits with the
batch or not at all. Subscribe once, in ``AppConfig.ready``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import FeedBatch

_batch_accepted: list[Callable[..., None]] = []


def batch_accepted_subscribe(callback: Callable[..., None]) -> None:
    """Call ``callback(batch=…, actor=…)`` for every accepted batch (once, however often
    subscribed)."""
    if callback not in _batch_accepted:
        _batch_accepted.append(callback)


def batch_accepted_unsubscribe(callback: Callable[..., None]) -> None:
    if callback in _batch_accepted:
        _batch_accepted.remove(callback)


def batch_accepted_fire(*, batch: FeedBatch, actor: Any) -> None:
    for callback in list(_batch_accepted):
        callback(batch=batch, actor=actor)
