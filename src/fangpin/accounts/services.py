"""Writes to accounts: creating users with a role and a region; issuing and revoking API
tokens (docs/SECURITY.md "Tokens"). A new password or a deactivation revokes a user's tokens
in ``User.save``, the one place every path goes through."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from fangpin.common.audit import Action, audit_record
from fangpin.common.errors import DomainError
from fangpin.regions.models import Region

from .models import ApiToken, Role, User

TOKEN_MAX_DAYS = 3650
ERR_DAYS = "a token lasts from 1 to {max} days, not {days} (有效天数无效)"
ERR_NAME = "a token name has at most 64 characters (名称过长)"
ERR_USER_INACTIVE = "user {username!r} is inactive (用户已停用)"
ERR_NOT_FOUND = "no API token {token_id} (令牌不存在)"
ERR_ALREADY_REVOKED = "API token {token_id} is already revoked (令牌已撤销)"
REVOKED_BY_OWNER = "revoked by its owner"
REVOKED_BY_COMMAND = "revoked with fangpin apitoken --revoke"


class AccountError(DomainError):
    """Bad input to an accounts service: ``message`` says what, ``field`` which input."""


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    role: str,
    region: Region,
    full_name: str = "",
    is_staff: bool = False,
    department: str = "",
    actor: User | None = None,
) -> User:
    """A user of ``role`` in ``region``; a department data officer names their
    ``department`` (``models.Department``), no one else has one."""
    user = User(
        username=username,
        role=Role(role).value,
        region=region,
        department=department,
        first_name=full_name,
        is_staff=is_staff,
    )
    user.set_password(password)
    user.full_clean()
    user.save()
    audit_record(
        actor=actor,
        action=Action.USER_CREATED,
        obj=user,
        region_path=region.path,
        data={
            "role": role,
            "region": region.code,
            **({"department": department} if department else {}),
        },
    )
    return user


@transaction.atomic
def api_token_issue(
    *, user: User, name: str = "", days: int | None = None, actor: User | None = None
) -> tuple[ApiToken, str]:
    """Issue ``user`` a token lasting ``days`` (``FANGPIN_API_TOKEN_DAYS``) with an audit
    row; the clear key is returned once, only its digest is stored."""
    days = settings.FANGPIN_API_TOKEN_DAYS if days is None else days
    if not 1 <= days <= TOKEN_MAX_DAYS:
        raise AccountError(ERR_DAYS.format(max=TOKEN_MAX_DAYS, days=days), field="days")
    name = name.strip()
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise AccountError(ERR_NAME, field="name")
    if not user.is_active:
        raise AccountError(ERR_USER_INACTIVE.format(username=user.username), field="user")
    token, key = ApiToken.issue(user=user, name=name, days=days)
    audit_record(
        actor=actor,
        action=Action.TOKEN_ISSUED,
        obj=token,
        region_path=user.region.path if user.region else "",
        data={
            "user": user.username,
            "name": token.name,
            "expires": token.expires_at.isoformat(),
        },
    )
    return token, key


@transaction.atomic
def api_token_revoke(
    *, token_id: int, actor: User | None, owner: User | None = None, reason: str
) -> ApiToken:
    """Revoke token ``token_id`` with an audit row. With ``owner``, only a token of theirs:
    another user's token is not found, the same answer as a token that does not exist."""
    tokens = ApiToken.objects.filter(pk=token_id)
    if owner is not None:
        tokens = tokens.filter(user=owner)
    token = tokens.first()
    if token is None:
        raise AccountError(ERR_NOT_FOUND.format(token_id=token_id), field="token")
    revoked = tokens.revoke(actor=actor, reason=reason)
    if not revoked:
        raise AccountError(ERR_ALREADY_REVOKED.format(token_id=token_id), field="token")
    return revoked[0]
