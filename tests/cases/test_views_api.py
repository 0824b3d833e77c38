"""Pages and API: work queues, the case page with this user's actions, region scope,
the printable forms, and every transition × role on the web and the API."""

from __future__ import annotations

import pytest
from django.utils import timezone

from fangpin.accounts.permissions import ACTIONS
from fangpin.cases import workflow
from fangpin.cases.models import Case

from .conftest import STEPS, step_data

pytestmark = pytest.mark.django_db


def test_the_queue_shows_what_waits_for_my_role(client, opened, roles):
    client.force_login(roles["village_cadre"])
    page = client.get("/cases/").content.decode()
    assert opened.number in page  # household check waits for the cadre
    client.force_login(roles["county_officer"])
    assert opened.number not in client.get("/cases/").content.decode()
    assert opened.number in client.get("/cases/all/").content.decode()


def test_overdue_is_marked_by_the_configured_deadline(client, opened, roles, settings):
    Case.objects.filter(pk=opened.pk).update(
        entered_at=timezone.now() - timezone.timedelta(days=30)
    )
    client.force_login(roles["village_cadre"])
    assert 'data-testid="overdue"' in client.get("/cases/").content.decode()
    settings.FANGPIN_CASE_DEADLINES = {"household_check": 100}
    assert 'data-testid="overdue"' not in client.get("/cases/").content.decode()


def test_the_home_page_counts_cases_waiting_for_me(client, opened, roles):
    client.force_login(roles["village_cadre"])
    page = client.get("/").content.decode()
    assert 'data-testid="cases-waiting">1<' in page


def test_a_case_outside_my_region_is_not_found(client, opened, make_user, other_household):
    outsider = make_user("township_officer", other_household.village.parent, username="out")
    client.force_login(outsider)
    assert client.get(f"/cases/{opened.pk}/").status_code == 404
    assert client.get(f"/api/v1/cases/{opened.pk}").status_code == 404
    assert client.get(f"/cases/{opened.pk}/notice/").status_code == 404


def test_intake_on_the_web_then_duplicate_joins(client, household, roles):
    client.force_login(roles["village_cadre"])
    form = {
        "household_no": household.household_no,
        "source": "application",
        "circumstance": "medical",
        "period": timezone.localdate().year,
        "description": "住院",
        "amount_claimed": "30000",
        "evidence_kind": "invoice",
    }
    first = client.post("/cases/new/", form)
    assert first.status_code == 302
    second = client.post("/cases/new/", form | {"source": "report"})
    assert second["Location"] == first["Location"]
    assert Case.objects.filter(household=household).count() == 1


def test_the_printable_forms_mask_id_numbers(client, opened, walk, roles, contract):
    case = walk(opened, until="loss_determine")
    client.force_login(roles["county_officer"])
    members = list(case.household.members.all())
    member = next((m for m in members if m.is_head), members[0])
    for url in (f"/cases/{case.pk}/decision-form/", f"/cases/{case.pk}/notice/"):
        page = client.get(url).content.decode()
        assert member.id_number not in page and member.masked_id_number in page
    assert str(case.current_decision.amount) in client.get(
        f"/cases/{case.pk}/decision-form/"
    ).content.decode().replace(",", "")


@pytest.mark.parametrize("step_index", range(len(STEPS)))
def test_permission_matrix_on_the_web_and_the_api(
    step_index, client, opened, walk, roles, contract, make_user, other_household
):
    """Every transition × every role × in and out of scope: only the right ones succeed."""
    name, right_role = STEPS[step_index]
    case = walk(opened, until=name)
    if name == "notice_close":
        Case.objects.filter(pk=case.pk).update(notice_end=timezone.localdate())
    t = workflow.TRANSITIONS[name]
    outsiders = {
        role: make_user(
            role,
            other_household.village
            if role == "village_cadre"
            else other_household.village.parent
            if role == "township_officer"
            else other_household.village.parent.parent,
            username=f"o-{role}",
        )
        for role in ("village_cadre", "township_officer")
    }
    data = {k: str(v) if not isinstance(v, bool) else v for k, v in step_data(name).items()}
    for who, user in list(roles.items()) + [(f"out-{r}", u) for r, u in outsiders.items()]:
        if who == right_role:
            continue
        client.force_login(user)
        if who in ACTIONS[t.action]:  # may take it too: offered on the case page
            page = client.get(f"/cases/{case.pk}/").content.decode()
            assert f'data-testid="act-{name}"' in page, who
            continue
        web = client.post(f"/cases/{case.pk}/act/{name}/", {**data, "version": case.version})
        api = client.post(
            f"/api/v1/cases/{case.pk}/transitions/{name}",
            {"data": data, "version": case.version},
            content_type="application/json",
        )
        if who.startswith("out-"):
            assert web.status_code == 404 and api.status_code == 404, who
        else:
            assert web.status_code == 403 and api.status_code == 403, (who, api.content)
        assert Case.objects.get(pk=case.pk).state == case.state, who
    client.force_login(roles[right_role])
    if step_index % 2:
        response = client.post(
            f"/api/v1/cases/{case.pk}/transitions/{name}",
            {"data": data, "version": case.version},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        assert response.json()["state"] == t.target
    else:
        form = {**data, "version": case.version}
        if name == "household_check":
            form["consent_signed"] = "on"
        response = client.post(f"/cases/{case.pk}/act/{name}/", form)
        assert response.status_code == 302, response.content.decode()[:2000]
    assert Case.objects.get(pk=case.pk).state == t.target


def test_the_api_opens_a_case_and_lists_my_queue(client, household, roles):
    client.force_login(roles["township_officer"])
    body = {
        "household_no": household.household_no,
        "circumstance": "education",
        "period": timezone.localdate().year,
        "source": "warning",
        "reference": "W-9",
        "member_id_number": household.members.first().id_number,
    }
    first = client.post("/api/v1/cases/", body, content_type="application/json")
    assert first.status_code == 201 and not first.json()["joined"]
    again = client.post("/api/v1/cases/", body, content_type="application/json")
    assert again.status_code == 200 and again.json()["joined"]
    client.force_login(roles["village_cadre"])
    queue = client.get("/api/v1/cases/?queue=true").json()
    assert [c["id"] for c in queue["items"]] == [first.json()["case"]["id"]]
    client.force_login(roles["village_cadre"])
    refused = client.post(
        "/api/v1/cases/", body | {"circumstance": "medical"}, content_type="application/json"
    )
    assert refused.status_code == 403


def test_a_refused_step_answers_422_with_the_reason(client, opened, roles):
    client.force_login(roles["village_cadre"])
    data = step_data("household_check") | {"consent_signed": False}
    response = client.post(
        f"/api/v1/cases/{opened.pk}/transitions/household_check",
        {"data": {k: str(v) if k != "consent_signed" else v for k, v in data.items()}},
        content_type="application/json",
    )
    assert response.status_code == 422 and response.json()["detail"] == workflow.ERR_CONSENT
    detail = client.get(f"/api/v1/cases/{opened.pk}").json()
    assert [e["action"] for e in detail["timeline"]] == ["cases.case.opened"]
