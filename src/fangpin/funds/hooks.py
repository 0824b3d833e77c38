"""What funds tells the apps downstream of it, without importing them (imports run one way).

``payment_succeeded`` — the bank's return (回盘) has just paid some relief payments.
``services.payments.bank_returns_write`` fires it once per return, after the payments
are marked succeeded and booked, with the list of those payments (so a subscriber can
work set-wise) and the actor who recorded the return (``None`` for the operator's own
command line). Failed lines are not in the list.

A subscriber runs inside the return's transaction: what it writes commits with the
return, and if it raises, the whole return rolls back. To refuse, raise ``FundError``:
the import reports its message as a problem of the file and changes nothing.

Subscribe once, at start-up (``AppConfig.ready``); the cases app moves its cases to
"paid" here (``fangpin.cases.handlers``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .models import Payment


class PaymentSucceededHandler(Protocol):
    def __call__(self, *, payments: list[Payment], actor: Any) -> None: ...


_payment_succeeded: list[PaymentSucceededHandler] = []


def payment_succeeded_subscribe(callback: PaymentSucceededHandler) -> None:
    """Call ``callback(payments=[…], actor=…)`` whenever a bank return pays (once, however often
    subscribed)."""
    if callback not in _payment_succeeded:
        _payment_succeeded.append(callback)


def payment_succeeded_unsubscribe(callback: PaymentSucceededHandler) -> None:
    """Stop calling ``callback`` (tests); unknown callbacks are ignored."""
    if callback in _payment_succeeded:
        _payment_succeeded.remove(callback)


def payment_succeeded_fire(*, payments: Sequence[Payment], actor: Any) -> None:
    """Tell every subscriber, in order of subscription, that ``payments`` have succeeded."""
    if not payments:
        return
    for callback in list(_payment_succeeded):
        callback(payments=list(payments), actor=actor)
