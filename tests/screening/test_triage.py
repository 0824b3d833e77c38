"""Warning triage: each move from each state, who may take it, due dates in working days,
bulk assign and bulk dismiss on the list (region-scoped, all or nothing, one audit row per
warning), and the department rows behind a warning on its page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from fangpin.cases.errors import CaseError
from fangpin.cases.services import case_open_from_warning
from fangpin.common.models import AuditEvent
from fangpin.regions.models import Level, Region
from fangpin.screening import triage
from fangpin.screening.models import Warning, WarningStatus
from fangpin.screening.services import ScreeningError

from .test_views import household_in, warn

pytestmark = pytest.mark.django_db
S = WarningStatus


@pytest.fixture
def villages(townships):
    """Two villages of the first township and one of the second."""
    first = list(Region.objects.filter(level=Level.VILLAGE, parent=townships[0]).order_by("code"))
    second = Region.objects.filter(level=Level.VILLAGE, parent=townships[1]).first()
    return first[0], first[1], second


@pytest.fixture
def cadre(make_user, villages):
    """The village cadre of the first village (who checks its warnings)."""
    return make_user("village_cadre", villages[0], username="cadre-v1")


def in_village(village: Region, no: str, relief: str = "5000", **extra) -> Warning:
    """A warning of a household of ``village``."""
    from fangpin.registry.models import Household

    household = household_in(village.parent, no)
    Household.objects.filter(pk=household.pk).update(village=village)
    household.refresh_from_db()
    return warn(household, relief, **extra)


def as_status(w: Warning, status: str, by) -> Warning:
    """``w`` put in ``status`` (a checker for checking, a reason for dismissed)."""
    extra: dict = {"status": status}
    if status == S.CHECKING:
        extra["assigned_to"] = by
    if status == S.DISMISSED:
        extra |= {"dismiss_reason": "other", "reason": "已处理"}
    Warning.objects.filter(pk=w.pk).update(**extra)
    return Warning.objects.get(pk=w.pk)


def audit_rows(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("object_id"))


# --- each move, from each state ------------------------------------------------------------


def take(name: str, w: Warning, *, township_officer, county_officer, cadre) -> None:
    if name == "assign":
        triage.warnings_assign(warnings=[w], assignee=cadre, actor=township_officer)
    elif name == "dismiss":
        triage.warning_dismiss(
            warning=w, actor=township_officer, reason_code="income_above", reason="收入高于标准"
        )
    elif name == "confirm":
        case_open_from_warning(warning=w, actor=township_officer)
    else:
        triage.warning_exclusion_override(warning=w, actor=county_officer, reason="车辆已转让")


@pytest.mark.parametrize("name", list(triage.TRANSITIONS))
@pytest.mark.parametrize("status", list(S.values))
def test_each_move_is_taken_from_its_states_and_refused_from_the_others(
    name, status, villages, township_officer, county_officer, cadre
):
    t = triage.TRANSITIONS[name]
    w = as_status(in_village(villages[0], "T-1"), status, cadre)
    users = {"township_officer": township_officer, "county_officer": county_officer}
    if status in t.sources:
        take(name, w, cadre=cadre, **users)
        w.refresh_from_db()
        assert w.status == t.target
        [event] = audit_rows(f"screening.warning.{t.audit}")
        assert (event.object_id, event.from_state, event.to_state) == (str(w.pk), status, t.target)
        assert event.region_path == w.region_path
    else:
        with pytest.raises((ScreeningError, CaseError)):
            take(name, w, cadre=cadre, **users)
        assert Warning.objects.get(pk=w.pk).status == status
        assert not audit_rows(f"screening.warning.{t.audit}")


def test_the_moves_are_declared_as_the_triage_says():
    moves = {
        name: (sorted(t.sources), t.target, t.action) for name, t in triage.TRANSITIONS.items()
    }
    assert moves == {
        "assign": (["checking", "new"], "checking", "screening.assign"),
        "dismiss": (["checking", "new"], "dismissed", "screening.dismiss"),
        "confirm": (["checking", "new"], "confirmed", "cases.open_warning"),
        "exclusion_override": (["excluded"], "new", "screening.exclusion_override"),
    }


def test_a_refusal_says_the_state_and_the_move(villages, township_officer, cadre):
    w = as_status(in_village(villages[0], "T-1"), S.CONFIRMED, cadre)
    with pytest.raises(ScreeningError) as err:
        triage.warnings_assign(warnings=[w], assignee=cadre, actor=township_officer)
    assert err.value.message == str(triage.ERR_WRONG_STATE) % {
        "n": 1,
        "states": S.CONFIRMED.label,
        "transition": triage.TRANSITIONS["assign"].label,
    }


def test_assigning_names_the_checker_and_a_second_checker_keeps_the_clock(
    villages, township_officer, cadre, make_user
):
    w = in_village(villages[0], "T-1")
    triage.warnings_assign(warnings=[w], assignee=cadre, actor=township_officer)
    w.refresh_from_db()
    assert (w.status, w.assigned_to, w.decided_by) == (S.CHECKING, cadre, None)
    since = w.state_since
    assert since is not None
    # the township officer takes it over: still checking, the clock runs from the first day
    triage.warnings_assign(warnings=[w], assignee=township_officer, actor=township_officer)
    w.refresh_from_db()
    assert (w.status, w.assigned_to, w.state_since) == (S.CHECKING, township_officer, since)
    events = audit_rows("screening.warning.assigned")
    assert [(e.from_state, e.to_state, e.data["assigned_to"]) for e in events] == [
        ("new", "checking", "cadre-v1"),
        ("checking", "checking", township_officer.username),
    ]
    # the case opened later confirms it and links it
    [(case, _paid)] = case_open_from_warning(warning=w, actor=township_officer)
    w.refresh_from_db()
    assert w.status == S.CONFIRMED and case.intakes.get().warning_id == w.pk
    [event] = audit_rows("screening.warning.confirmed")
    assert (event.from_state, event.data["cases"]) == ("checking", [case.pk])


def test_who_may_assign_and_dismiss(villages, cadre, make_user, township_officer):
    w = in_village(villages[0], "T-1")
    auditor = make_user("auditor", villages[0].parent.parent)
    for user in (cadre, auditor):
        with pytest.raises(PermissionDenied):
            triage.warnings_assign(warnings=[w], assignee=cadre, actor=user)
        with pytest.raises(PermissionDenied):
            triage.warning_dismiss(warning=w, actor=user, reason_code="other", reason="越权排除")
    assert Warning.objects.get(pk=w.pk).status == S.NEW


def test_a_checker_is_an_officer_or_cadre_of_the_warnings_region(
    villages, township_officer, county_officer, cadre, make_user
):
    here, next_door, _other = villages
    ours = [in_village(here, "T-1"), in_village(next_door, "T-2")]
    # the cadre of the first village cannot check the next village's warning: nothing changes
    with pytest.raises(ScreeningError) as err:
        triage.warnings_assign(warnings=ours, assignee=cadre, actor=township_officer)
    assert err.value.field == "assignee"
    assert err.value.message == str(triage.ERR_ASSIGNEE_REGION) % {"n": 1, "name": "cadre-v1"}
    # a county officer does not check at the household; a deactivated cadre does not either
    gone = make_user("village_cadre", here, username="gone")
    gone.is_active = False
    gone.save()
    for assignee in (county_officer, gone, None):
        with pytest.raises(ScreeningError) as err:
            triage.warnings_assign(warnings=ours, assignee=assignee, actor=township_officer)
        assert err.value.message == str(triage.ERR_ASSIGNEE)
    assert set(Warning.objects.values_list("status", flat=True)) == {S.NEW}
    assert not audit_rows("screening.warning.assigned")
    # the township officer checks both villages' warnings
    done = triage.warnings_assign(warnings=ours, assignee=township_officer, actor=county_officer)
    assert sorted(done) == sorted(w.pk for w in ours)
    # the township officer chooses among the township's officers and cadres
    names = set(triage.checkers(user=township_officer).values_list("username", flat=True))
    assert names == {township_officer.username, "cadre-v1"}


def test_a_dismissal_takes_a_reason_from_the_list_and_a_text(villages, township_officer):
    w = in_village(villages[0], "T-1")
    for code, text, message in (
        ("", "收入高于标准", triage.ERR_REASON_CODE),
        ("made_up", "收入高于标准", triage.ERR_REASON_CODE),
        ("income_above", "短", triage.ERR_REASON),
    ):
        with pytest.raises(ScreeningError) as err:
            triage.warning_dismiss(warning=w, actor=township_officer, reason_code=code, reason=text)
        assert err.value.message == str(message)
    done = triage.warning_dismiss(
        warning=w, actor=township_officer, reason_code="costs_covered", reason="已由大病保险报销"
    )
    assert (done.status, done.dismiss_reason, done.reason) == (
        S.DISMISSED,
        "costs_covered",
        "已由大病保险报销",
    )
    assert (done.decided_by, done.state_since is not None) == (township_officer, True)
    [event] = audit_rows("screening.warning.dismissed")
    assert event.data == {"reason_code": "costs_covered"} and "已由大病保险报销" in event.reason


def test_the_database_refuses_a_dismissal_without_a_reason_and_a_checking_without_a_checker(
    villages,
):
    from django.db import IntegrityError, transaction

    w = in_village(villages[0], "T-1")
    for bad in ({"status": S.DISMISSED}, {"status": S.CHECKING}, {"dismiss_reason": "other"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Warning.objects.filter(pk=w.pk).update(**bad)


# --- due dates in working days -------------------------------------------------------------


def arrived(w: Warning, day: dt.date, *, since: dt.date | None = None) -> Warning:
    def at(d: dt.date) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(d, dt.time(10)))

    extra = {"state_since": at(since)} if since else {}
    Warning.objects.filter(pk=w.pk).update(created_at=at(day), **extra)
    return Warning.objects.get(pk=w.pk)


def test_due_dates_count_working_days_across_the_national_day_holiday(villages, cadre):
    """2025: 1–8 October off; Sunday 28 September and Saturday 11 October worked."""
    new = arrived(in_village(villages[0], "T-1"), dt.date(2025, 9, 30))
    # accepted within 2 working days: 9 and 10 October
    assert triage.warning_due(new) == dt.date(2025, 10, 10)
    checking = arrived(
        as_status(in_village(villages[0], "T-2"), S.CHECKING, cadre),
        dt.date(2025, 9, 20),
        since=dt.date(2025, 9, 26),
    )
    # checked within 5 working days of Friday 26 September: 28, 29, 30 Sep, 9, 10 Oct
    assert triage.warning_due(checking) == dt.date(2025, 10, 10)
    friday = arrived(in_village(villages[0], "T-3"), dt.date(2025, 10, 10))
    assert triage.warning_due(friday) == dt.date(2025, 10, 13)  # the working Saturday, Monday
    decided = as_status(in_village(villages[0], "T-4"), S.DISMISSED, cadre)
    assert triage.warning_due(decided) is None


def test_the_days_are_the_county_parameter_in_force(villages, tree, county):
    tree.county(county.code, "procedure.warning_acceptance_working_days", 4).use()
    w = arrived(in_village(villages[0], "T-1"), dt.date(2025, 9, 30))
    # 4 working days in 魏县 instead of the city's 2: 9, 10, 11 (the working Saturday), 13
    assert triage.warning_due(w) == dt.date(2025, 10, 13)


def test_overdue_warnings_are_marked_on_the_list_and_the_page(client, villages, township_officer):
    late = arrived(in_village(villages[0], "T-1"), dt.date(2025, 9, 30))
    fresh = in_village(villages[0], "T-2")
    client.force_login(township_officer)
    html = client.get(reverse("screening:index")).content.decode()
    row = html[html.index('data-household="T-1"') :]
    row = row[: row.index("</tr>")]
    assert "2025-10-10" in row and 'data-testid="overdue"' in row
    row = html[html.index('data-household="T-2"') :]
    assert 'data-testid="overdue"' not in row[: row.index("</tr>")]
    page = client.get(reverse("screening:detail", args=[late.pk])).content.decode()
    assert 'data-testid="overdue"' in page
    page = client.get(reverse("screening:detail", args=[fresh.pk])).content.decode()
    assert 'data-testid="due"' in page and 'data-testid="overdue"' not in page


# --- bulk on the list ----------------------------------------------------------------------


@pytest.fixture
def listed(villages):
    here, next_door, other = villages
    ours = [in_village(here, f"L-{i}") for i in range(3)] + [in_village(next_door, "L-9")]
    theirs = in_village(other, "X-1")
    return ours, theirs


def bulk(client, action: str, warnings: list, **form):
    return client.post(
        reverse("screening:bulk"),
        {"action": action, "warning": [w.pk for w in warnings], "next": "/warnings/", **form},
        follow=True,
    )


def test_bulk_assign_is_scoped_all_or_nothing_and_audited_per_warning(
    client, listed, township_officer, cadre
):
    ours, theirs = listed
    client.force_login(township_officer)
    page = client.get(reverse("screening:index")).content.decode()
    assert 'data-testid="bulk-assign"' in page and f'value="{cadre.pk}"' in page
    # one warning of another township among them: refused, nothing changes
    refused = bulk(client, "assign", [*ours[:3], theirs], assignee=cadre.pk)
    assert str(triage.ERR_NOT_IN_REGION) % {"n": 1} in refused.content.decode()
    assert set(Warning.objects.values_list("status", flat=True)) == {S.NEW}
    assert not audit_rows("screening.warning.assigned")
    done = bulk(client, "assign", ours[:3], assignee=cadre.pk)
    assert done.redirect_chain[-1][0] == "/warnings/"
    assert sorted(Warning.objects.filter(status=S.CHECKING).values_list("pk", flat=True)) == [
        w.pk for w in ours[:3]
    ]
    assert set(Warning.objects.filter(status=S.CHECKING).values_list("assigned_to", flat=True)) == {
        cadre.pk
    }
    events = audit_rows("screening.warning.assigned")
    assert sorted(int(e.object_id) for e in events) == [w.pk for w in ours[:3]]
    assert {(e.actor_id, e.from_state, e.to_state) for e in events} == {
        (township_officer.pk, "new", "checking")
    }
    # the cadre sees their village's warnings, assigned to them, and cannot assign
    client.force_login(cadre)
    mine = client.get(reverse("screening:index"), {"mine": "1"}).content.decode()
    assert all(f'data-household="{w.household.household_no}"' in mine for w in ours[:3])
    assert 'data-household="L-9"' not in mine and 'data-testid="bulk-assign"' not in mine
    assert bulk(client, "assign", ours[3:], assignee=cadre.pk).status_code == 403


def test_bulk_dismiss_needs_a_reason_and_writes_one_audit_row_each(
    client, listed, township_officer, cadre
):
    ours, _theirs = listed
    client.force_login(township_officer)
    refused = bulk(client, "dismiss", ours, reason_code="", reason="已核查")
    assert str(triage.ERR_REASON_CODE) in refused.content.decode()
    # one of them is confirmed already: none is dismissed
    as_status(ours[0], S.CONFIRMED, cadre)
    refused = bulk(client, "dismiss", ours, reason_code="income_above", reason="入户核查收入超标")
    assert Warning.objects.filter(status=S.DISMISSED).count() == 0
    message = str(triage.ERR_WRONG_STATE) % {
        "n": 1,
        "states": S.CONFIRMED.label,
        "transition": triage.TRANSITIONS["dismiss"].label,
    }
    assert message in refused.content.decode()
    assert not audit_rows("screening.warning.dismissed")
    bulk(client, "dismiss", ours[1:], reason_code="income_above", reason="入户核查收入超标")
    dismissed = Warning.objects.filter(status=S.DISMISSED).order_by("pk")
    assert [w.pk for w in dismissed] == [w.pk for w in ours[1:]]
    assert {(w.dismiss_reason, w.reason) for w in dismissed} == {
        ("income_above", "入户核查收入超标")
    }
    events = audit_rows("screening.warning.dismissed")
    assert sorted(int(e.object_id) for e in events) == [w.pk for w in ours[1:]]


def test_a_bulk_move_is_set_based(villages, township_officer, cadre):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    few = [in_village(villages[0], f"Q-{i}") for i in range(2)]
    many = [in_village(villages[0], f"R-{i}") for i in range(25)]
    counts = []
    for chunk in (few, many):
        with CaptureQueriesContext(connection) as queries:
            triage.warnings_assign(warnings=chunk, assignee=cadre, actor=township_officer)
        counts.append(len(queries))
    assert counts[0] == counts[1]  # the same statements for 2 warnings as for 25
