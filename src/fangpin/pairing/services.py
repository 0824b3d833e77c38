"""Writes to pairing assistance (结对帮扶): cadres, pairings, visits, problems, risk closure.

Every function is keyword-only, runs in one database transaction and writes its
``AuditEvent`` in it. Bad input raises ``PairingError`` with one of the ``ERR_*``
messages below (English and Chinese) and the field it is about; nothing is
written then. ``actor`` is the user acting: their role and region scope are
checked through ``fangpin.accounts.permissions``; ``actor=None`` is the operator
on the command line or the synthetic generator (trusted, unscoped).

The file import of cadres is ``importer.cadre_import``; the rules it shares with
``cadre_create`` (levels, phone numbers, where a cadre may serve) live here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from fangpin.accounts import permissions
from fangpin.accounts.models import Role, User
from fangpin.common.audit import audit_record, audit_record_many
from fangpin.common.errors import DomainError
from fangpin.common.models import AuditEvent
from fangpin.common.money import Money
from fangpin.regions.models import LEVEL_ORDER, Level, Region
from fangpin.registry.models import Household

from .models import (
    Cadre,
    EmploymentPlacement,
    Pairing,
    Problem,
    ProblemCategory,
    RiskClosure,
    Visit,
    VisitMode,
)

# The "one-for-one" pairing of Handan's cadres began in February 2013 (the seed article):
# no pairing, visit or closure is dated before it.
FIRST_DATE = dt.date(2013, 1, 1)
MAX_TEXT = 2000
CHUNK = 5000  # ids per query in bulk work

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
ERR_UNKNOWN_REGION = "unknown region code {code} (区划代码不存在)"
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
ERR_REASON_REQUIRED = "give a reason (请填写理由)"
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

MAX_DAILY_WAGE = Money(10_000)  # more than this a day is a typing error, not a village job
REASON_REASSIGNED = "reassigned (改派)"
REASON_RISK_CLOSED = "risk eliminated (风险消除)"


class PairingError(DomainError):
    """Bad input to a pairing service: ``message`` says what, ``field`` which input."""


# --- small checks ---------------------------------------------------------------------------


def today() -> dt.date:
    return timezone.localdate()


def _actor(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def _text(value: Any, field_name: str, n: int, *, required: bool = True) -> str:
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


def level_code(value: Any) -> str | None:
    """A cadre level as written in a file (city, 县级, 乡镇…) -> ``Level`` value, or None."""
    return LEVEL_ALIASES.get(str(value or "").strip().lower())


def serves_at(level: str, region_level: str) -> bool:
    """A cadre serves at the level of their post or below (a county cadre stationed in a village)."""
    return LEVEL_ORDER.index(Level(region_level)) >= LEVEL_ORDER.index(Level(level))


def _require(actor: Any, action: str) -> None:
    if actor is None:
        return
    reason = permissions.why_not(actor, action)
    if reason:
        raise PairingError(reason, field="actor")


def _require_household(actor: Any, action: str, household: Household) -> None:
    _require(actor, action)
    if actor is not None and not permissions.may_see(actor, household):
        raise PairingError(
            ERR_HOUSEHOLD_SCOPE.format(household=household.household_no), field="household"
        )


def _covers(cadre: Cadre, household: Household) -> bool:
    return household.village.path.startswith(cadre.region.path)


def _check_cadre_for(cadre: Cadre, household: Household) -> None:
    if not cadre.active:
        raise PairingError(ERR_CADRE_INACTIVE.format(cadre=cadre.name), field="cadre")
    if not _covers(cadre, household):
        raise PairingError(
            ERR_CADRE_REGION.format(
                cadre=cadre.name, region=cadre.region.name, household=household.household_no
            ),
            field="cadre",
        )


def _chunked(ids: Sequence[int], read: Callable[[Sequence[int]], Iterable[Any]]) -> list[Any]:
    """``read`` over ``ids`` a chunk at a time: one query per 5,000 ids, whatever their number
    (SQLite bounds the parameters of one statement)."""
    out: list[Any] = []
    for i in range(0, len(ids), CHUNK):
        out.extend(read(ids[i : i + CHUNK]))
    return out


def _clean(obj: Any, *, exclude: Sequence[str] = (), batch: bool = False) -> None:
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


# --- cadres ---------------------------------------------------------------------------------


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
    _require(actor, "pairing.import")
    if actor is not None and not permissions.may_see_path(actor, region.path):
        raise PairingError(ERR_REGION_SCOPE.format(code=region.code), field="region")
    code = level_code(level)
    if code is None:
        raise PairingError(ERR_LEVEL, field="level")
    if not serves_at(code, region.level):
        raise PairingError(
            ERR_REGION_LEVEL.format(level=code, region_level=region.level), field="region"
        )
    phone = _text(phone, "phone", 16)
    if not PHONE.match(phone):
        raise PairingError(ERR_PHONE, field="phone")
    holder = Cadre.objects.filter(phone=phone).first()
    if holder is not None:
        raise PairingError(ERR_PHONE_TAKEN.format(phone=phone, cadre=holder.name), field="phone")
    cadre = Cadre(
        name=_text(name, "name", 64),
        work_unit=_text(work_unit, "work_unit", 128),
        level=code,
        phone=phone,
        region=region,
    )
    _clean(cadre)
    cadre.save()
    audit_record(
        actor=_actor(actor),
        action="pairing.cadre.created",
        obj=cadre,
        region_path=region.path,
        data={"name": cadre.name, "level": code, "work_unit": cadre.work_unit},
    )
    return cadre


@transaction.atomic
def cadre_user_link(*, cadre: Cadre, user: User, actor: Any = None) -> Cadre:
    """Let ``user`` act as ``cadre`` (their visits, their households first)."""
    _require(actor, "pairing.import")
    other = Cadre.objects.filter(user=user).exclude(pk=cadre.pk).first()
    if other is not None:
        raise PairingError(
            ERR_USER_LINKED.format(user=user.username, cadre=other.name), field="user"
        )
    before = cadre.user_id
    cadre.user = user
    cadre.save(update_fields=["user", "updated_at"])
    audit_record(
        actor=_actor(actor),
        action="pairing.cadre.user_linked",
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

    _require(actor, "pairing.import")
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
        actor=_actor(actor),
    )
    cadre_user_link(cadre=cadre, user=user, actor=None if actor is None else actor)
    return user


# --- pairings -------------------------------------------------------------------------------


@dataclass
class AssignResult:
    """What a (bulk) assignment did: pairings started, running ones ended, ones left as they were."""

    created: list[Pairing] = field(default_factory=list)
    ended: int = 0
    unchanged: int = 0


@transaction.atomic
def pairing_assign_bulk(
    *,
    assignments: Sequence[tuple[int, int]],
    start_date: dt.date | None = None,
    reason: str = "",
    actor: Any,
) -> AssignResult:
    """Pair each ``(household id, cadre id)``, from ``start_date`` (default today).

    Set-based: five reads, one UPDATE ending the running pairings being replaced,
    one bulk INSERT, one bulk INSERT of audit rows — whatever the number of
    households (per 5,000 households for the reads and the UPDATE). A household already paired with that cadre is left unchanged; a
    household paired with another cadre has that pairing ended on ``start_date``
    (reason: ``reason`` or "reassigned") and a new one started. Every household
    must lie in the actor's region and inside the cadre's region; the cadre must
    be active; the new pairing may not start before the household's last
    pairing ended. On any problem nothing is written.
    """
    _require(actor, "pairing.assign")
    start = check_date(start_date or today(), "start_date")
    reason = _text(reason, "reason", 255, required=False)
    household_ids = [int(h) for h, _ in assignments]
    seen: set[int] = set()
    for hid in household_ids:
        if hid in seen:
            raise PairingError(ERR_DUPLICATE_HOUSEHOLD.format(household=hid), field="household")
        seen.add(hid)
    if not household_ids:
        return AssignResult()

    households = {
        h.pk: h
        for h in _chunked(
            household_ids,
            lambda ids: Household.objects.select_related("village").filter(pk__in=ids),
        )
    }
    cadres = {
        c.pk: c
        for c in _chunked(
            sorted({int(c) for _, c in assignments}),
            lambda ids: Cadre.objects.select_related("region").filter(pk__in=ids),
        )
    }
    if actor is not None:
        visible = set(
            _chunked(
                household_ids,
                lambda ids: permissions.scope_filter(
                    actor, Household.objects.filter(pk__in=ids), "village__path"
                ).values_list("pk", flat=True),
            )
        )
    for hid, cid in assignments:
        household = households.get(int(hid))
        if household is None:
            raise PairingError(ERR_UNKNOWN_HOUSEHOLD.format(household=hid), field="household")
        if actor is not None and household.pk not in visible:
            raise PairingError(
                ERR_HOUSEHOLD_SCOPE.format(household=household.household_no), field="household"
            )
        cadre = cadres.get(int(cid))
        if cadre is None:
            raise PairingError(ERR_UNKNOWN_CADRE.format(cadre=cid), field="cadre")
        _check_cadre_for(cadre, household)

    # history: the running pairing of each household, and the latest end date of ended ones
    running = {
        p.household_id: p
        for p in _chunked(
            household_ids,
            lambda ids: Pairing.objects.filter(household_id__in=ids, end_date__isnull=True),
        )
    }
    last_end: dict[int, dt.date] = {}
    for hid, end in _chunked(
        household_ids,
        lambda ids: Pairing.objects.filter(
            household_id__in=ids, end_date__isnull=False
        ).values_list("household_id", "end_date"),
    ):
        last_end[hid] = max(end, last_end.get(hid, end))

    result = AssignResult()
    to_end: list[Pairing] = []
    new: list[Pairing] = []
    actor_id = getattr(_actor(actor), "pk", None)
    for hid, cid in assignments:
        household, cadre = households[int(hid)], cadres[int(cid)]
        current = running.get(household.pk)
        if current is not None and current.cadre_id == cadre.pk:
            result.unchanged += 1
            continue
        floor = max(
            [d for d in (last_end.get(household.pk), current and current.start_date) if d],
            default=None,
        )
        if floor is not None and start < floor:
            raise PairingError(
                ERR_START_BEFORE_HISTORY.format(
                    household=household.household_no, date=floor.isoformat()
                ),
                field="start_date",
            )
        if current is not None:
            to_end.append(current)
        pairing = Pairing(
            household=household, cadre=cadre, start_date=start, created_by_id=actor_id
        )
        # foreign keys were checked above in one read each; full_clean would query per row
        _clean(pairing, exclude=["household", "cadre", "created_by"], batch=True)
        new.append(pairing)

    end_reason = reason or REASON_REASSIGNED
    try:
        with transaction.atomic():
            ending = [p.pk for p in to_end]
            for i in range(0, len(ending), CHUNK):
                Pairing.objects.filter(pk__in=ending[i : i + CHUNK], end_date__isnull=True).update(
                    end_date=start, end_reason=end_reason
                )
            result.created = Pairing.objects.bulk_create(new, batch_size=2000)
    except IntegrityError:
        raise PairingError(ERR_CONCURRENT, field="household") from None
    result.ended = len(to_end)

    events = [
        AuditEvent(
            actor_id=actor_id,
            action="pairing.pairing.ended",
            object_type="pairing.pairing",
            object_id=str(p.pk),
            region_path=households[p.household_id].village.path,
            from_state="running",
            to_state="ended",
            reason=end_reason,
            data={"end_date": start.isoformat(), "cadre": p.cadre_id},
        )
        for p in to_end
    ]
    previous = {p.household_id: p.cadre_id for p in to_end}
    events += [
        AuditEvent(
            actor_id=actor_id,
            action="pairing.pairing.started",
            object_type="pairing.pairing",
            object_id=str(p.pk),
            region_path=households[p.household_id].village.path,
            from_state=str(previous.get(p.household_id, "")),
            to_state=str(p.cadre_id),
            reason=reason,
            data={
                "household": households[p.household_id].household_no,
                "cadre": cadres[p.cadre_id].name,
                "start_date": start.isoformat(),
            },
        )
        for p in result.created
    ]
    audit_record_many(events)
    return result


def pairing_assign(
    *,
    household: Household,
    cadre: Cadre,
    start_date: dt.date | None = None,
    reason: str = "",
    actor: Any,
) -> Pairing:
    """Pair one household with one cadre (see ``pairing_assign_bulk``); the running pairing."""
    result = pairing_assign_bulk(
        assignments=[(household.pk, cadre.pk)], start_date=start_date, reason=reason, actor=actor
    )
    if result.created:
        return result.created[0]
    return Pairing.objects.get(household=household, end_date__isnull=True)


@transaction.atomic
def pairing_end(
    *, pairing: Pairing, end_date: dt.date | None = None, reason: str, actor: Any
) -> Pairing:
    """End a running pairing without a successor (the cadre left, the household moved away)."""
    _require_household(actor, "pairing.assign", pairing.household)
    reason = _text(reason, "reason", 255)
    end = check_date(end_date or today(), "end_date")
    pairing = Pairing.objects.select_for_update().get(pk=pairing.pk)
    if pairing.end_date is not None:
        raise PairingError(
            ERR_ALREADY_ENDED.format(date=pairing.end_date.isoformat()), field="pairing"
        )
    if end < pairing.start_date:
        raise PairingError(
            ERR_END_BEFORE_START.format(end=end.isoformat(), start=pairing.start_date.isoformat()),
            field="end_date",
        )
    pairing.end_date = end
    pairing.end_reason = reason
    _clean(pairing)
    pairing.save(update_fields=["end_date", "end_reason"])
    audit_record(
        actor=_actor(actor),
        action="pairing.pairing.ended",
        obj=pairing,
        region_path=pairing.household.village.path,
        from_state="running",
        to_state="ended",
        reason=reason,
        data={"end_date": end.isoformat(), "cadre": pairing.cadre_id},
    )
    return pairing


# --- visits, problems, employment help ------------------------------------------------------


@dataclass(frozen=True)
class ProblemIn:
    """A problem found on a visit: its category (``ProblemCategory``) and what it is."""

    category: str
    description: str


@dataclass(frozen=True)
class PlacementIn:
    """Employment help recorded on a visit: who, where, which job, at what daily wage."""

    member_id: int | None
    employer: str
    job: str
    daily_wage: Any  # yuan: Decimal, int or a decimal string; never a float
    started_on: dt.date | None = None  # default: the visit's date


def _wage(value: Any) -> Money:
    try:
        wage = Money(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise PairingError(ERR_WAGE, field="daily_wage") from None
    if wage.fen <= 0:
        raise PairingError(ERR_WAGE_NOT_POSITIVE, field="daily_wage")
    if wage > MAX_DAILY_WAGE:
        raise PairingError(ERR_WAGE_TOO_LARGE.format(wage=wage), field="daily_wage")
    return wage


def cadre_of(user: Any) -> Cadre | None:
    """The cadre record a user acts as, if any."""
    if not getattr(user, "pk", None):
        return None
    return Cadre.objects.select_related("region").filter(user_id=user.pk).first()


@transaction.atomic
def visit_record(
    *,
    household: Household,
    visited_on: dt.date,
    mode: str,
    met: str,
    findings: str = "",
    help_given: str = "",
    problems: Sequence[ProblemIn] = (),
    placements: Sequence[PlacementIn] = (),
    cadre: Cadre | None = None,
    actor: Any,
) -> Visit:
    """Record a cadre's visit with the problems found and the employment help given.

    The cadre is the actor's own cadre record unless an officer records a visit
    for another cadre (a village or helper cadre records only their own). The
    cadre must be active and serve in a region that includes the household; the
    date may not be in the future. Everything is checked before anything is
    written.
    """
    _require_household(actor, "pairing.visit", household)
    own = cadre_of(actor)
    if cadre is None:
        cadre = own
        if cadre is None:
            raise PairingError(ERR_NOT_A_CADRE, field="cadre")
    elif (
        actor is not None
        and actor.role in (Role.VILLAGE_CADRE, Role.HELPER_CADRE)
        and (own is None or own.pk != cadre.pk)
    ):
        raise PairingError(ERR_OWN_VISITS_ONLY, field="cadre")
    _check_cadre_for(cadre, household)
    visited_on = check_date(visited_on, "visited_on")
    if mode not in VisitMode.values:
        raise PairingError(ERR_MODE, field="mode")
    visit = Visit(
        household=household,
        cadre=cadre,
        visited_on=visited_on,
        mode=mode,
        met=_text(met, "met", 64),
        findings=_text(findings, "findings", MAX_TEXT, required=False),
        help_given=_text(help_given, "help_given", MAX_TEXT, required=False),
        recorded_by=_actor(actor),
    )
    found: list[Problem] = []
    for p in problems:
        if p.category not in ProblemCategory.values:
            raise PairingError(
                ERR_CATEGORY.format(choices=", ".join(ProblemCategory.values)), field="category"
            )
        found.append(
            Problem(
                household=household,
                category=p.category,
                description=_text(p.description, "description", 255),
                found_on=visited_on,
            )
        )
    members = {m.pk: m for m in household.members.all()}
    placed: list[EmploymentPlacement] = []
    for p in placements:
        try:
            member = members.get(int(p.member_id)) if p.member_id not in (None, "") else None
        except (TypeError, ValueError):
            member = None
        if member is None:
            raise PairingError(
                ERR_MEMBER_NOT_IN_HOUSEHOLD.format(household=household.household_no),
                field="member",
            )
        started = check_date(p.started_on or visited_on, "started_on")
        placed.append(
            EmploymentPlacement(
                household=household,
                member=member,
                person_name=member.name,
                employer=_text(p.employer, "employer", 128),
                job=_text(p.job, "job", 64),
                daily_wage=_wage(p.daily_wage),
                started_on=started,
            )
        )

    _clean(visit)
    visit.save()
    for row in (*found, *placed):
        row.visit = visit
        _clean(row)
        row.save()
    path = household.village.path
    actor_id = getattr(_actor(actor), "pk", None)
    events = [
        AuditEvent(
            actor_id=actor_id,
            action="pairing.visit.recorded",
            object_type="pairing.visit",
            object_id=str(visit.pk),
            region_path=path,
            data={
                "household": household.household_no,
                "cadre": cadre.name,
                "visited_on": visited_on.isoformat(),
                "mode": mode,
                "problems": len(found),
                "placements": len(placed),
            },
        )
    ]
    events += [
        AuditEvent(
            actor_id=actor_id,
            action="pairing.problem.found",
            object_type="pairing.problem",
            object_id=str(p.pk),
            region_path=path,
            to_state="open",
            data={"category": p.category, "visit": visit.pk},
        )
        for p in found
    ]
    events += [
        AuditEvent(
            actor_id=actor_id,
            action="pairing.placement.recorded",
            object_type="pairing.employmentplacement",
            object_id=str(p.pk),
            region_path=path,
            data={
                "person": p.person_name,
                "employer": p.employer,
                "job": p.job,
                "daily_wage": str(p.daily_wage),
                "visit": visit.pk,
            },
        )
        for p in placed
    ]
    audit_record_many(events)
    return visit


@transaction.atomic
def problem_solve(
    *, problem: Problem, solution: str, solved_on: dt.date | None = None, actor: Any
) -> Problem:
    """Mark a problem solved, with how (解决办法) and when."""
    _require_household(actor, "pairing.visit", problem.household)
    problem = Problem.objects.select_for_update().get(pk=problem.pk)
    if problem.solved_on is not None:
        raise PairingError(
            ERR_ALREADY_SOLVED.format(date=problem.solved_on.isoformat()), field="problem"
        )
    solution = _text(solution, "solution", 255)
    solved = check_date(solved_on or today(), "solved_on")
    if solved < problem.found_on:
        raise PairingError(
            ERR_SOLVED_BEFORE_FOUND.format(
                solved=solved.isoformat(), found=problem.found_on.isoformat()
            ),
            field="solved_on",
        )
    problem.solved_on = solved
    problem.solution = solution
    problem.solved_by = _actor(actor)
    _clean(problem)
    problem.save(update_fields=["solved_on", "solution", "solved_by"])
    audit_record(
        actor=_actor(actor),
        action="pairing.problem.solved",
        obj=problem,
        region_path=problem.household.village.path,
        from_state="open",
        to_state="solved",
        reason=solution,
        data={"category": problem.category, "solved_on": solved.isoformat()},
    )
    return problem


# --- risk elimination (风险消除) --------------------------------------------------------------


@transaction.atomic
def risk_close(
    *, household: Household, reason: str, closed_on: dt.date | None = None, actor: Any
) -> RiskClosure:
    """Close a helped household's monitoring: its risk is eliminated (风险消除).

    Only when every check of ``selectors.risk_checks`` passes on ``closed_on``
    (income above the line for six months on record, no open problem, a help
    measure recorded, someone able to work); the checks as shown are kept on the
    closure. The household's running pairing ends that day (its follow-up is
    over); the pairing rule no longer lists the household for relief paid before
    the closure.
    """
    from .selectors import risk_checks

    _require_household(actor, "pairing.close_risk", household)
    reason = _text(reason, "reason", MAX_TEXT)
    closed = check_date(closed_on or today(), "closed_on")
    running = (
        Pairing.objects.select_for_update()
        .filter(household=household, end_date__isnull=True)
        .first()
    )
    if running is None:
        raise PairingError(
            ERR_NOT_MONITORED.format(household=household.household_no), field="household"
        )
    if closed < running.start_date:
        raise PairingError(
            ERR_CLOSE_BEFORE_PAIRING.format(
                date=closed.isoformat(), start=running.start_date.isoformat()
            ),
            field="closed_on",
        )
    checks = risk_checks(household=household, on=closed)
    if not checks.ok:
        failed = "; ".join(f"{c.label}: {c.detail}" for c in checks.checks if not c.passed)
        raise PairingError(ERR_RISK_CHECKS.format(failed=failed), field="checks")
    closure = RiskClosure(
        household=household,
        closed_on=closed,
        reason=reason,
        checks=[asdict(c) for c in checks.checks],
        closed_by=_actor(actor),
    )
    _clean(closure)
    closure.save()
    running.end_date = closed
    running.end_reason = REASON_RISK_CLOSED
    running.save(update_fields=["end_date", "end_reason"])
    path = household.village.path
    audit_record(
        actor=_actor(actor),
        action="pairing.risk.closed",
        obj=closure,
        region_path=path,
        from_state="monitored",
        to_state="closed",
        reason=reason,
        data={"household": household.household_no, "closed_on": closed.isoformat()},
    )
    audit_record(
        actor=_actor(actor),
        action="pairing.pairing.ended",
        obj=running,
        region_path=path,
        from_state="running",
        to_state="ended",
        reason=REASON_RISK_CLOSED,
        data={"end_date": closed.isoformat(), "cadre": running.cadre_id},
    )
    return closure


# --- synthetic data -------------------------------------------------------------------------


@transaction.atomic
def pairing_data_purge(*, county: Region) -> int:
    """Delete every pairing row of ``county`` — for synthetic data only (``synth --replace``).

    Returns the number of cadres removed.
    """
    in_county = {"household__village__path__startswith": county.path}
    EmploymentPlacement.objects.filter(**in_county).delete()
    Problem.objects.filter(**in_county).delete()
    Visit.objects.filter(**in_county).delete()
    RiskClosure.objects.filter(**in_county).delete()
    Pairing.objects.filter(**in_county).delete()
    Pairing.objects.filter(cadre__region__path__startswith=county.path).delete()
    n, _ = Cadre.objects.filter(region__path__startswith=county.path).delete()
    return n
