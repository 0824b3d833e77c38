"""Region scope and roles: one module answers, views and API obey."""

import pytest
from django.contrib.auth.hashers import get_hasher
from django.core.exceptions import PermissionDenied

from fangpin.accounts import permissions
from fangpin.accounts.models import ApiToken, Role, User
from fangpin.registry.models import Household, Member
from fangpin.registry.selectors import household_scope


def test_each_user_sees_exactly_their_subtree(county, townships, make_user, city_admin):
    t0, t1 = townships[0], townships[1]
    officer = make_user("township_officer", t0)
    seen = set(household_scope(user=officer).values_list("village__parent__code", flat=True))
    assert seen == {t0.code}
    assert (
        household_scope(user=officer).count()
        == Household.objects.filter(village__parent=t0).count()
    )
    assert not household_scope(user=officer).filter(village__parent=t1).exists()
    assert household_scope(user=city_admin).count() == Household.objects.count()


def test_a_user_without_region_sees_nothing_and_is_told_why(db):
    nobody = User.objects.create_user(username="nobody", password="x" * 12, role="county_officer")
    assert household_scope(user=nobody).count() == 0
    with pytest.raises(PermissionDenied, match="no region"):
        permissions.require(nobody, "registry.view")


def test_roles_limit_actions(county, make_user, townships):
    assert permissions.can(make_user("county_officer", county), "registry.import")
    cadre = make_user("village_cadre", townships[0].children.first())
    assert not permissions.can(cadre, "registry.import")
    assert permissions.why_not(cadre, "registry.import").startswith("your role may not")
    with pytest.raises(ValueError):
        permissions.can(cadre, "registry.fly")


def test_objects_outside_scope_are_refused(townships, make_user):
    officer = make_user("township_officer", townships[0])
    inside = Household.objects.filter(village__parent=townships[0]).first()
    outside = Household.objects.filter(village__parent=townships[1]).first()
    assert permissions.can(officer, "registry.view_detail", inside)
    assert (
        permissions.why_not(officer, "registry.view_detail", outside)
        == permissions.ERR_OUT_OF_SCOPE
    )


def test_visible_counties_for_a_township_user_is_its_county(
    townships, make_user, county, city_admin
):
    officer = make_user("township_officer", townships[0])
    assert list(permissions.visible_counties(officer)) == [county]
    assert permissions.visible_counties(city_admin).count() == 18


def test_only_a_household_scoped_role_takes_a_household_read():
    with pytest.raises(ValueError, match="HOUSEHOLD_SCOPED_ROLES"):
        permissions.household_scope_register(Role.COUNTY_OFFICER, lambda *, user, on: None)


def test_the_read_registered_for_the_helper_cadre_decides_which_households_they_see(
    county, make_user, monkeypatch
):
    helper = make_user("helper_cadre", county)
    first, second, third = Household.objects.filter(village__path__startswith=county.path)[:3]
    monkeypatch.setattr(permissions, "_household_rows", {})  # as if no app had registered one
    assert not household_scope(user=helper).exists()
    assert not permissions.may_see(helper, first)

    permissions.household_scope_register(
        Role.HELPER_CADRE,
        lambda *, user, on: Member.objects.filter(household__in=[first, second]),
    )
    assert set(household_scope(user=helper)) == {first, second}
    assert permissions.may_see(helper, second) and not permissions.may_see(helper, third)
    assert not permissions.scope_filter(helper, county.children.all(), "path").exists()


def test_passwords_are_hashed_with_argon2(county_officer):
    assert county_officer.password.startswith("argon2")
    assert get_hasher().algorithm == "argon2"


def test_api_tokens_are_stored_as_digests(county_officer):
    token, key = ApiToken.issue(user=county_officer)
    assert key not in token.digest and ApiToken.lookup(key) == token
    assert ApiToken.lookup(key + "x") is None
