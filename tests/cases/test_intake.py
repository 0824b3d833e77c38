"""Intake of a household not yet in the registry (新登记户): on the web form and the API,
registered and its case opened in one transaction; a bad entry is named and nothing is
written."""

from __future__ import annotations

import pytest
from django.utils import timezone

from fangpin.accounts.models import ApiToken
from fangpin.cases.models import Case
from fangpin.common.idnumber import ERR_CHECKSUM, check_char
from fangpin.common.models import AuditEvent
from fangpin.registry import importer
from fangpin.registry.models import Household, Member

pytestmark = pytest.mark.django_db


def idn(birth: str, seq: int) -> str:
    first17 = f"130434{birth}{seq:03d}"
    return first17 + check_char(first17)


HEAD_ID, WIFE_ID, DAUGHTER_ID = idn("19680211", 71), idn("19700623", 82), idn("20030917", 92)


def written() -> tuple[int, int, int, int]:
    return (
        Household.objects.count(),
        Member.objects.count(),
        Case.objects.count(),
        AuditEvent.objects.count(),
    )


def intake_form(village_code: str, **change) -> dict:
    form = {
        "household_no": "",
        "source": "application",
        "circumstance": "medical",
        "period": timezone.localdate().year,
        "description": "住院 hospital stay",
        "amount_claimed": "26000",
        "register": "on",
        "village": village_code,
        "household_type": "ordinary",
        "bank": "邮储银行",
        "bank_account": "6217000099990000",
        "head_name": "赵铁柱",
        "head_id_number": HEAD_ID,
        "head_sex": "M",
        "head_labour": "weak",
        "members-TOTAL_FORMS": "7",
        "members-INITIAL_FORMS": "0",
        "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "7",
        "members-0-name": "钱秀英",
        "members-0-id_number": WIFE_ID,
        "members-0-relation": "配偶",
        # a blank row between two members is skipped
        "members-2-name": "赵小红",
        "members-2-id_number": DAUGHTER_ID,
        "members-2-relation": "女",
        "members-2-birth_date": "2003-09-17",
    }
    form.update(change)
    return form


def test_the_intake_form_offers_the_new_household_section(client, roles, household):
    client.force_login(roles["village_cadre"])
    page = client.get("/cases/new/").content.decode()
    assert 'data-testid="new-household"' in page and 'name="members-6-id_number"' in page
    # a village cadre's only village is chosen already
    assert f'<option value="{household.village.code}" selected>' in page


def test_a_new_household_is_registered_and_its_case_opened_on_the_web(client, roles, household):
    village = household.village
    client.force_login(roles["village_cadre"])
    response = client.post("/cases/new/", intake_form(village.code))
    assert response.status_code == 302, response.content.decode()[:3000]
    new = Household.objects.get(members__id_number=HEAD_ID)
    assert new.village == village and new.household_no == f"{village.code}-R0001"
    assert list(new.members.order_by("id").values_list("name", "relation", "labour")) == [
        ("赵铁柱", "户主", "weak"),
        ("钱秀英", "配偶", ""),
        ("赵小红", "女", ""),
    ]
    case = Case.objects.get(household=new)
    assert response["Location"] == f"/cases/{case.pk}/"
    assert case.state == "household_check" and case.source == "application"
    assert AuditEvent.objects.filter(
        action="registry.household.created", object_id=str(new.pk), actor=roles["village_cadre"]
    ).exists()
    page = client.get(response["Location"]).content.decode()
    assert new.household_no in page and "已登记新户" in page


def test_a_bad_check_digit_is_shown_on_its_row_and_nothing_is_written(client, roles, household):
    client.force_login(roles["village_cadre"])
    before = written()
    bad = DAUGHTER_ID[:17] + ("0" if DAUGHTER_ID[17] != "0" else "1")
    response = client.post(
        "/cases/new/", intake_form(household.village.code, **{"members-2-id_number": bad})
    )
    assert response.status_code == 400
    page = response.content.decode()
    message = ERR_CHECKSUM.format(expected=DAUGHTER_ID[17])
    assert f'data-testid="error-members-2-id_number">{message}' in page
    assert written() == before


def test_an_id_number_already_registered_and_a_village_outside_my_region(
    client, roles, household, other_household
):
    client.force_login(roles["township_officer"])
    taken = household.members.first()
    before = written()
    response = client.post(
        "/cases/new/",
        intake_form(
            other_household.village.code,
            **{"members-0-id_number": taken.id_number},
        ),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-testid="error-village">' + importer.ERR_VILLAGE_SCOPE in page
    assert importer.ERR_ID_ELSEWHERE.format(household=household.household_no) in page
    assert written() == before


def test_a_refused_case_leaves_no_household_behind(client, roles, household):
    client.force_login(roles["village_cadre"])  # a cadre may not open a warning
    before = written()
    response = client.post(
        "/cases/new/", intake_form(household.village.code, source="warning", reference="W-1")
    )
    assert response.status_code == 400 and 'data-testid="error"' in response.content.decode()
    assert written() == before


def test_the_form_asks_for_either_a_household_number_or_a_new_household(client, roles, household):
    client.force_login(roles["village_cadre"])
    response = client.post("/cases/new/", intake_form(household.village.code, register=""))
    assert response.status_code == 400
    assert 'data-testid="error-household_no"' in response.content.decode()
    assert written()[2] == 0


# --- the API ------------------------------------------------------------------------------------


def bearer(user) -> dict:
    _, key = ApiToken.issue(user=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def api_body(village_code: str, **change) -> dict:
    body = {
        "circumstance": "education",
        "period": timezone.localdate().year,
        "source": "report",
        "description": "大学学费 college fees",
        "member_id_number": DAUGHTER_ID,  # the student
        "household": {
            "village_code": village_code,
            "household_type": "sudden",
            "head": {"name": "孙大伟", "id_number": HEAD_ID, "birth_date": "1968-02-11"},
            "members": [
                {"name": "孙丽", "id_number": DAUGHTER_ID, "relation": "女", "sex": "F"},
            ],
        },
    }
    body.update(change)
    return body


def test_the_api_registers_a_new_household_with_the_case(client, roles, household):
    headers = bearer(roles["township_officer"])
    response = client.post(
        "/api/v1/cases/",
        api_body(household.village.code),
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["household_registered"] and not body["joined"]
    new = Household.objects.get(household_no=body["case"]["household_no"])
    assert new.household_type == "sudden" and new.members.count() == 2
    assert Case.objects.get(pk=body["case"]["id"]).household == new


def test_the_api_names_the_bad_field_and_writes_nothing(client, roles, household):
    headers = bearer(roles["township_officer"])
    before = written()
    body = api_body(household.village.code)
    body["household"]["members"][0]["sex"] = "M"
    body["household"]["members"].append(
        {"name": "孙强", "id_number": household.members.first().id_number, "relation": "子"}
    )
    response = client.post("/api/v1/cases/", body, content_type="application/json", **headers)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "household.members[1].sex: sex does not match the ID number" in detail
    assert (
        "household.members[2].id_number: "
        + importer.ERR_ID_ELSEWHERE.format(household=household.household_no)
        in detail
    )
    assert written() == before
    both = client.post(
        "/api/v1/cases/",
        api_body(household.village.code, household_no=household.household_no),
        content_type="application/json",
        **headers,
    )
    assert both.status_code == 422 and written() == before


def test_the_api_refuses_a_village_outside_my_region(client, roles, other_household):
    response = client.post(
        "/api/v1/cases/",
        api_body(other_household.village.code),
        content_type="application/json",
        **bearer(roles["township_officer"]),
    )
    assert response.status_code == 422
    assert response.json()["detail"] == f"household.village: {importer.ERR_VILLAGE_SCOPE}"
    assert not Member.objects.filter(id_number=HEAD_ID).exists()


def test_evidence_refused_with_a_new_household_leaves_neither_household_nor_case(
    client, roles, household
):
    """Household, case and evidence are one transaction (``services.case_intake``)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from fangpin.cases.errors import ERR_FILE_TYPE

    client.force_login(roles["village_cadre"])
    before = written()
    upload = SimpleUploadedFile("note.txt", b"not a scan", content_type="text/plain")
    response = client.post(
        "/cases/new/",
        {**intake_form(household.village.code), "evidence": upload, "evidence_kind": "other"},
    )
    assert response.status_code == 400
    assert ERR_FILE_TYPE.format(name="note.txt") in response.content.decode()
    assert written() == before


def test_a_household_number_outside_my_region_is_named_at_its_field(
    client, roles, household, other_household
):
    from fangpin.cases.errors import ERR_NO_HOUSEHOLD

    client.force_login(roles["village_cadre"])
    before = written()
    form = intake_form("", register="", household_no=other_household.household_no)
    response = client.post("/cases/new/", {k: v for k, v in form.items() if k != "register"})
    assert response.status_code == 400
    assert f'data-testid="error-household_no">{ERR_NO_HOUSEHOLD}' in response.content.decode()
    assert written() == before
