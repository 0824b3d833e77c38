"""Registry pages and admin over HTTP, as each role sees them."""

import re

import fastexcel
from django.test import Client

from fangpin.common.idnumber import mask_id_number
from fangpin.common.models import AuditEvent
from fangpin.registry import importer
from fangpin.registry.models import Household, Member

from .conftest import write_csv


def client_for(user):
    c = Client()
    c.force_login(user)
    return c


def test_the_list_shows_only_the_users_township_with_masked_ids(townships, make_user):
    officer = make_user("township_officer", townships[0])
    r = client_for(officer).get("/households/")
    html = r.content.decode()
    listed = set(re.findall(r'href="/households/([^/"]+)/"', html))
    expected_total = Household.objects.filter(village__parent=townships[0]).count()
    assert f"{expected_total} " in html
    assert listed and all(
        Household.objects.get(household_no=no).village.parent == townships[0] for no in listed
    )
    head = Member.objects.filter(household__household_no__in=listed, relation="户主").first()
    assert mask_id_number(head.id_number) in html
    assert head.id_number not in html


def test_search_by_name_number_and_id(townships, make_user):
    officer = make_user("township_officer", townships[0])
    member = (
        Member.objects.filter(household__village__parent=townships[0])
        .select_related("household")
        .last()
    )
    c = client_for(officer)
    for q in (member.id_number, member.household.household_no, member.name):
        html = c.get("/households/", {"q": q}).content.decode()
        assert f"/households/{member.household.household_no}/" in html, q


def test_search_cannot_reach_outside_the_region(townships, make_user):
    officer = make_user("township_officer", townships[0])
    outsider = (
        Member.objects.filter(household__village__parent=townships[1])
        .select_related("household")
        .first()
    )
    html = client_for(officer).get("/households/", {"q": outsider.id_number}).content.decode()
    assert outsider.household.household_no not in html


def test_filter_by_type_and_pages(county_officer):
    c = client_for(county_officer)
    html = c.get("/households/", {"type": "unstable"}).content.decode()
    n = Household.objects.filter(household_type="unstable").count()
    assert f"{n} " in html and "sudden" not in re.findall(r'class="tag (\w+)"', html)
    page2 = c.get("/households/", {"page": 2}).content.decode()
    assert "2 / " in page2 or "Page 2" in page2 or "第 2" in page2


def test_detail_in_scope_is_shown_and_the_look_is_audited(townships, make_user):
    officer = make_user("township_officer", townships[0])
    h = Household.objects.filter(village__parent=townships[0]).first()
    r = client_for(officer).get(f"/households/{h.household_no}/")
    assert r.status_code == 200
    html = r.content.decode()
    for m in h.members.all():
        assert m.name in html
    assert str(h.incomes.first().year) in html
    assert AuditEvent.objects.filter(
        action="registry.household.viewed", actor=officer, object_id=str(h.pk)
    ).exists()


def test_detail_outside_scope_is_not_found(townships, make_user):
    officer = make_user("township_officer", townships[0])
    h = Household.objects.filter(village__parent=townships[1]).first()
    assert client_for(officer).get(f"/households/{h.household_no}/").status_code == 404


def test_admin_lists_only_the_staff_members_region(townships, make_user):
    officer = make_user("township_officer", townships[0])
    officer.is_staff = True
    officer.save()
    from django.contrib.auth.models import Permission

    officer.user_permissions.add(*Permission.objects.filter(content_type__app_label="registry"))
    html = client_for(officer).get("/admin/registry/household/?all=").content.decode()
    inside = Household.objects.filter(village__parent=townships[0]).count()
    assert f"{inside} " in html
    outsider = Household.objects.filter(village__parent=townships[1]).first()
    assert outsider.household_no not in html
    assert (
        client_for(officer).get(f"/admin/registry/household/{outsider.pk}/change/").status_code
        == 302
    )


def test_import_page_for_county_officers_lists_errors_or_imports(
    tmp_path, county_officer, family, townships, make_user
):
    c = client_for(county_officer)
    family[0][7] = "-1"
    with open(write_csv(tmp_path / "web.csv", family), "rb") as fh:
        html = c.post("/households/import/", {"file": fh}).content.decode()
    assert "web.csv" in html and "金额不能为负数" in html
    assert not Household.objects.filter(household_no="T-0001").exists()
    report = c.get("/households/import/report.xlsx")
    assert report["Content-Type"].startswith("application/vnd.openxmlformats")
    xlsx = tmp_path / "report.xlsx"
    xlsx.write_bytes(report.content)
    rows = fastexcel.read_excel(str(xlsx)).load_sheet(0, dtypes="string").to_polars().rows()
    assert rows[0] == ("web.csv", "2", "家庭年可支配收入", "-1", importer.ERR_NEGATIVE)
    assert [r[1] for r in rows] == ["2", "3", "4"]  # the household's income differs on rows 3-4 too
    for row in family:
        row[7] = "27588"
    with open(write_csv(tmp_path / "web.csv", family), "rb") as fh:
        html = c.post("/households/import/", {"file": fh}).content.decode()
    assert 'data-testid="import-ok"' in html
    assert Household.objects.filter(household_no="T-0001").exists()
    cadre = make_user("village_cadre", townships[0].children.first())
    assert client_for(cadre).get("/households/import/").status_code == 403


def test_a_file_with_many_problems_shows_the_first_and_says_how_many_more(
    tmp_path, county_officer, family
):
    """A careless file must not make a huge page (issue 13: a 47 KB file made an 81 MB page)."""
    from fangpin.common.tabular import PROBLEMS_SHOWN

    head = family[0]
    rows = [
        [f"T-{i:04d}", head[1], "marginal", f"名{i}", "130434197003151234", "户主", "2019", "-1"]
        + head[8:]
        for i in range(PROBLEMS_SHOWN + 100)
    ]
    with open(write_csv(tmp_path / "many.csv", rows), "rb") as fh:
        response = client_for(county_officer).post("/households/import/", {"file": fh})
    html = response.content.decode()
    assert html.count("<code>") == PROBLEMS_SHOWN
    assert 'data-testid="more-problems"' in html and len(html) < 1_000_000


def test_full_id_numbers_only_on_a_deliberate_audited_request(client, townships, make_user):
    """Personal data (issue 13): the household page and API mask ID numbers; showing them
    in full is an action of its own, recorded in the audit trail as such."""
    officer = make_user("township_officer", townships[0])
    h = Household.objects.filter(village__parent=townships[0]).first()
    full = [m.id_number for m in h.members.all()]
    c = client_for(officer)
    page = c.get(f"/households/{h.household_no}/").content.decode()
    assert not any(n in page for n in full) and 'data-testid="reveal"' in page
    api = c.get(f"/api/v1/registry/households/{h.household_no}").content.decode()
    assert not any(n in api for n in full)
    assert not AuditEvent.objects.filter(action="registry.household.id_numbers_revealed").exists()
    shown = c.get(f"/households/{h.household_no}/", {"reveal": "1"}).content.decode()
    assert all(n in shown for n in full)
    api = c.get(f"/api/v1/registry/households/{h.household_no}", {"reveal": "true"})
    assert all(n in api.content.decode() for n in full)
    assert (
        AuditEvent.objects.filter(
            action="registry.household.id_numbers_revealed", actor=officer, object_id=str(h.pk)
        ).count()
        == 2
    )


def test_a_search_by_a_full_id_number_is_audited_masked(townships, make_user):
    officer = make_user("township_officer", townships[0])
    member = Member.objects.filter(household__village__parent=townships[0]).first()
    c = client_for(officer)
    c.get("/households/", {"q": member.name})
    assert not AuditEvent.objects.filter(action="registry.household.searched_by_id_number").exists()
    c.get("/households/", {"q": member.id_number})
    c.get("/api/v1/registry/households", {"q": member.id_number})
    events = AuditEvent.objects.filter(action="registry.household.searched_by_id_number")
    assert [(e.actor, e.data["via"]) for e in events.order_by("id")] == [
        (officer, "page"),
        (officer, "api"),
    ]
    assert all(e.data["q"] == mask_id_number(member.id_number) for e in events)
