"""The refusals of pairing assistance: ``PairingError`` (a ``DomainError``) and its messages —
module constants the tests assert on, in English and Chinese — and the input checks every
write shares (text, dates, ``full_clean``, the actor's role and region).

``actor`` is the user acting; ``actor=None`` is the operator on the command line or the
synthetic generator (trusted, unscoped): the checks let it through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError

from fangpin.accounts import permissions
from fangpin.common.clock import today
from fangpin.common.errors import DomainError
from fangpin.registry.models import Household

# The "one-for-one" pairing of Handan's cadres began in February 2013 (the seed article):
# no pairing, visit or closure is dated before it.
FIRST_DATE = dt.date(2013, 1, 1)
MAX_TEXT = 2000

ERR_REQUIRED = "{field} is required (必填)"
ERR_TOO_LONG = "{field} is longer than {n} characters (内容过长)"
ERR_DATE = "{field} must be a date such as 2019-06-30 (日期格式错误)"
ERR_FUTURE_DATE = "{field} {date} is in the future (日期晚于今天)"
ERR_TOO_EARLY = "{field} {date} is before {first} (日期过早)"
ERR_LEVEL = "level must be one of city/county/township/village or 市/县/乡镇/村 (层级无效)"
ERR_PHONE = (
    "phone must be an 11-digit mobile number or a landline such as 0310-1234567 (电话号码格式错误)"
)
ERR_PHONE_TAKEN = "phone {phone} already belongs to cadre {cadre} (该电话已登记给其他干部)"
ERR_REGION_LEVEL = (
    "a {level}-level cadre serves at that level or below, not in a {region_level} "
    "(区划层级高于干部层级)"
)
ERR_REGION_SCOPE = "region {code} is outside your region (区划不在您的辖区内)"
ERR_UNKNOWN_HOUSEHOLD = "unknown household {household} (农户不存在)"
ERR_HOUSEHOLD_SCOPE = "household {household} is outside your region (农户不在您的辖区内)"
ERR_DUPLICATE_HOUSEHOLD = "household {household} is listed twice (同一户重复出现)"
ERR_UNKNOWN_CADRE = "unknown cadre {cadre} (干部不存在)"
ERR_CADRE_INACTIVE = "cadre {cadre} is no longer active (该干部已不在岗)"
ERR_CADRE_REGION = (
    "cadre {cadre} serves in {region}, which does not include household {household} "
    "(干部所在区划不包含该户)"
)
ERR_START_BEFORE_HISTORY = (
    "household {household} has a pairing until {date}; the new one cannot start before it "
    "(新结对开始日期早于已有结对)"
)
ERR_CONCURRENT = "another change to these pairings was saved at the same time; try again (结对已被他人修改，请重试)"
ERR_ALREADY_ENDED = "this pairing already ended on {date} (该结对已结束)"
ERR_END_BEFORE_START = "end date {end} is before the start {start} (结束日期早于开始日期)"
ERR_NOT_A_CADRE = (
    "your account is not linked to a cadre; choose the cadre who visited (账号未关联帮扶干部)"
)
ERR_OWN_VISITS_ONLY = "a cadre records their own visits only (干部只能登记本人的走访)"
ERR_MODE = "how must be in_person or phone (入户/电话) (走访方式无效)"
ERR_CATEGORY = "category must be one of: {choices} (问题类别无效)"
ERR_WAGE = "daily wage must be a number of yuan with at most two decimals, e.g. 75 (日工资格式错误)"
ERR_WAGE_NOT_POSITIVE = "daily wage must be more than zero (日工资必须大于零)"
ERR_WAGE_TOO_LARGE = "daily wage {wage} yuan is implausibly large (日工资过高)"
ERR_MEMBER_NOT_IN_HOUSEHOLD = (
    "the person placed is not a member of household {household} (不是该户成员)"
)
ERR_ALREADY_SOLVED = "this problem was already marked solved on {date} (问题已解决)"
ERR_SOLVED_BEFORE_FOUND = (
    "solved on {solved} is before the problem was found on {found} (解决日期早于发现日期)"
)
ERR_NOT_MONITORED = (
    "household {household} has no running pairing, so there is no follow-up to close "
    "(该户没有在帮的结对)"
)
ERR_CLOSE_BEFORE_PAIRING = (
    "closure date {date} is before the running pairing began on {start} (消除日期早于结对开始日期)"
)
ERR_RISK_CHECKS = "the risk cannot be closed: {failed} (不满足风险消除条件)"
ERR_USER_LINKED = "user {user} is already linked to cadre {cadre} (该账号已关联其他干部)"
ERR_CADRE_HAS_LOGIN = "cadre {cadre} already has a login ({user}) (该干部已有账号)"


class PairingError(DomainError):
    """Bad input to a pairing service: ``message`` says what, ``field`` which input."""


def acting(actor: Any) -> Any:
    """The actor to record (a saved user), or None for the operator or the generator."""
    return actor if getattr(actor, "pk", None) else None


def text_input(value: Any, field_name: str, n: int, *, required: bool = True) -> str:
    """``value`` as stripped text of at most ``n`` characters (and not empty if ``required``)."""
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise PairingError(ERR_REQUIRED.format(field=field_name), field=field_name)
    if len(text) > n:
        raise PairingError(ERR_TOO_LONG.format(field=field_name, n=n), field=field_name)
    return text


def check_date(value: Any, field_name: str, *, on: dt.date | None = None) -> dt.date:
    """A date not in the future (relative to ``on``, default today) and not before 2013."""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise PairingError(ERR_DATE.format(field=field_name), field=field_name) from None
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        raise PairingError(ERR_DATE.format(field=field_name), field=field_name)
    if value > (on or today()):
        raise PairingError(
            ERR_FUTURE_DATE.format(field=field_name, date=value.isoformat()), field=field_name
        )
    if value < FIRST_DATE:
        raise PairingError(
            ERR_TOO_EARLY.format(
                field=field_name, date=value.isoformat(), first=FIRST_DATE.isoformat()
            ),
            field=field_name,
        )
    return value


def require(actor: Any, action: str) -> None:
    """Refuse unless the actor's role may do ``action`` (``permissions.ACTIONS``)."""
    if actor is None:
        return
    reason = permissions.why_not(actor, action)
    if reason:
        raise PairingError(reason, field="actor")


def require_household(actor: Any, action: str, household: Household) -> None:
    """``require``, and refuse a household outside the actor's scope."""
    require(actor, action)
    if actor is not None and not permissions.may_see(actor, household):
        raise PairingError(
            ERR_HOUSEHOLD_SCOPE.format(household=household.household_no), field="household"
        )


def full_clean(obj: Any, *, exclude: Sequence[str] = (), batch: bool = False) -> None:
    """``full_clean`` with the message of the first field; for a batch, the field checks only
    (Django checks foreign keys and constraints with a query per row; the database
    enforces those for a batch anyway)."""
    try:
        obj.full_clean(
            exclude=list(exclude), validate_unique=not batch, validate_constraints=not batch
        )
    except ValidationError as exc:
        name, messages = next(iter(exc.message_dict.items()))
        raise PairingError(f"{name}: {' '.join(messages)}", field=name) from None
