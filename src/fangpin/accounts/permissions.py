"""The one place that answers "may this user see / do this?".

Two questions, always asked together:

1. **Scope** — which part of the region tree may the user see? A user has one
   region node and sees its whole subtree (a township officer sees the
   township's villages; a county officer the county's townships and villages).
   A superuser with no region sees the city. Everything personal (households,
   members, incomes, cases, payments, visits, audit rows) is filtered by the
   region path of where it belongs.
2. **Action** — what may the user's role do there? ``ACTIONS`` maps each action
   to the roles allowed; ``can`` combines it with the scope of an object.

Views call ``require``/``can``; the API calls the same functions; selectors use
``scope_filter`` so lists are scoped by the database, not after the fact.

A role in ``HOUSEHOLD_SCOPED_ROLES`` (the helper cadre) sees a set of households
instead of a subtree; which ones is known to an app above this one (pairing), which
says so with ``household_scope_register`` in its ``AppConfig.ready``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from fangpin.common import clock
from fangpin.regions.models import Level, Region

from .models import Role

# the roles that work with households; a department data officer sends feeds and sees no
# household, so "every role" below means every role but theirs
ALL_ROLES = frozenset(r.value for r in Role) - {Role.DEPARTMENT_OFFICER}
OFFICERS = frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.TOWNSHIP_OFFICER})

# action -> roles that may perform it (inside their region scope)
ACTIONS: dict[str, frozenset[str]] = {
    "registry.view": ALL_ROLES,
    "registry.view_detail": ALL_ROLES,
    "registry.import": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER}),
    "registry.edit": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.TOWNSHIP_OFFICER}),
    # register one household not yet in the registry (the intake form's 新登记户 section)
    "registry.register": frozenset(
        {Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.TOWNSHIP_OFFICER, Role.VILLAGE_CADRE}
    ),
    "policy.view": ALL_ROLES,
    "policy.calculate": ALL_ROLES,
    "audit.view": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.AUDITOR}),
    "regions.view": ALL_ROLES,
    "funds.view": frozenset(
        {Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.INSURER_ADJUSTER, Role.AUDITOR}
    ),
    "funds.record_contribution": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER}),
    "funds.contract": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER}),
    "funds.pay": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.INSURER_ADJUSTER}),
    "funds.settle": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER}),
    # pairing assistance (结对帮扶)
    "pairing.view": ALL_ROLES - {Role.INSURER_ADJUSTER},
    "pairing.assign": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER}),
    "pairing.visit": frozenset(
        {
            Role.CITY_ADMIN,
            Role.COUNTY_OFFICER,
            Role.TOWNSHIP_OFFICER,
            Role.VILLAGE_CADRE,
            Role.HELPER_CADRE,
        }
    ),
    "pairing.close_risk": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER}),
    "pairing.import": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER}),
    "pairing.outcomes": frozenset(
        {Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.TOWNSHIP_OFFICER, Role.AUDITOR}
    ),
    # department feeds (部门数据) and screening warnings (筛查预警)
    # a department data officer only their department's kinds (feeds.schemas.SENT_BY)
    "feeds.view": frozenset(
        {Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.AUDITOR, Role.DEPARTMENT_OFFICER}
    ),
    "feeds.import": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.DEPARTMENT_OFFICER}),
    # background jobs: everyone sees their own; these roles see their region's, and may run a
    # failed one of their region again
    "jobs.view": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.AUDITOR}),
    "jobs.retry": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER}),
    "screening.run": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER}),
    # a village cadre sees their village's warnings: they are assigned to check them
    "screening.view": frozenset(
        {
            Role.CITY_ADMIN,
            Role.COUNTY_OFFICER,
            Role.TOWNSHIP_OFFICER,
            Role.VILLAGE_CADRE,
            Role.AUDITOR,
        }
    ),
    # who checks a warning at the household (screening.triage: new/checking → checking)
    "screening.assign": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.TOWNSHIP_OFFICER}),
    "screening.dismiss": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.TOWNSHIP_OFFICER}),
    # a household excluded by data comparison (信息比对) back to the work list, with a reason:
    # a county decision (POLICY.md, "Exclusions": overridable by a county officer)
    "screening.exclusion_override": frozenset({Role.COUNTY_OFFICER}),
    # the hit rates of the department feeds (fangpin.reports): counts and yuan, no household;
    # a department data officer sees only the rows of its own feeds
    "reports.hit_rates": frozenset(
        {Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.AUDITOR, Role.DEPARTMENT_OFFICER}
    ),
    # relief cases (救助案件): one action per workflow transition (fangpin.cases.workflow)
    "cases.view": ALL_ROLES - {Role.HELPER_CADRE},
    "cases.open": frozenset(
        {Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.TOWNSHIP_OFFICER, Role.VILLAGE_CADRE}
    ),
    "cases.open_warning": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.TOWNSHIP_OFFICER}),
    "cases.evidence": frozenset(
        {
            Role.CITY_ADMIN,
            Role.COUNTY_OFFICER,
            Role.TOWNSHIP_OFFICER,
            Role.VILLAGE_CADRE,
            Role.INSURER_ADJUSTER,
        }
    ),
    "cases.household_check": frozenset(
        {Role.TOWNSHIP_OFFICER, Role.VILLAGE_CADRE, Role.INSURER_ADJUSTER}
    ),
    "cases.data_compare": frozenset({Role.COUNTY_OFFICER, Role.TOWNSHIP_OFFICER}),
    "cases.exclusions_override": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER}),
    "cases.village_review": frozenset({Role.VILLAGE_CADRE, Role.TOWNSHIP_OFFICER}),
    "cases.objection": frozenset({Role.VILLAGE_CADRE, Role.TOWNSHIP_OFFICER}),
    "cases.notice_close": frozenset({Role.VILLAGE_CADRE, Role.TOWNSHIP_OFFICER}),
    "cases.township_review": frozenset({Role.TOWNSHIP_OFFICER}),
    "cases.county_decide": frozenset({Role.COUNTY_OFFICER}),
    "cases.loss_determine": frozenset({Role.INSURER_ADJUSTER}),
    "cases.payment_sync": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.INSURER_ADJUSTER}),
    "cases.follow_up": frozenset({Role.COUNTY_OFFICER, Role.TOWNSHIP_OFFICER}),
    "cases.reject": frozenset(
        {Role.COUNTY_OFFICER, Role.TOWNSHIP_OFFICER, Role.VILLAGE_CADRE, Role.INSURER_ADJUSTER}
    ),
    "cases.appeal": frozenset({Role.COUNTY_OFFICER, Role.TOWNSHIP_OFFICER}),
}

# Roles whose scope is a set of households, not a region subtree: a helper cadre
# (帮扶干部) sees only the households paired with them today. The households are read by
# what the app that pairs them registers (``household_scope_register``; pairing does it
# in ``PairingConfig.ready``); with nothing registered the role sees no household.
HOUSEHOLD_SCOPED_ROLES = frozenset({Role.HELPER_CADRE})

ERR_NOT_LOGGED_IN = "please log in (请先登录)"
ERR_NO_SCOPE = "your account has no region; ask an administrator (账号未分配辖区)"
ERR_ROLE = "your role may not do this (您的角色无权执行此操作): {action}"
ERR_OUT_OF_SCOPE = "outside your region (不在您的辖区内)"
ERR_UNKNOWN_ACTION = "unknown action {action!r}"
ERR_NOT_HOUSEHOLD_SCOPED = "role {role!r} is not in HOUSEHOLD_SCOPED_ROLES"


class HouseholdRows(Protocol):
    """A read of the households a user of a household-scoped role sees on a day: rows with
    a ``household_id`` (for the helper cadre, the pairings running that day with the
    user's cadre)."""

    def __call__(self, *, user: Any, on: dt.date) -> QuerySet: ...


_household_rows: dict[str, HouseholdRows] = {}


def household_scope_register(role: str, rows: HouseholdRows) -> None:
    """Say which households a user of ``role`` — one of ``HOUSEHOLD_SCOPED_ROLES`` — sees:
    ``rows(user=..., on=...)``. Called once from an ``AppConfig.ready``; registering the
    role again replaces its read."""
    if role not in HOUSEHOLD_SCOPED_ROLES:
        raise ValueError(ERR_NOT_HOUSEHOLD_SCOPED.format(role=role))
    _household_rows[role] = rows


def scope_path(user: Any) -> str | None:
    """The region path prefix the user may see: '' for everything, None for nothing."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.region_id is not None:
        return user.region.path
    if user.is_superuser:
        return ""
    return None


def scope_filter(user: Any, qs: QuerySet, path_field: str) -> QuerySet:
    """``qs`` narrowed to the user's subtree; ``path_field`` is the lookup of a region path.

    For a household-scoped role (helper cadre) the rows are those of the
    households paired with the user today; rows that do not belong to a
    household (regions, cadres, audit rows…) are not visible to them.
    """
    prefix = scope_path(user)
    if prefix is None:
        return qs.none()
    if is_household_scoped(user):
        lookup = _household_lookup(qs.model, path_field)
        ids = None if lookup is None else household_ids_in_scope(user)
        if ids is None:
            return qs.none()
        return qs.filter(**{f"{lookup}__in": ids})
    if prefix == "":
        return qs
    return qs.filter(**{f"{path_field}__startswith": prefix})


def regions_visible(user: Any, *, level: str | None = None) -> QuerySet[Region]:
    qs = scope_filter(user, Region.objects.all(), "path")
    return qs.filter(level=level) if level else qs


def visible_counties(user: Any) -> QuerySet[Region]:
    """Counties the user may see: their own county, or all in a city scope.

    A township or village user sees the county they belong to (for its policy
    parameters), not its other townships.
    """
    prefix = scope_path(user)
    if prefix is None:
        return Region.objects.none()
    county_codes = [c for c in prefix.strip("/").split("/") if c]
    below = Region.objects.filter(level=Level.COUNTY, path__startswith=prefix)
    above = Region.objects.filter(level=Level.COUNTY, code__in=county_codes)
    return (below | above).distinct().order_by("code")


def is_household_scoped(user: Any) -> bool:
    if getattr(user, "is_superuser", False):
        return False
    return getattr(user, "role", "") in HOUSEHOLD_SCOPED_ROLES


def household_ids_in_scope(user: Any, *, on: dt.date | None = None) -> QuerySet | None:
    """Ids (``household_id``) of the households a household-scoped user sees on ``on``
    (default today), as the read registered for their role gives them; None when no read
    is registered for the role."""
    rows = _household_rows.get(getattr(user, "role", ""))
    if rows is None:
        return None
    return rows(user=user, on=on or clock.today()).values("household_id")


def _household_lookup(model: Any, path_field: str) -> str | None:
    """How ``model`` reaches its household: "pk" for a household, else ``…household``."""
    if model._meta.label_lower == "registry.household":
        return "pk"
    suffix = "__village__path"
    if path_field.endswith("household" + suffix):
        return path_field[: -len(suffix)]
    return None


def _household_id_of(obj: Any) -> int | None:
    if getattr(obj, "_meta", None) is not None and obj._meta.label_lower == "registry.household":
        return obj.pk
    return getattr(obj, "household_id", None)


def may_see(user: Any, obj: Any) -> bool:
    """Whether ``obj`` lies in the user's scope (region subtree, or paired households)."""
    if is_household_scoped(user):
        household_id = _household_id_of(obj)
        ids = household_ids_in_scope(user)
        return (
            household_id is not None
            and scope_path(user) is not None
            and ids is not None
            and ids.filter(household_id=household_id).exists()
        )
    return may_see_path(user, region_path_of(obj))


def may_see_path(user: Any, region_path: str) -> bool:
    prefix = scope_path(user)
    return prefix is not None and region_path.startswith(prefix)


def role_allows(user: Any, action: str) -> bool:
    if action not in ACTIONS:
        raise ValueError(ERR_UNKNOWN_ACTION.format(action=action))
    if getattr(user, "is_superuser", False) and user.is_active:
        return True
    return getattr(user, "role", "") in ACTIONS[action]


def why_not(user: Any, action: str, obj: Any = None) -> str | None:
    """``None`` if the user may perform ``action`` (on ``obj``), else the reason."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ERR_NOT_LOGGED_IN
    if scope_path(user) is None:
        return ERR_NO_SCOPE
    if not role_allows(user, action):
        return ERR_ROLE.format(action=action)
    if obj is not None and not may_see(user, obj):
        return ERR_OUT_OF_SCOPE
    return None


def can(user: Any, action: str, obj: Any = None) -> bool:
    return why_not(user, action, obj) is None


def require(user: Any, action: str, obj: Any = None) -> None:
    """Raise ``PermissionDenied`` with a readable reason unless ``can``."""
    reason = why_not(user, action, obj)
    if reason is not None:
        raise PermissionDenied(reason)


def import_access(actor: Any, action: str = "") -> Any:
    """Who imports a file (``common.pipeline.Access``): the operator on the command line
    (``actor`` None) everywhere; a user within their region, refused whole unless they may
    ``action``."""
    from fangpin.common.pipeline import Access  # polars: loaded by imports, not at start-up

    if actor is None:
        return Access()
    return Access(
        actor=actor,
        scope=scope_path(actor),
        refusal=(why_not(actor, action) or "") if action else "",
    )


def region_path_of(obj: Any) -> str:
    """The region path an object belongs to (Region, or anything with ``region_path``)."""
    if isinstance(obj, Region):
        return obj.path
    path = getattr(obj, "region_path", None)
    if path is None:
        raise TypeError(f"{type(obj).__name__} has no region_path")
    return path
