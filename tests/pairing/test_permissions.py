"""Region scoping of pairing, and the helper cadre (帮扶干部) who sees only their households."""

from __future__ import annotations

from django.test import Client
from django.utils import timezone

from fangpin.accounts import permissions
from fangpin.accounts.models import Role
from fangpin.pairing import cadres, selectors, services
from fangpin.regions.models import Region
from fangpin.registry.models import Household, Member

TODAY = timezone.localdate()


def test_a_helper_cadre_sees_only_the_households_paired_with_them(hand, cadre_factory, officer):
    helper = cadre_factory(hand.county, level="county", name="李文文")
    user = cadres.cadre_login_create(
        cadre=helper, username="li-wenwen", password="pw-long-enough-1"
    )
    assert user.role == Role.HELPER_CADRE and user.region == hand.county
    mine = hand.household(village=hand.village3)
    other = hand.household(village=hand.village3)
    services.pairing_assign(household=mine, cadre=helper, actor=officer)

    assert list(permissions.scope_filter(user, Household.objects.all(), "village__path")) == [mine]
    assert set(
        permissions.scope_filter(user, Member.objects.all(), "household__village__path")
    ) == set(mine.members.all())
    assert not permissions.scope_filter(user, Region.objects.all(), "path").exists()
    assert permissions.can(user, "pairing.visit", mine)
    assert permissions.why_not(user, "pairing.visit", other) == permissions.ERR_OUT_OF_SCOPE
    assert not permissions.can(user, "pairing.visit", hand.county)  # a region is not theirs

    c = Client()
    c.force_login(user)
    html = c.get("/households/").content.decode()
    assert mine.household_no in html and other.household_no not in html
    assert c.get(f"/pairing/h/{other.household_no}/").status_code == 404
    assert c.get(f"/pairing/h/{mine.household_no}/").status_code == 200

    # the pairing ends: the household leaves their scope
    services.pairing_end(pairing=mine.pairings.get(), reason="调离", actor=officer)
    assert not permissions.scope_filter(user, Household.objects.all(), "village__path").exists()


def test_lists_are_scoped_to_the_users_region(hand, cadre_factory, officer, make_user):
    c1, c3 = cadre_factory(hand.village1), cadre_factory(hand.village3)
    a, b = hand.household(), hand.household(village=hand.village3)
    services.pairing_assign(household=a, cadre=c1, actor=officer)
    services.pairing_assign(household=b, cadre=c3, actor=officer)
    town2 = make_user("township_officer", hand.town2)
    listed = selectors.followup_households(user=town2, today=TODAY)
    assert [h.household_no for h in listed] == [b.household_no]
    assert [c.pk for c in selectors.cadre_list(user=town2, today=TODAY)] == [c3.pk]
    village_user = make_user("village_cadre", hand.village1)
    assert [
        h.household_no for h in selectors.followup_households(user=village_user, today=TODAY)
    ] == [a.household_no]
    assert [r.code for r in selectors.compliance_by_region(user=town2, today=TODAY)] == [
        hand.village3.code
    ]


def test_a_village_cadre_login_sees_their_village(hand, cadre_factory):
    cadre = cadre_factory(hand.village1)
    user = cadres.cadre_login_create(cadre=cadre, username="v1", password="pw-long-enough-1")
    assert (user.role, user.region) == (Role.VILLAGE_CADRE, hand.village1)
    assert selectors.cadre_of(user=user) == cadre
    assert permissions.can(user, "pairing.visit") and not permissions.can(user, "pairing.assign")
