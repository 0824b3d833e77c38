"""The registry API over HTTP with a bearer token: scoped like the pages."""

from django.test import Client

from fangpin.accounts.models import ApiToken
from fangpin.registry.models import Household


def bearer(user):
    _, key = ApiToken.issue(user=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_list_is_scoped_and_masked(townships, make_user):
    officer = make_user("township_officer", townships[0])
    r = Client().get("/api/v1/registry/households", **bearer(officer))
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == Household.objects.filter(village__parent=townships[0]).count()
    row = body["items"][0]
    assert "*" * 10 in row["head_id_number_masked"]
    assert all(
        Household.objects.get(household_no=i["household_no"]).village.parent == townships[0]
        for i in body["items"]
    )
    # the member count of each row, and 0 for a household without members on record
    counts = {i["household_no"]: i["member_count"] for i in body["items"]}
    assert counts == {
        h.household_no: h.members.count() for h in Household.objects.filter(household_no__in=counts)
    }
    empty = Household.objects.filter(household_no=row["household_no"]).get()
    empty.members.all().delete()
    again = Client().get("/api/v1/registry/households", **bearer(officer)).json()
    assert {i["household_no"]: i["member_count"] for i in again["items"]}[empty.household_no] == 0


def test_detail_outside_scope_is_404_and_unauthenticated_is_401(townships, make_user):
    officer = make_user("township_officer", townships[0])
    outsider = Household.objects.filter(village__parent=townships[1]).first()
    c = Client()
    assert (
        c.get(f"/api/v1/registry/households/{outsider.household_no}", **bearer(officer)).status_code
        == 404
    )
    assert c.get("/api/v1/registry/households").status_code == 401
    assert c.get("/api/v1/registry/households", HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    inside = Household.objects.filter(village__parent=townships[0]).first()
    detail = c.get(f"/api/v1/registry/households/{inside.household_no}", **bearer(officer)).json()
    assert len(detail["members"]) == inside.members.count()


def test_bad_filter_is_422(county_officer):
    r = Client().get("/api/v1/registry/households?household_type=rich", **bearer(county_officer))
    assert r.status_code == 422


def test_openapi_schema_is_served(county_officer):
    c = Client()
    c.force_login(county_officer)
    assert c.get("/api/v1/openapi.json").status_code == 200
