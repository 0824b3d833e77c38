"""Cadres (帮扶干部): their levels and phone numbers, where a cadre may serve, and the writes
that register them and give them a login.

A cadre serves at the level of their post or below (a county cadre stationed in a
village) and may be paired with, or visit, only households inside the region where they
serve. The file import of cadres (``importer.cadre_import``) shares the levels and the
phone pattern.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction

from fangpin.accounts import permissions
from fangpin.accounts.models import Role, User
from fangpin.common.audit import Action, audit_record
from fangpin.regions.models import LEVEL_ORDER, Level, Region
from fangpin.registry.models import Household

from .errors import (
    ERR_CADRE_HAS_LOGIN,
    ERR_CADRE_INACTIVE,
    ERR_CADRE_REGION,
    ERR_LEVEL,
    ERR_PHONE,
    ERR_PHONE_TAKEN,
    ERR_REGION_LEVEL,
    ERR_REGION_SCOPE,
    ERR_USER_LINKED,
    PairingError,
    acting,
    full_clean,
    require,
    text_input,
)
from .models import Cadre

# cadre levels as county offices write them -> Level
LEVEL_ALIASES = {
    **{lv.value: lv.value for lv in Level},
    "市": Level.CITY.value,
    "市级": Level.CITY.value,
    "县": Level.COUNTY.value,
    "县级": Level.COUNTY.value,
    "区": Level.COUNTY.value,
    "乡": Level.TOWNSHIP.value,
    "镇": Level.TOWNSHIP.value,
    "乡镇": Level.TOWNSHIP.value,
    "乡级": Level.TOWNSHIP.value,
    "乡镇级": Level.TOWNSHIP.value,
    "村": Level.VILLAGE.value,
    "村级": Level.VILLAGE.value,
}
# an 11-digit mobile number, or a landline with its area code (0310-1234567)
PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
PHONE_PATTERN = PHONE.pattern


def level_code(value: Any) -> str | None:
    """A cadre level as written in a file (city, 县级, 乡镇…) -> ``Level`` value, or None."""
    return LEVEL_ALIASES.get(str(value or "").strip().lower())


def serves_at(level: str, region_level: str) -> bool:
    """A cadre serves at the level of their post or below (a county cadre stationed in a village)."""
    return LEVEL_ORDER.index(Level(region_level)) >= LEVEL_ORDER.index(Level(level))


# --- the cadre writes -----------------------------------------------------------------------


def _covers(cadre: Cadre, household: Household) -> bool:
    return household.village.path.startswith(cadre.region.path)


def cadre_check_for(cadre: Cadre, household: Household) -> None:
    """Refuse a cadre who is no longer active or does not serve where the household lives."""
    if not cadre.active:
        raise PairingError(ERR_CADRE_INACTIVE.format(cadre=cadre.name), field="cadre")
    if not _covers(cadre, household):
        raise PairingError(
            ERR_CADRE_REGION.format(
                cadre=cadre.name, region=cadre.region.name, household=household.household_no
            ),
            field="cadre",
        )


@transaction.atomic
def cadre_create(
    *,
    name: str,
    work_unit: str,
    level: str,
    phone: str,
    region: Region,
    actor: Any = None,
) -> Cadre:
    """Register one cadre (the file import does many: ``importer.cadre_import``)."""
    require(actor, "pairing.import")
    if actor is not None and not permissions.may_see_path(actor, region.path):
        raise PairingError(ERR_REGION_SCOPE.format(code=region.code), field="region")
    code = level_code(level)
    if code is None:
        raise PairingError(ERR_LEVEL, field="level")
    if not serves_at(code, region.level):
        raise PairingError(
            ERR_REGION_LEVEL.format(level=code, region_level=region.level), field="region"
        )
    phone = text_input(phone, "phone", 16)
    if not PHONE.match(phone):
        raise PairingError(ERR_PHONE, field="phone")
    holder = Cadre.objects.filter(phone=phone).first()
    if holder is not None:
        raise PairingError(ERR_PHONE_TAKEN.format(phone=phone, cadre=holder.name), field="phone")
    cadre = Cadre(
        name=text_input(name, "name", 64),
        work_unit=text_input(work_unit, "work_unit", 128),
        level=code,
        phone=phone,
        region=region,
    )
    full_clean(cadre)
    cadre.save()
    audit_record(
        actor=acting(actor),
        action=Action.CADRE_CREATED,
        obj=cadre,
        region_path=region.path,
        data={"name": cadre.name, "level": code, "work_unit": cadre.work_unit},
    )
    return cadre


@transaction.atomic
def cadre_user_link(*, cadre: Cadre, user: User, actor: Any = None) -> Cadre:
    """Let ``user`` act as ``cadre`` (their visits, their households first)."""
    require(actor, "pairing.import")
    other = Cadre.objects.filter(user=user).exclude(pk=cadre.pk).first()
    if other is not None:
        raise PairingError(
            ERR_USER_LINKED.format(user=user.username, cadre=other.name), field="user"
        )
    before = cadre.user_id
    cadre.user = user
    cadre.save(update_fields=["user", "updated_at"])
    audit_record(
        actor=acting(actor),
        action=Action.CADRE_USER_LINKED,
        obj=cadre,
        region_path=cadre.region.path,
        from_state=str(before or ""),
        to_state=str(user.pk),
        data={"username": user.username},
    )
    return cadre


@transaction.atomic
def cadre_login_create(*, cadre: Cadre, username: str, password: str, actor: Any = None) -> User:
    """A login for a cadre: ``village_cadre`` for a village cadre, else ``helper_cadre``.

    A village cadre sees their village; a helper cadre only the households paired
    with them (``permissions.HOUSEHOLD_SCOPED_ROLES``).
    """
    from fangpin.accounts.services import user_create

    require(actor, "pairing.import")
    if cadre.user_id is not None:
        raise PairingError(
            ERR_CADRE_HAS_LOGIN.format(cadre=cadre.name, user=cadre.user.username), field="cadre"
        )
    role = Role.VILLAGE_CADRE if cadre.level == Level.VILLAGE else Role.HELPER_CADRE
    user = user_create(
        username=username,
        password=password,
        role=role,
        region=cadre.region,
        full_name=cadre.name,
        actor=acting(actor),
    )
    cadre_user_link(cadre=cadre, user=user, actor=None if actor is None else actor)
    return user
