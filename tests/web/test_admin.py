"""Every model in the Django admin opens for a staff member, through the scoped bases."""

import pytest
from django.contrib import admin
from django.test import Client


@pytest.mark.django_db
def test_every_admin_changelist_opens_for_a_county_staff_member(county, make_user):
    user = make_user("county_officer", county, username="admin-smoke")
    user.is_staff = True
    user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(url).status_code == 200, url


# --- region-safe for staff who are not superusers (issue 13) -------------------------------

ROLES = [
    "city_admin",
    "county_officer",
    "township_officer",
    "village_cadre",
    "insurer_adjuster",
    "auditor",
    "helper_cadre",
]


def staff(make_user, role, region, username):
    """A staff member of ``role`` given every model permission (the worst case)."""
    from django.contrib.auth.models import Permission

    user = make_user(role, region, username=username)
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=APPS))
    return user


APPS = ["accounts", "regions", "common", "registry", "cases", "funds", "pairing"]


@pytest.fixture
def places(county):
    from fangpin.regions.models import Region
    from fangpin.registry.models import Household

    township, other = list(county.children.order_by("code"))[:2]
    mine = (
        Household.objects.filter(village__path__startswith=township.path)
        .order_by("household_no")
        .first()
    )
    foreign = Region.objects.filter(path__startswith=other.path, level="village").first()
    return {"township": township, "household": mine, "foreign_village": foreign}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_every_admin_page_opens_as_every_role_and_shows_no_full_id_number(
    role, county, make_user, places
):
    region = {"village_cadre": places["household"].village, "township_officer": places["township"]}
    user = staff(make_user, role, region.get(role, county), f"admin-{role}")
    client = Client()
    client.force_login(user)
    member = places["household"].members.first()
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        response = client.get(url)
        assert response.status_code in (200, 403), url
        assert member.id_number not in response.content.decode(), url
    page = client.get(f"/admin/registry/member/{member.pk}/change/")
    assert page.status_code in (200, 302, 404)
    assert member.id_number not in page.content.decode()


@pytest.mark.django_db
def test_a_county_officer_cannot_make_themselves_superuser_or_change_users(county, make_user):
    from fangpin.accounts.models import User

    officer = staff(make_user, "county_officer", county, "admin-escalate")
    client = Client()
    client.force_login(officer)
    url = f"/admin/accounts/user/{officer.pk}/change/"
    form = {
        "username": officer.username,
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "role": "city_admin",
        "region": str(county.parent_id),
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    assert client.post(url, form).status_code == 403
    assert client.get(f"/admin/accounts/user/{officer.pk}/password/").status_code == 403
    assert client.get("/admin/accounts/user/add/").status_code == 403
    officer = User.objects.get(pk=officer.pk)
    assert not officer.is_superuser and officer.role == "county_officer"
    assert officer.region_id == county.pk


@pytest.mark.django_db
def test_holidays_and_regions_are_changed_by_a_superuser_only(county, make_user):
    from fangpin.cases.models import Holiday
    from fangpin.common.models import AuditEvent

    officer = staff(make_user, "county_officer", county, "admin-holiday")
    client = Client()
    client.force_login(officer)
    form = {"date": "2026-10-01", "name": "国庆节"}
    assert client.post("/admin/cases/holiday/add/", form).status_code == 403
    assert client.post(f"/admin/regions/region/{county.pk}/change/", {}).status_code == 403
    assert not Holiday.objects.exists()
    root = make_user("city_admin", county.parent, username="admin-root")
    root.is_staff = root.is_superuser = True
    root.save()
    client.force_login(root)
    assert client.post("/admin/cases/holiday/add/", form).status_code == 302
    holiday = Holiday.objects.get()
    event = AuditEvent.objects.get(action="admin.cases.holiday.added")
    assert event.actor == root and event.object_id == str(holiday.pk)


@pytest.mark.django_db
def test_a_township_officer_cannot_move_a_household_out_of_their_region(make_user, places):
    from fangpin.common.models import AuditEvent
    from fangpin.registry.models import Household

    household = places["household"]
    officer = staff(make_user, "township_officer", places["township"], "admin-move")
    client = Client()
    client.force_login(officer)
    url = f"/admin/registry/household/{household.pk}/change/"
    assert client.get(url).status_code == 200
    form = {
        "household_no": household.household_no,
        "village": str(household.village_id),
        "household_type": "sudden" if household.household_type != "sudden" else "marginal",
        "bank_name": household.bank_name,
        "bank_account": household.bank_account,
        "members-TOTAL_FORMS": "0",
        "members-INITIAL_FORMS": "0",
        "incomes-TOTAL_FORMS": "0",
        "incomes-INITIAL_FORMS": "0",
    }
    # a change inside the region is saved, and audited
    assert client.post(url, form).status_code == 302
    changed = Household.objects.get(pk=household.pk)
    assert changed.household_type == form["household_type"]
    event = AuditEvent.objects.get(action="admin.registry.household.changed")
    assert event.actor == officer and event.region_path == household.village.path
    # a village of another township is not a choice: refused, nothing saved
    moved = client.post(url, form | {"village": str(places["foreign_village"].pk)})
    assert moved.status_code == 200 and "village" in moved.context["adminform"].form.errors
    assert Household.objects.get(pk=household.pk).village_id == household.village_id
    assert AuditEvent.objects.filter(action="admin.registry.household.changed").count() == 1
