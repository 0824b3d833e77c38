"""Relief cases pay the right amount (issue 12): claim keys from the cap scope (one case per
student, per accident), netting within a claim only, the parameters of the case's own date,
a 0.00 decision that closes, the insurer's raise back to the county, separation of duties,
sense checks on step inputs, and an appeal beside a newer case."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest
from django.utils import timezone

from fangpin.cases import selectors, services, workflow
from fangpin.cases.models import Case, Decision
from fangpin.cases.services import CaseError
from fangpin.common.money import Money
from fangpin.feeds.services import feed_import
from fangpin.funds.models import Payment
from fangpin.screening.models import ScreeningRun, Warning, WarningStatus

from .conftest import MEMBERS, STEPS, step_data

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
YEAR = TODAY.year


def walk_to(case, roles, *, until=None, **figures):
    """Take the steps before ``until`` by the right roles, with these household-check figures."""
    for name, role in STEPS:
        if name == until or case.state == workflow.State.CLOSED:
            break
        if name == "notice_close":
            Case.objects.filter(pk=case.pk).update(notice_end=TODAY)
            case.refresh_from_db()
        data = step_data(name)
        if name == "household_check":
            data.update({k: str(v) for k, v in figures.items()})
        case = services.case_transition(case=case, transition=name, actor=roles[role], data=data)
    return case


def open_case(household, roles, circumstance, **claim):
    case, joined = services.case_open(
        household=household,
        circumstance=circumstance,
        period=claim.pop("period", YEAR),
        source="application",
        actor=roles["village_cadre"],
        **claim,
    )
    return case, joined


@pytest.fixture
def people(household):
    members = list(household.members.order_by("id"))
    assert len(members) >= 2, "the test household needs two members"
    return members


# --- claim keys -------------------------------------------------------------------------------


def test_two_accidents_of_one_person_are_two_cases_each_with_its_own_cap(
    household, roles, contract, people
):
    person = people[0].id_number
    first, _ = open_case(
        household, roles, "accident", member_id_number=person, event_date=dt.date(YEAR, 1, 5)
    )
    first = walk_to(first, roles, verified_self_paid="15000.00")
    assert first.state == workflow.State.PAYMENT_REQUESTED
    assert first.current_decision.amount == Money("2500.00")  # 5,000 above the line × 50%
    second, joined = open_case(
        household, roles, "accident", member_id_number=person, event_date=dt.date(YEAR, 1, 20)
    )
    assert not joined and second.pk != first.pk and second.claim_key != first.claim_key
    second = walk_to(second, roles, verified_self_paid="20000.00")
    decision = second.current_decision
    # not netted against the first accident: 10,000 above the start line × 50%
    assert decision.amount == Money("5000.00")
    assert decision.inputs["paid_this_year"] == "0.00"


def test_the_same_accident_brought_in_twice_joins_its_case(household, roles, people):
    claim = {"member_id_number": people[0].id_number, "event_date": dt.date(YEAR, 1, 5)}
    first, _ = open_case(household, roles, "accident", **claim)
    again, joined = open_case(household, roles, "accident", **claim)
    assert joined and again.pk == first.pk and first.intakes.count() == 2


def test_two_students_are_capped_and_started_each_on_their_own(household, roles, contract, people):
    amounts = []
    for student in people[:2]:
        case, joined = open_case(household, roles, "education", member_id_number=student.id_number)
        assert not joined
        case = walk_to(case, roles, verified_self_paid="13000.00")
        amounts.append(case.current_decision.amount)
    # each: 13,000 − 8,000 start line = 5,000 × 50% = 2,500 (the second is not netted to 0)
    assert amounts == [Money("2500.00"), Money("2500.00")]


def test_relief_already_paid_for_the_same_student_is_netted_and_shown(
    household, roles, contract, people, county, tmp_path
):
    from fangpin.funds import services as fund_services
    from tests.funds.conftest import bank_pays

    student = people[0].id_number
    first, _ = open_case(household, roles, "education", member_id_number=student)
    first = walk_to(first, roles, verified_self_paid="13000.00")
    fund_services.insurance_premium_pay(contract=contract, actor=None, paid_on=TODAY)
    bank_pays(tmp_path, county=county, year=YEAR, actor=roles["county_officer"], paid_on=TODAY)
    first = services.case_payment_sync(
        case=Case.objects.get(pk=first.pk), actor=roles["county_officer"]
    )
    assert first.state == workflow.State.PAID
    # more fees of the same student that year: the cumulative 23,000 earns 9,600, less 2,500
    second, joined = open_case(household, roles, "education", member_id_number=student)
    assert not joined
    second = walk_to(second, roles, verified_self_paid="23000.00")
    decision = second.current_decision
    assert decision.inputs["paid_this_year"] == "2500.00"
    # 15,000 above the start line: 2,500 + 3,000 + 3,500 = 9,000, less the 2,500 paid
    assert decision.amount == Money("6500.00")
    assert any("2,500.00" in r for r in decision.explanation["reasons"])


def test_education_and_accident_need_the_member_and_the_accident_its_date(household, roles, people):
    with pytest.raises(CaseError) as err:
        open_case(household, roles, "education")
    assert err.value.field == "member_id_number"
    with pytest.raises(CaseError) as err:
        open_case(household, roles, "accident", member_id_number=people[0].id_number)
    assert err.value.field == "event_date" and err.value.message == services.ERR_EVENT_DATE_REQUIRED
    from fangpin.registry.models import Member

    outsider = Member.objects.exclude(household=household).first().id_number
    with pytest.raises(CaseError) as err:
        open_case(household, roles, "education", member_id_number=outsider)
    assert err.value.field == "member_id_number" and "不是本户成员" in err.value.message
    for bad in (dt.date(1, 1, 1), TODAY + dt.timedelta(days=1), dt.date(YEAR - 2, 6, 1)):
        with pytest.raises(CaseError) as err:
            open_case(
                household, roles, "accident", member_id_number=people[0].id_number, event_date=bad
            )
        assert err.value.field == "event_date"
    assert not Case.objects.exists()


def test_the_api_documents_and_takes_the_claim(client, household, roles, people):
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["IntakeIn"]
    assert {"member_id_number", "event_date"} <= set(schema["properties"])
    assert schema["properties"]["event_date"]["description"]
    client.force_login(roles["township_officer"])
    body = {
        "household_no": household.household_no,
        "circumstance": "accident",
        "period": YEAR,
        "source": "report",
    }
    refused = client.post("/api/v1/cases/", body, content_type="application/json")
    assert refused.status_code == 422 and "身份证号" in refused.json()["detail"]
    body |= {"member_id_number": people[0].id_number, "event_date": f"{YEAR}-01-05"}
    made = client.post("/api/v1/cases/", body, content_type="application/json")
    assert made.status_code == 201, made.content
    out = made.json()["case"]
    assert out["event_date"] == f"{YEAR}-01-05" and "*" in out["member"]
    assert people[0].id_number not in made.content.decode()


# --- the date that decides --------------------------------------------------------------------


def test_a_2019_case_decided_today_uses_2019s_parameters(household, roles, contract):
    case, _ = open_case(household, roles, "medical", period=2019)
    assert services.case_deciding_date(case) == dt.date(2019, 12, 31)
    # 1 member, income 35,500, self-paid 30,000: (35,500 − 30,000) / 1 = 5,500 per person;
    # above 2019's line (5,336), below the line in force today
    figures = {
        "verified_members": 1,
        "verified_income": "35500.00",
        "verified_self_paid": "30000.00",
    }
    case = walk_to(case, roles, until="county_decide", **figures)
    _inputs, result = services.relief_for(case)
    assert result.explanation.date == dt.date(2019, 12, 31) and not result.eligible
    assert result.explanation.income_test.line == Decimal("5336")
    _inputs, today = services.relief_for(case, on=TODAY)
    assert today.eligible  # the same figures under today's line
    with pytest.raises(CaseError) as err:
        services.case_transition(
            case=case, transition="county_decide", actor=roles["county_officer"]
        )
    assert "经测算不符合救助条件" in err.value.message


def test_an_accident_is_decided_on_the_day_it_happened(household, roles, contract, people):
    case, _ = open_case(
        household,
        roles,
        "accident",
        period=2019,
        member_id_number=people[0].id_number,
        event_date=dt.date(2019, 3, 14),
    )
    case = walk_to(case, roles, verified_self_paid="20000.00")
    decision = case.current_decision
    assert decision.inputs["date"] == "2019-03-14"
    assert decision.explanation["explanation"]["date"] == "2019-03-14"
    assert decision.parameter_version


# --- nothing stuck ----------------------------------------------------------------------------


def test_a_claim_relieved_in_full_already_closes_with_0_00_and_no_payment(
    household, roles, contract, county, tmp_path, people
):
    from fangpin.funds import services as fund_services
    from tests.funds.conftest import bank_pays

    first, _ = open_case(household, roles, "medical")
    first = walk_to(first, roles, verified_self_paid="30000.00")
    fund_services.insurance_premium_pay(contract=contract, actor=None, paid_on=TODAY)
    bank_pays(tmp_path, county=county, year=YEAR, actor=roles["county_officer"], paid_on=TODAY)
    services.case_payment_sync(case=Case.objects.get(pk=first.pk), actor=roles["county_officer"])
    payments = Payment.objects.count()
    second, joined = open_case(household, roles, "medical")
    assert not joined
    second = walk_to(second, roles, verified_self_paid="30000.00")
    assert second.state == workflow.State.CLOSED and not second.is_open
    decision = second.current_decision
    assert decision.amount == Money("0.00") and decision.payment is None
    assert Payment.objects.count() == payments
    assert selectors.case_actions(second, roles["insurer_adjuster"]) == []


# --- the insurer's raise ----------------------------------------------------------------------


def test_an_insurers_raise_goes_back_to_the_county_and_a_lower_figure_goes_on(
    household, roles, contract
):
    case, _ = open_case(household, roles, "medical")
    case = walk_to(case, roles, until="loss_determine", verified_self_paid="30000.00")
    county = case.current_decision
    raised = services.case_transition(
        case=case,
        transition="loss_determine",
        actor=roles["insurer_adjuster"],
        data={"adjusted_self_paid": "60000.00"},
        reason="漏报一次住院 a second stay was left out",
    )
    assert raised.state == workflow.State.COUNTY_DECISION
    assert raised.verified_self_paid == Money("60000.00")
    loss = raised.current_decision
    assert loss.kind == "loss" and loss.amount > county.amount and loss.payment is None
    assert not Payment.objects.exists()
    # the county decides again on the insurer's figures; the insurer then confirms
    again = services.case_transition(
        case=raised, transition="county_decide", actor=roles["county_officer"]
    )
    assert again.current_decision.amount == loss.amount and again.current_decision.round == 3
    paid = services.case_transition(
        case=again, transition="loss_determine", actor=roles["insurer_adjuster"]
    )
    assert paid.state == workflow.State.PAYMENT_REQUESTED
    assert paid.current_decision.payment.amount == loss.amount
    assert list(Decision.objects.filter(case=paid).values_list("kind", "round")) == [
        ("county", 1),
        ("loss", 2),
        ("county", 3),
    ]


# --- separation of duties ---------------------------------------------------------------------


def test_one_user_is_refused_two_approval_steps_in_a_row(household, roles, make_user):
    case, _ = open_case(household, roles, "medical")
    case = walk_to(case, roles, until="village_review")
    cadre = roles["village_cadre"]  # took the household check
    with pytest.raises(CaseError) as err:
        services.case_transition(
            case=case, transition="village_review", actor=cadre, data=step_data("village_review")
        )
    assert "本环节须由他人办理" in err.value.message
    action = next(a for a in selectors.case_actions(case, cadre) if a.name == "village_review")
    assert action.refusal == err.value.message  # the case page says why
    assert Case.objects.get(pk=case.pk).state == workflow.State.VILLAGE_REVIEW


def test_nobody_decides_a_case_they_opened(household, roles, make_user, contract):
    county_officer = roles["county_officer"]
    case, _ = services.case_open(
        household=household,
        circumstance="medical",
        period=YEAR,
        source="report",
        actor=county_officer,
    )
    case = walk_to(case, roles, until="county_decide")
    with pytest.raises(CaseError) as err:
        services.case_transition(case=case, transition="county_decide", actor=county_officer)
    assert err.value.message == workflow.ERR_DUTY_OPENER
    colleague = make_user("county_officer", county_officer.region, "county-colleague")
    decided = services.case_transition(case=case, transition="county_decide", actor=colleague)
    assert decided.state == workflow.State.LOSS_DETERMINATION


def test_separation_of_duties_can_be_switched_off(household, roles, settings):
    settings.FANGPIN_SEPARATION_OF_DUTIES = False
    case, _ = open_case(household, roles, "medical")
    case = walk_to(case, roles, until="village_review")
    done = services.case_transition(
        case=case,
        transition="village_review",
        actor=roles["village_cadre"],
        data=step_data("village_review"),
    )
    assert done.state == workflow.State.PUBLIC_NOTICE


# --- step inputs checked for sense ------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"review_date": dt.date(1900, 1, 1)}, "review_date"),
        ({"review_date": TODAY + dt.timedelta(days=1)}, "review_date"),
        ({"review_attendees": 0}, "review_attendees"),
        ({"review_attendees": 1001}, "review_attendees"),
        ({"review_attendees": 99_999_999_999}, "review_attendees"),
        ({"review_attendees": "many"}, "review_attendees"),
    ],
)
def test_the_village_review_refuses_dates_and_attendees_that_make_no_sense(
    household, roles, change, field
):
    case, _ = open_case(household, roles, "medical")
    case = walk_to(case, roles, until="village_review")
    with pytest.raises(CaseError) as err:
        services.case_transition(
            case=case,
            transition="village_review",
            actor=roles["township_officer"],
            data=step_data("village_review") | change,
        )
    assert err.value.field == field
    assert Case.objects.get(pk=case.pk).review_attendees is None


@pytest.mark.parametrize(
    ("figures", "field"),
    [
        ({"verified_members": 51}, "verified_members"),
        ({"verified_members": -1}, "verified_members"),
        ({"verified_self_paid": "-5.00"}, "verified_self_paid"),
        ({"verified_income": "99999999999.00"}, "verified_income"),
        ({"verified_self_paid": "10000000.01"}, "verified_self_paid"),
        ({"verified_self_paid": "1e30"}, "verified_self_paid"),
    ],
)
def test_the_household_check_refuses_absurd_figures(household, roles, figures, field):
    case, _ = open_case(household, roles, "medical")
    data = step_data("household_check") | figures
    with pytest.raises(CaseError) as err:
        services.case_transition(
            case=case, transition="household_check", actor=roles["village_cadre"], data=data
        )
    assert err.value.field == field
    assert Case.objects.get(pk=case.pk).verified_members is None


# --- appeal -----------------------------------------------------------------------------------


def test_an_appeal_beside_a_newer_case_for_the_claim_is_refused_with_a_reason(
    client, household, roles
):
    first, _ = open_case(household, roles, "medical")
    first = walk_to(first, roles, until="township_review")
    first = services.case_transition(
        case=first,
        transition="reject",
        actor=roles["township_officer"],
        reason="材料不全 incomplete",
    )
    newer, joined = open_case(household, roles, "medical")
    assert not joined
    with pytest.raises(CaseError) as err:
        services.case_transition(
            case=first,
            transition="appeal",
            actor=roles["county_officer"],
            reason="补齐材料 complete now",
        )
    assert newer.number in err.value.message
    client.force_login(roles["county_officer"])
    response = client.post(
        f"/api/v1/cases/{first.pk}/transitions/appeal",
        {"reason": "补齐材料"},
        content_type="application/json",
    )
    assert response.status_code == 422 and newer.number in response.json()["detail"]
    # once the newer case is no longer open, the appeal goes through
    services.case_transition(
        case=newer, transition="reject", actor=roles["village_cadre"], reason="重复 duplicate"
    )
    reopened = services.case_transition(
        case=Case.objects.get(pk=first.pk),
        transition="appeal",
        actor=roles["county_officer"],
        reason="补齐材料 complete now",
    )
    assert reopened.state == workflow.State.TOWNSHIP_REVIEW


# --- a warning becomes a case per claim ---------------------------------------------------------


def _feed(tmp_path, kind, rows):
    path = tmp_path / f"{kind}.csv"
    pl.DataFrame(rows).write_csv(path)
    result = feed_import(kind=kind, path=path)
    assert result.ok, result.problems


def test_a_warning_with_two_students_opens_a_case_for_each(
    household, roles, people, lake, tmp_path
):
    a, b = people[0].id_number, people[1].id_number
    fees = {"school": "邯郸学院", "level": "本科", "full_time": "是"}
    fees |= {"accommodation": "0", "textbooks": "0", "loan": "0", "grant": "0"}
    _feed(
        tmp_path,
        "education",
        [
            # a: two payments in the year, summed per student (13,000 + 13,000)
            fees | {"id_number": a, "term_start": f"{YEAR}-02-20", "tuition": "13000"},
            fees | {"id_number": a, "term_start": f"{YEAR}-09-01", "tuition": "13000"},
            fees | {"id_number": b, "term_start": f"{YEAR}-09-01", "tuition": "9000"},
        ],
    )
    warning = Warning.objects.create(
        household=household,
        region_path=household.village.path,
        circumstance="education",
        year=YEAR,
        household_type=household.household_type,
        members=MEMBERS,
        self_paid=Money("35000"),
        units=2,
        feed_refs=sorted([a, b]),
        parameter_version="v",
        estimated_relief=Money("11100"),
        run=ScreeningRun.objects.create(year=YEAR),
    )
    opened = services.case_open_from_warning(warning=warning, actor=roles["township_officer"])
    by_member = {case.member_id_number: (case, paid) for case, paid in opened}
    assert set(by_member) == {a, b}
    assert by_member[a][1] == Money("26000.00") and by_member[b][1] == Money("9000.00")
    assert all(case.source == "warning" for case, _ in opened)
    warning.refresh_from_db()
    assert warning.status == WarningStatus.CONFIRMED
    with pytest.raises(CaseError):
        services.case_open_from_warning(warning=warning, actor=roles["township_officer"])


# --- on the pages ------------------------------------------------------------------------------


def test_the_intake_page_takes_the_claim_and_the_case_page_shows_it_masked(
    client, household, roles, people
):
    client.force_login(roles["village_cadre"])
    form = {
        "household_no": household.household_no,
        "source": "application",
        "circumstance": "accident",
        "period": YEAR,
        "description": "车祸 traffic accident",
    }
    refused = client.post("/cases/new/", form)
    assert refused.status_code == 400
    page = refused.content.decode()
    assert 'data-testid="error-member_id_number"' in page and not Case.objects.exists()
    assert "车祸 traffic accident" in page  # what was typed stays
    person = people[0]
    form |= {"member_id_number": person.id_number, "event_date": f"{YEAR}-01-05"}
    made = client.post("/cases/new/", form)
    assert made.status_code == 302, made.content.decode()[:2000]
    case = Case.objects.get()
    assert (case.member_id_number, case.event_date) == (person.id_number, dt.date(YEAR, 1, 5))
    page = client.get(made["Location"]).content.decode()
    assert person.masked_id_number in page and person.id_number not in page
    assert f"{YEAR}-01-05" in page  # the event, and the parameters' date
    assert 'data-testid="deciding-date"' in page


def test_the_approval_form_of_a_closed_case_says_why_nothing_is_paid(
    client, household, roles, contract, county, tmp_path
):
    from fangpin.funds import services as fund_services
    from tests.funds.conftest import bank_pays

    first, _ = open_case(household, roles, "medical")
    walk_to(first, roles)
    fund_services.insurance_premium_pay(contract=contract, actor=None, paid_on=TODAY)
    bank_pays(tmp_path, county=county, year=YEAR, actor=roles["county_officer"], paid_on=TODAY)
    services.case_payment_sync(case=Case.objects.get(pk=first.pk), actor=roles["county_officer"])
    second, _ = open_case(household, roles, "medical")
    second = walk_to(second, roles)
    assert second.state == workflow.State.CLOSED
    client.force_login(roles["county_officer"])
    form = client.get(f"/cases/{second.pk}/decision-form/").content.decode()
    assert 'data-testid="closed-reason"' in form and "0.00" in form


def test_the_notice_runs_as_many_working_days_as_the_county_parameter_says(
    household, roles, tree, county
):
    from fangpin.cases.workdays import notice_end

    tree.county(county.code, "procedure.public_notice_working_days", 10).use()
    case, _ = open_case(household, roles, "medical")
    case = walk_to(case, roles, until="notice_close")
    assert case.notice_end == notice_end(case.notice_start, 10) > notice_end(case.notice_start, 5)
