"""The declared workflow: each step by the right role, guards with readable reasons,
the timeline, duplicate intake, the locked decision, the insurer's adjustment, appeal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from fangpin.cases import services, workflow
from fangpin.cases.models import Case, Decision, Holiday, Intake
from fangpin.cases.services import CaseError
from fangpin.cases.workdays import notice_end
from fangpin.common.models import AuditEvent
from fangpin.common.workdays import working_days_after
from fangpin.funds.models import Payment
from fangpin.policy.scalar import Case as PolicyCase
from fangpin.policy.scalar import relief_calculate

from .conftest import INCOME, MEMBERS, SELF_PAID, STEPS, step_data

pytestmark = pytest.mark.django_db


def engine_amount(household, county, self_paid=SELF_PAID) -> Decimal:
    return relief_calculate(
        PolicyCase(
            date=timezone.localdate(),
            county=county.code,
            household_type=household.household_type,
            circumstance="medical",
            members=MEMBERS,
            annual_income=Decimal(INCOME),
            self_paid=Decimal(self_paid),
        )
    ).amount


def test_a_case_walks_to_payment_requested_and_the_amount_is_the_engines(
    opened, walk, contract, household, county
):
    case = walk(opened)
    assert case.state == workflow.State.PAYMENT_REQUESTED
    decision = case.current_decision
    assert decision.amount.amount == engine_amount(household, county) > 0
    assert decision.parameter_version and decision.explanation["amount"] == str(decision.amount)
    payment = Payment.objects.get(decision_key=f"decision:{decision.pk}")
    assert decision.payment == payment and payment.amount == decision.amount
    # the timeline lists every step, in order, with from/to state
    events = list(
        AuditEvent.objects.filter(object_type="cases.case", object_id=str(case.pk)).order_by(
            "at", "id"
        )
    )
    assert [e.action for e in events] == ["cases.case.opened"] + [
        f"cases.case.{name}" for name, _ in STEPS
    ]
    assert events[1].from_state == "household_check" and events[1].to_state == "data_comparison"
    assert events[-1].to_state == "payment_requested"


@pytest.mark.parametrize("step_index", range(len(STEPS)))
def test_each_step_only_by_its_roles_in_scope(
    step_index, opened, walk, roles, contract, make_user, other_household
):
    name, _ = STEPS[step_index]
    case = walk(opened, until=name)
    if name == "notice_close":
        case.notice_end = timezone.localdate()
        case.save(update_fields=["notice_end"])
    t = workflow.TRANSITIONS[name]
    from fangpin.accounts.permissions import ACTIONS

    allowed = ACTIONS[t.action]
    for role, user in roles.items():
        fresh = Case.objects.get(pk=case.pk)
        if role in allowed:
            continue
        with pytest.raises(PermissionDenied):
            services.case_transition(case=fresh, transition=name, actor=user, data=step_data(name))
    # the right role from another township is out of scope
    outsider_region = other_household.village
    if t.action != "cases.county_decide" and t.action != "cases.loss_determine":
        role = sorted(r for r in allowed if r in roles)[0]
        region = outsider_region if role == "village_cadre" else outsider_region.parent
        outsider = make_user(role, region, username=f"out-{role}")
        with pytest.raises(PermissionDenied, match="不在您的辖区内"):
            services.case_transition(
                case=Case.objects.get(pk=case.pk),
                transition=name,
                actor=outsider,
                data=step_data(name),
            )
    # and a role that may take it succeeds
    role = STEPS[step_index][1]
    done = services.case_transition(
        case=Case.objects.get(pk=case.pk), transition=name, actor=roles[role], data=step_data(name)
    )
    assert done.state == t.target


def test_household_check_needs_consent_and_figures(opened, roles):
    data = step_data("household_check") | {"consent_signed": False}
    with pytest.raises(CaseError) as err:
        services.case_transition(
            case=opened, transition="household_check", actor=roles["village_cadre"], data=data
        )
    assert err.value.message == workflow.ERR_CONSENT
    fresh = Case.objects.get(pk=opened.pk)
    assert fresh.state == workflow.State.HOUSEHOLD_CHECK and fresh.version == 1


def test_a_step_out_of_order_is_refused_with_a_reason(opened, roles):
    with pytest.raises(CaseError, match="当前环节不能执行此操作"):
        services.case_transition(
            case=opened, transition="county_decide", actor=roles["county_officer"]
        )


def test_duplicate_intake_joins_the_open_case(opened, household, roles):
    again, joined = services.case_open(
        household=household,
        circumstance="medical",
        period=opened.period,
        source="report",
        description="干部排查",
        actor=roles["township_officer"],
    )
    assert joined and again.pk == opened.pk
    assert Intake.objects.filter(case=opened).count() == 2
    other, joined = services.case_open(
        household=household,
        circumstance="education",
        period=opened.period,
        source="application",
        actor=roles["village_cadre"],
        member_id_number=household.members.first().id_number,
    )
    assert not joined and other.pk != opened.pk
    assert AuditEvent.objects.filter(action="cases.case.joined", object_id=str(opened.pk)).exists()


def test_a_warning_is_opened_by_a_township_officer_not_a_cadre(household, roles):
    with pytest.raises(PermissionDenied):
        services.case_open(
            household=household,
            circumstance="accident",
            period=timezone.localdate().year,
            source="warning",
            reference="W-1",
            actor=roles["village_cadre"],
        )
    case, _ = services.case_open(
        household=household,
        circumstance="accident",
        period=timezone.localdate().year,
        source="warning",
        reference="W-1",
        actor=roles["township_officer"],
        member_id_number=household.members.first().id_number,
        event_date=timezone.localdate(),
    )
    assert case.source == "warning" and case.intakes.get().reference == "W-1"


def test_objections_block_closing_the_notice_until_resolved(opened, walk, roles):
    case = walk(opened, until="notice_close")
    objection = services.objection_record(
        case=case, text="收入不实 income understated", actor=roles["village_cadre"]
    )
    case.notice_end = timezone.localdate()
    case.save(update_fields=["notice_end"])
    with pytest.raises(CaseError) as err:
        services.case_transition(
            case=Case.objects.get(pk=case.pk),
            transition="notice_close",
            actor=roles["village_cadre"],
        )
    assert err.value.message == workflow.ERR_OBJECTIONS_OPEN.format(n=1)
    services.objection_resolve(
        objection=objection, resolution="核实无误 checked", actor=roles["township_officer"]
    )
    done = services.case_transition(
        case=Case.objects.get(pk=case.pk),
        transition="notice_close",
        actor=roles["village_cadre"],
    )
    assert done.state == workflow.State.TOWNSHIP_REVIEW


def test_the_notice_cannot_close_before_five_working_days(opened, walk, roles):
    case = walk(opened, until="notice_close")
    case = (
        services.case_transition(
            case=Case.objects.get(pk=case.pk),
            transition="village_review",
            actor=roles["township_officer"],
            data=step_data("village_review"),
        )
        if case.state == "village_review"
        else case
    )
    assert case.notice_end == notice_end(case.notice_start, 5) > timezone.localdate()
    with pytest.raises(CaseError) as err:
        services.case_transition(
            case=Case.objects.get(pk=case.pk),
            transition="notice_close",
            actor=roles["village_cadre"],
        )
    assert err.value.message == workflow.ERR_NOTICE_RUNNING.format(date=case.notice_end.isoformat())


def test_working_days_follow_the_official_calendar_and_configured_holidays(db):
    """2025's National Day and Mid-Autumn holiday ran 1–8 October; Sunday 28 September and
    Saturday 11 October were working days in their place (国办发明电〔2024〕12号)."""
    monday = dt.date(2025, 9, 22)
    assert notice_end(monday, 5) == dt.date(2025, 9, 28)  # Mon–Fri, closes on the working Sunday
    saturday = dt.date(2025, 9, 27)
    assert notice_end(saturday, 5) == dt.date(2025, 10, 11)  # 28, 29, 30 Sep, 9, 10 Oct
    assert working_days_after(dt.date(2025, 9, 30), 1) == dt.date(2025, 10, 9)
    Holiday.objects.create(date=dt.date(2025, 10, 9), name="县里另放一天 (a local day off)")
    assert notice_end(saturday, 5) == dt.date(2025, 10, 13)


def test_the_decision_is_locked_and_made_once(opened, walk, roles, contract):
    case = walk(opened, until="loss_determine")
    decision = case.current_decision
    assert decision.round == 1 and decision.inputs["self_paid"] == SELF_PAID
    # nothing about a decided case can be edited
    from django.core.files.uploadedfile import SimpleUploadedFile

    with pytest.raises(CaseError, match="案件已审定"):
        services.evidence_add(
            case=case,
            upload=SimpleUploadedFile("x.pdf", b"%PDF-1.4 x"),
            kind="invoice",
            actor=roles["township_officer"],
        )
    # a second decision with the same round is refused by the database
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Decision.objects.create(
            case=case,
            round=1,
            kind="county",
            eligible=True,
            amount="1",
            parameter_version="x",
            inputs={},
            explanation={},
        )


def test_a_stale_version_is_refused(opened, roles):
    stale = Case.objects.get(pk=opened.pk)
    services.case_transition(
        case=opened,
        transition="household_check",
        actor=roles["village_cadre"],
        data=step_data("household_check"),
    )
    with pytest.raises(CaseError) as err:
        services.case_transition(
            case=stale,
            transition="reject",
            actor=roles["township_officer"],
            reason="x",
        )
    assert err.value.message == services.ERR_CHANGED
    with pytest.raises(CaseError) as err:
        services.case_transition(
            case=Case.objects.get(pk=opened.pk),
            transition="reject",
            actor=roles["township_officer"],
            reason="x",
            version=1,
        )
    assert err.value.message == services.ERR_CHANGED


def test_the_insurers_adjustment_recomputes_into_a_new_decision(
    opened, walk, roles, contract, household, county
):
    case = walk(opened, until="loss_determine")
    first = case.current_decision
    with pytest.raises(CaseError, match="请填写原因"):
        services.case_transition(
            case=Case.objects.get(pk=case.pk),
            transition="loss_determine",
            actor=roles["insurer_adjuster"],
            data={"adjusted_self_paid": "20000.00"},
        )
    done = services.case_transition(
        case=Case.objects.get(pk=case.pk),
        transition="loss_determine",
        actor=roles["insurer_adjuster"],
        data={"adjusted_self_paid": "20000.00"},
        reason="发票重复 a duplicated invoice",
    )
    second = done.current_decision
    assert second.round == 2 and second.supersedes == first and second.kind == "loss"
    assert second.amount.amount == engine_amount(household, county, "20000.00")
    assert second.amount != first.amount
    assert second.payment.amount == second.amount
    first.refresh_from_db()
    assert first.amount.amount == engine_amount(household, county)  # the old one is unchanged


def test_rejection_and_one_appeal(opened, walk, roles, contract):
    case = walk(opened, until="township_review")
    with pytest.raises(CaseError, match="请填写原因"):
        services.case_transition(case=case, transition="reject", actor=roles["township_officer"])
    case = services.case_transition(
        case=Case.objects.get(pk=case.pk),
        transition="reject",
        actor=roles["township_officer"],
        reason="收入超标 income above the line",
    )
    assert case.state == "rejected" and not case.is_open
    case = services.case_transition(
        case=case, transition="appeal", actor=roles["township_officer"], reason="补充材料"
    )
    assert case.state == "township_review" and case.appeals == 1 and case.is_open
    case = services.case_transition(
        case=case, transition="reject", actor=roles["township_officer"], reason="again"
    )
    with pytest.raises(CaseError) as err:
        services.case_transition(
            case=case, transition="appeal", actor=roles["township_officer"], reason="again"
        )
    assert err.value.message == workflow.ERR_APPEALED


def test_a_cadre_cannot_reject_at_a_step_that_is_not_theirs(opened, walk, roles):
    case = walk(opened, until="township_review")
    with pytest.raises(CaseError) as err:
        services.case_transition(
            case=case, transition="reject", actor=roles["village_cadre"], reason="x"
        )
    assert err.value.message == services.ERR_REJECT_ROLE


def test_data_comparison_override_only_by_a_county_officer(opened, walk, roles):
    case = walk(opened, until="data_compare")
    with pytest.raises(CaseError) as err:
        services.case_transition(
            case=case,
            transition="data_compare",
            actor=roles["township_officer"],
            data={"exclusions": ["vehicle"], "override_reason": "车辆已报废"},
        )
    assert err.value.message == services.ERR_OVERRIDE_ROLE
    done = services.case_transition(
        case=Case.objects.get(pk=case.pk),
        transition="data_compare",
        actor=roles["county_officer"],
        data={"exclusions": ["vehicle"], "override_reason": "车辆已报废 scrapped"},
    )
    assert done.exclusions == [] and done.exclusions_override.startswith("车辆已报废")


def test_an_exclusion_makes_the_county_decision_refuse(opened, walk, roles):
    case = walk(opened, until="data_compare")
    case = services.case_transition(
        case=case,
        transition="data_compare",
        actor=roles["township_officer"],
        data={"exclusions": ["vehicle"]},
    )
    case.notice_end = None
    for name, role in STEPS[2:5]:
        if name == "notice_close":
            case.notice_end = timezone.localdate()
            case.save(update_fields=["notice_end"])
        case = services.case_transition(
            case=Case.objects.get(pk=case.pk),
            transition=name,
            actor=roles[role],
            data=step_data(name),
        )
    with pytest.raises(CaseError, match="不符合救助条件"):
        services.case_transition(
            case=case, transition="county_decide", actor=roles["county_officer"]
        )


def test_paid_when_the_fund_pays_then_follow_up(opened, walk, roles, contract, county, tmp_path):
    from fangpin.funds import services as fund_services
    from tests.funds.conftest import bank_pays

    case = walk(opened)
    assert services.case_payment_sync(case=case, actor=roles["county_officer"]).state == (
        "payment_requested"
    )
    today = timezone.localdate()
    fund_services.insurance_premium_pay(contract=contract, actor=None, paid_on=today)
    bank_pays(
        tmp_path, county=county, year=today.year, actor=roles["county_officer"], paid_on=today
    )
    case = services.case_payment_sync(
        case=Case.objects.get(pk=case.pk), actor=roles["county_officer"]
    )
    assert case.state == "paid"
    case = services.case_transition(
        case=case, transition="follow_up", actor=roles["township_officer"]
    )
    assert case.state == "follow_up" and not case.is_open


def test_a_payment_refusal_rolls_the_step_back(opened, walk, roles):
    case = walk(opened, until="loss_determine")  # no insurance contract for the year
    with pytest.raises(CaseError, match="没有防贫保险合同"):
        services.case_transition(
            case=case, transition="loss_determine", actor=roles["insurer_adjuster"]
        )
    fresh = Case.objects.get(pk=case.pk)
    assert fresh.state == "loss_determination" and fresh.version == case.version
    assert not AuditEvent.objects.filter(action="cases.case.loss_determine").exists()
