"""What the cases app does when funds reports something (``fangpin.funds.hooks``).

Funds never imports cases; cases subscribes at start-up (``CasesConfig.ready``).

``payments_succeeded`` — the bank's return (回盘) has paid relief. Every case that waits
for one of those payments (state ``payment_requested``, the payment being its current
decision's) moves to "paid" through the workflow's own step ``payment_paid`` (确认到账),
as the user who recorded the return, in the return's transaction — nobody has to open
the case and click. Payments without a case (the demo's fund, for instance) are left alone.

A refusal rolls the whole return back. The step's guard (the payment has succeeded)
holds by construction; what can refuse is the user — nobody (the operator's command line
without ``--as``), a role that may not confirm payments, a region outside theirs — or a
concurrent change. Recording the bank's money while its cases stay behind would bring
back, unseen, the click this handler removes; so the handler raises ``FundError``, which
the import reports as a problem of the file ("nothing was changed"). Importing the same
return as a user who may confirm payments then records both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied

from .models import Case

if TYPE_CHECKING:  # the handler is subscribed at start-up: its heavy imports wait for a call
    from fangpin.funds.models import Payment
from .states import State

CHUNK = 2000  # ids per query: well under SQLite's limit of bound parameters

ERR_NO_USER = (
    "this return pays relief cases ({numbers}); record it as a user who may confirm "
    "payments (e.g. fangpin fund bank-return --as USER) so that they move to paid; nothing "
    "was changed (回盘涉及救助案件，请以有权确认到账的用户导入；未作任何更改)"
)
ERR_CASE_NOT_PAID = (
    "case {number} cannot be moved to paid: {reason}; nothing was changed "
    "(案件无法确认到账，回盘未导入)"
)
REASON = "paid, by the bank's return 银行回盘确认到账"


def _waiting_cases(payment_ids: list[int]) -> list[Case]:
    """The cases waiting for one of these payments, locked, in id order (one query a chunk)."""
    cases: dict[int, Case] = {}
    for start in range(0, len(payment_ids), CHUNK):
        chunk = payment_ids[start : start + CHUNK]
        for case in (
            Case.objects.select_for_update(of=("self",))
            .filter(
                state=State.PAYMENT_REQUESTED,
                decisions__payment_id__in=chunk,
                decisions__superseded_by__isnull=True,
            )
            .order_by("id")
        ):
            cases[case.pk] = case
    return [cases[pk] for pk in sorted(cases)]


def payments_succeeded(*, payments: list[Payment], actor: Any) -> None:
    from fangpin.funds.services import FundError

    from . import services

    """Move each case whose payment the bank has just paid to "paid" (确认到账), as ``actor``."""
    cases = _waiting_cases(sorted(p.pk for p in payments))
    if not cases:
        return
    if not getattr(actor, "pk", None):
        shown = ", ".join(c.number for c in cases[:5]) + (" …" if len(cases) > 5 else "")
        raise FundError(ERR_NO_USER.format(numbers=shown), field="reference")
    for case in cases:
        try:
            services.case_transition(
                case=case, transition="payment_paid", actor=actor, reason=REASON
            )
        except (services.CaseError, PermissionDenied) as exc:
            reason = exc.message if isinstance(exc, services.CaseError) else str(exc)
            raise FundError(
                ERR_CASE_NOT_PAID.format(number=case.number, reason=reason), field="reference"
            ) from None
