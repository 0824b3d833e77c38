"""Writes to accounts: creating users with a role and a region."""

from __future__ import annotations

from django.db import transaction

from fangpin.common.audit import audit_record
from fangpin.regions.models import Region

from .models import Role, User


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    role: str,
    region: Region,
    full_name: str = "",
    is_staff: bool = False,
    actor: User | None = None,
) -> User:
    user = User(
        username=username,
        role=Role(role).value,
        region=region,
        first_name=full_name,
        is_staff=is_staff,
    )
    user.set_password(password)
    user.full_clean()
    user.save()
    audit_record(
        actor=actor,
        action="accounts.user.created",
        obj=user,
        region_path=region.path,
        data={"role": role, "region": region.code},
    )
    return user
