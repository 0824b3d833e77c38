"""Demo cases for ``make demo``: warnings, applications and reports walked through the
workflow so that cases wait at every step, some are paid through a bank batch and its
return (the ledger books them), and one has moved on to follow-up.

- **Who**: a share of the county's open screening warnings of the year (every third,
  oldest first — opened with ``cases.services.case_open_from_warning``: a case per
  student or accident), then households of the demo's township and village (the first by
  household number) as applications and cadres' reports — and, when the county has no
  warnings that year, as warnings too.
- **Household check** (入户核查) records the synthetic generator's own hidden true figures
  where it can (stored by the synthetic build, ``synth.funnel.synth_truth_of``): the
  household's true size and its true income of the case's
  year (else the latest year before it). Elsewhere, and for a household the generator
  does not know, the registry's figures. A warning's self-paid amount is the screening's;
  an application's is made up from the household (deterministic).
- **Payment**: every payment requested is exported to the bank in one batch (报盘); the
  bank's return (回盘, ``funds.importer.bank_returns_record``) pays some of them, the rest
  stay with the bank; the paid cases move to "paid" and the first to follow-up.
- **Closed**: one paid claim is brought in again with the same figures; relieved in full
  already, its county decision is 0.00 and the case closes without a payment (结案).

Runs every step through the services (permissions, guards, audit) as synthetic system
accounts (superusers that cannot log in): one opens the cases and two take the approval
steps in turn, as separation of duties asks (``workflow.duty_refusal``). Deterministic, and safe to run again: a county
that already has cases is left alone. Needs this year's insurance contract (run it after
``synth.demo.funds.fund_demo_seed``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from fangpin.cases import services, workflow
from fangpin.cases.models import Case, Source
from fangpin.cases.workflow import State
from fangpin.common import clock
from fangpin.common.money import Money
from fangpin.regions.models import Region
from fangpin.registry.models import Household
from fangpin.synth.funnel import synth_truth_of

SYSTEM_USERNAME = "synth-cases"
# the two accounts that take the approval steps in turn (separation of duties)
STEP_USERNAMES = ("synth-cases-a", "synth-cases-b")
# (where the case stops: the step it waits for, or a state after payment; how many)
PLAN: list[tuple[str, int]] = [
    ("household_check", 4),
    ("data_compare", 3),
    ("village_review", 3),
    ("notice_close", 3),
    ("township_review", 3),
    ("county_decide", 3),
    ("loss_determine", 3),
    (State.PAYMENT_REQUESTED, 3),  # exported to the bank, no return yet
    (State.PAID, 3),
    (State.FOLLOW_UP, 1),
]
ORDER = [
    "household_check",
    "data_compare",
    "village_review",
    "notice_close",
    "township_review",
    "county_decide",
    "loss_determine",
]
SOURCES = [Source.APPLICATION, Source.REPORT, Source.WARNING]
WARNING_SHARE = 3  # every third open warning is walked…
WARNING_MAX = 9  # …at most this many


def system_user(username: str = SYSTEM_USERNAME) -> Any:
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=username,
        defaults={"is_superuser": True, "is_staff": False, "is_active": True},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def true_figures(*, numbers: list[str]) -> dict[str, tuple[int, dict[int, Money]]]:
    """The generator's hidden truth for ``numbers``: household_no -> (size, income by year),
    as the synthetic build stored it (``synth.funnel``); a household it did not make is
    left out."""
    out: dict[str, tuple[int, dict[int, Money]]] = {}
    for no, year, fen, size in synth_truth_of(numbers).iter_rows():
        out.setdefault(no, (size, {}))[1][year] = Money.from_fen(fen)
    return out


def _income_of(by_year: dict[int, Money], year: int) -> Money | None:
    years = [y for y in by_year if y <= year] or list(by_year)
    return by_year[max(years)] if years else None


def _figures(
    case: Case, truth: dict[str, tuple[int, dict[int, Money]]], self_paid: Money | None
) -> dict[str, Any]:
    household = case.household
    members = max(1, household.members.count())
    record = household.incomes.order_by("-year", "-recorded_at", "-id").first()
    income = record.annual_income if record is not None else Money("8000")
    if household.household_no in truth:  # the generator's true size and income
        size, by_year = truth[household.household_no]
        members = size
        income = _income_of(by_year, case.period) or income
    if self_paid is None:
        self_paid = Money(income.amount) + Money(20_000 + 1_000 * (household.pk % 17))
    return {
        "verified_members": members,
        "verified_income": str(income),
        "verified_self_paid": str(self_paid),
        "consent_signed": True,
    }


def _intakes(county: Region, actor: Any, n: int, year: int) -> list[tuple[Case, Money | None]]:
    """Open ``n`` demo cases of ``year``: a share of its open warnings first, then
    households."""
    from fangpin.screening.models import Warning, WarningStatus

    warnings = list(
        Warning.objects.filter(
            region_path__startswith=county.path, year=year, status=WarningStatus.NEW
        )
        .select_related("household")
        # oldest first; within one screening run (one moment) by household: the ids follow
        # the order the engine returned the rows in, which may change from run to run
        .order_by("created_at", "household__household_no", "circumstance")[
            : WARNING_SHARE * WARNING_MAX : WARNING_SHARE
        ]
    )[:n]
    from_warnings = [
        opened
        for w in warnings
        for opened in services.case_open_from_warning(warning=w, actor=actor)
    ][:n]
    taken = {w.household_id for w in warnings}
    households = (
        Household.objects.filter(village__path__startswith=county.path)
        .exclude(bank_account="")
        .exclude(pk__in=taken)
        .select_related("village")
        # the first households: the demo's township officer and village cadre see them
        .order_by("household_no")
    )
    # with real warnings, the rest are applications and reports
    sources = SOURCES if not warnings else SOURCES[:2]
    opened: list[tuple[Case, Money | None]] = []
    for i, household in enumerate(households[: n - len(from_warnings)]):
        source = sources[i % len(sources)]
        circumstance = "medical" if i % 3 else "education"
        # the student: the youngest member (the ID numbers sort by birth date after the region)
        student = (
            max(household.members.values_list("id_number", flat=True), key=lambda n: n[6:14])
            if circumstance == "education"
            else ""
        )
        case, _joined = services.case_open(
            household=household,
            circumstance=circumstance,
            period=year,
            source=source,
            reference=f"DEMO-{i:03d}" if source == Source.WARNING else "",
            description="demo 演示",
            actor=actor,
            member_id_number=student,
        )
        opened.append((case, None))
    # every third case is a warning, so that warnings end up at every step of the plan
    for k, item in enumerate(from_warnings):
        opened.insert(min(3 * k + 2, len(opened)), item)
    return opened


def _walk(case: Case, stop: str, stepping: tuple[Any, Any], figures: dict[str, Any]) -> Case:
    """Take every step before ``stop`` (to payment requested when ``stop`` is a later state),
    the two ``stepping`` users in turn; a step the policy or the fund refuses rejects the case
    with that reason."""
    today = clock.today()
    approvals = 0
    for name in ORDER:
        actor = stepping[approvals % 2]
        approvals += name in workflow.APPROVAL_STEPS
        if name == stop:
            break
        if name == "notice_close":  # the five working days of the notice have passed
            Case.objects.filter(pk=case.pk).update(notice_end=today)
            case.refresh_from_db()
        data: dict[str, Any] = {}
        if name == "household_check":
            data = figures
        elif name == "village_review":
            data = {"review_date": today, "review_attendees": 18, "review_result": "同意"}
        try:
            case = services.case_transition(case=case, transition=name, actor=actor, data=data)
        except services.CaseError as exc:  # not eligible, or the fund refused
            return services.case_transition(
                case=Case.objects.get(pk=case.pk),
                transition="reject",
                actor=actor,
                reason=exc.message,
            )
    return case


def _pay(cases: list[Case], *, county: Region, year: int, actor: Any, follow_up: int) -> None:
    """Export every requested payment to the bank, have the bank pay those of ``cases`` —
    which moves them to paid (``cases.handlers``: no clicks) — and move the first
    ``follow_up`` of them to follow-up."""
    from fangpin.funds.importer import BankReturn, bank_returns_record
    from fangpin.funds.services import payment_batch_export

    today = clock.today()
    batch = payment_batch_export(county=county, year=year, actor=actor)
    if batch is None or not cases:
        return
    paying = {c.current_decision.payment_id for c in cases}
    result = bank_returns_record(
        returns=[
            BankReturn(reference=a.reference, ok=True, paid_on=today)
            for a in batch.attempts.order_by("id")
            if a.payment_id in paying
        ],
        actor=actor,
        source="demo bank return 演示回盘",
    )
    if not result.ok:
        raise RuntimeError("; ".join(result.error_lines()))
    for case in cases[:follow_up]:
        services.case_transition(
            case=Case.objects.get(pk=case.pk), transition="follow_up", actor=actor
        )


@transaction.atomic
def cases_demo_seed(*, county: Region, year: int | None = None) -> dict[str, int]:
    """Open and walk the demo cases of ``year`` (default: this year) in ``county``; how many
    cases end at each state."""
    if Case.objects.filter(region_path__startswith=county.path).exists():
        return {}
    year = year or clock.today().year
    actor = system_user()
    stepping = (system_user(STEP_USERNAMES[0]), system_user(STEP_USERNAMES[1]))
    intakes = _intakes(county, actor, sum(n for _, n in PLAN), year)
    truth = true_figures(numbers=[c.household.household_no for c, _ in intakes])
    stops = [stop for stop, n in PLAN for _ in range(n)]
    paid: list[Case] = []
    followed: list[Case] = []
    for (case, self_paid), stop in zip(intakes, stops, strict=False):
        case = _walk(case, stop, stepping, _figures(case, truth, self_paid))
        if case.state == State.PAYMENT_REQUESTED and stop == State.PAID:
            paid.append(case)
        elif case.state == State.PAYMENT_REQUESTED and stop == State.FOLLOW_UP:
            followed.append(case)
    _pay(followed + paid, county=county, year=year, actor=actor, follow_up=len(followed))
    if paid:  # the same claim again with the same figures: relieved in full already (结案)
        first = Case.objects.get(pk=paid[0].pk)
        again, _joined = services.case_open(
            household=first.household,
            circumstance=first.circumstance,
            period=first.period,
            source=Source.REPORT,
            description="demo 演示",
            actor=actor,
            member_id_number=first.member_id_number,
            event_date=first.event_date,
        )
        figures = _figures(again, truth, first.verified_self_paid)
        figures["verified_members"] = first.verified_members
        figures["verified_income"] = str(first.verified_income)
        _walk(again, "loss_determine", stepping, figures)
    counts: dict[str, int] = {}
    for state in Case.objects.filter(region_path__startswith=county.path).values_list(
        "state", flat=True
    ):
        counts[state] = counts.get(state, 0) + 1
    return counts


__all__ = ["cases_demo_seed", "system_user", "true_figures", "State"]
