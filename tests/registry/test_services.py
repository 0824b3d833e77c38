"""Registering one household (``household_register``): the importer's checks, one audit row,
nothing written on any problem."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from fangpin.common.idnumber import ERR_CHECKSUM
from fangpin.common.models import AuditEvent
from fangpin.registry import importer
from fangpin.registry.models import Household, Member
from fangpin.registry.services import (
    ERR_BIRTH_MISMATCH,
    ERR_DUPLICATE_MEMBER,
    ERR_HOUSEHOLD_EXISTS,
    ERR_SECOND_HEAD,
    ERR_SEX_MISMATCH,
    MemberIn,
    RegistryError,
    household_register,
)

from .conftest import idn

pytestmark = pytest.mark.django_db

HEAD = MemberIn(name="关建国", id_number=idn("19700315", 11), sex="男", birth_date="1970-03-15")
WIFE = MemberIn(name="李秀兰", id_number=idn("19720506", 22), relation="配偶", labour="有劳动能力")
SON = MemberIn(name="关晨旭", id_number=idn("20000901", 31), relation="子", sex="M")


def wrong_check_digit(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


def problems(exc: pytest.ExceptionInfo) -> dict[str, str]:
    return {p.field: p.message for p in exc.value.problems}


def test_a_new_household_is_registered_with_its_members_and_an_audit_row(
    villages, township_officer
):
    village = villages[0]
    household = household_register(
        actor=township_officer,
        village=village.code,
        head=HEAD,
        members=[WIFE, SON],
        household_type="边缘易致贫户",
        bank="邮储银行",
        bank_account="6217000011112222",
    )
    assert household.household_no == f"{village.code}-R0001"
    assert household.household_type == "marginal" and household.village == village
    members = list(household.members.order_by("id").values_list("name", "relation", "labour"))
    assert members == [("关建国", "户主", ""), ("李秀兰", "配偶", "able"), ("关晨旭", "子", "")]
    event = AuditEvent.objects.get(action="registry.household.created", object_id=household.pk)
    assert event.actor == township_officer and event.region_path == village.path
    assert event.data["members"] == 3
    second = household_register(
        actor=township_officer,
        village=village,
        head=MemberIn(name="王芳", id_number=idn("19880808", 42)),
    )
    assert second.household_no == f"{village.code}-R0002"


def test_a_wrong_check_digit_names_the_member_and_writes_nothing(villages, township_officer):
    before = (Household.objects.count(), Member.objects.count(), AuditEvent.objects.count())
    bad = MemberIn(name="李秀兰", id_number=wrong_check_digit(WIFE.id_number), relation="配偶")
    with pytest.raises(RegistryError) as exc:
        household_register(
            actor=township_officer, village=villages[0].code, head=HEAD, members=[bad]
        )
    expected = ERR_CHECKSUM.format(expected=WIFE.id_number[17])
    assert problems(exc) == {"members[1].id_number": expected}
    assert "members[1].id_number: ID number check digit is wrong" in exc.value.message
    after = (Household.objects.count(), Member.objects.count(), AuditEvent.objects.count())
    assert after == before


def test_an_id_number_already_registered_is_refused(villages, township_officer):
    taken = Member.objects.select_related("household").filter(
        household__village__path__startswith=villages[0].path
    )[0]
    with pytest.raises(RegistryError) as exc:
        household_register(
            actor=township_officer,
            village=villages[0],
            head=HEAD,
            members=[MemberIn(name=taken.name, id_number=taken.id_number, relation="子")],
        )
    assert problems(exc) == {
        "members[1].id_number": importer.ERR_ID_ELSEWHERE.format(
            household=taken.household.household_no
        )
    }
    assert not Member.objects.filter(id_number=HEAD.id_number).exists()


def test_a_village_outside_the_actors_region_is_refused(townships, make_user):
    officer = make_user("township_officer", townships[0])
    elsewhere = townships[1].children.order_by("code").first()
    with pytest.raises(RegistryError) as exc:
        household_register(actor=officer, village=elsewhere.code, head=HEAD)
    assert problems(exc) == {"village": importer.ERR_VILLAGE_SCOPE}
    with pytest.raises(RegistryError) as exc:
        household_register(actor=officer, village="999999999999", head=HEAD)
    assert problems(exc) == {"village": importer.ERR_UNKNOWN_VILLAGE}
    assert not Member.objects.filter(id_number=HEAD.id_number).exists()


def test_every_problem_is_reported_at_once(villages, township_officer):
    existing = Household.objects.filter(village=villages[0]).first()
    with pytest.raises(RegistryError) as exc:
        household_register(
            actor=township_officer,
            village=villages[0],
            household_no=existing.household_no,
            household_type="rich",
            bank_account="12-34",
            head=MemberIn(name="", id_number=HEAD.id_number, sex="F", birth_date="1970-03-16"),
            members=[
                MemberIn(name="甲", id_number=HEAD.id_number, relation="户主", labour="lazy"),
            ],
        )
    assert problems(exc) == {
        "household_no": ERR_HOUSEHOLD_EXISTS.format(household=existing.household_no),
        "household_type": importer.ERR_HOUSEHOLD_TYPE.format(choices=importer.TYPE_CHOICES),
        "bank_account": importer.ERR_BANK_ACCOUNT,
        "head.name": importer.ERR_REQUIRED,
        "head.sex": ERR_SEX_MISMATCH.format(sex="M 男"),
        "head.birth_date": ERR_BIRTH_MISMATCH.format(date="1970-03-15"),
        "members[1].relation": ERR_SECOND_HEAD,
        "members[1].labour": importer.ERR_LABOUR,
        "members[1].id_number": ERR_DUPLICATE_MEMBER.format(first="head"),
    }


def test_a_role_that_may_not_register_is_refused(villages, make_user):
    auditor = make_user("auditor", villages[0].parent.parent)
    with pytest.raises(PermissionDenied):
        household_register(actor=auditor, village=villages[0], head=HEAD)


def test_an_id_number_registered_outside_the_actors_region_does_not_name_that_household(
    townships, make_user
):
    officer = make_user("township_officer", townships[0])
    mine = townships[0].children.order_by("code").first()
    theirs = Member.objects.filter(household__village__path__startswith=townships[1].path)[0]
    with pytest.raises(RegistryError) as exc:
        household_register(
            actor=officer,
            village=mine,
            head=HEAD,
            members=[MemberIn(name=theirs.name, id_number=theirs.id_number, relation="子")],
        )
    assert problems(exc) == {"members[1].id_number": importer.ERR_ID_OUTSIDE}
    assert theirs.household.household_no not in exc.value.message
