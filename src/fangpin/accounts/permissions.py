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
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from fangpin.regions.models import Level, Region

from .models import Role

ALL_ROLES = frozenset(r.value for r in Role)
OFFICERS = frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.TOWNSHIP_OFFICER})

# action -> roles that may perform it (inside their region scope)
ACTIONS: dict[str, frozenset[str]] = {
    "registry.view": ALL_ROLES,
    "registry.view_detail": ALL_ROLES,
    "registry.import": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER}),
    "registry.edit": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.TOWNSHIP_OFFICER}),
    "policy.view": ALL_ROLES,
    "policy.calculate": ALL_ROLES,
    "audit.view": frozenset({Role.CITY_ADMIN, Role.COUNTY_OFFICER, Role.AUDITOR}),
    "regions.view": ALL_ROLES,
}

ERR_NOT_LOGGED_IN = "please log in (请先登录)"
ERR_NO_SCOPE = "your account has no region; ask an administrator (账号未分配辖区)"
ERR_ROLE = "your role may not do this (您的角色无权执行此操作): {action}"
ERR_OUT_OF_SCOPE = "outside your region (不在您的辖区内)"
ERR_UNKNOWN_ACTION = "unknown action {action!r}"


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
    """``qs`` narrowed to the user's subtree; ``path_field`` is the lookup of a region path."""
    prefix = scope_path(user)
    if prefix is None:
        return qs.none()
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
    if obj is not None and not may_see_path(user, region_path_of(obj)):
        return ERR_OUT_OF_SCOPE
    return None


def can(user: Any, action: str, obj: Any = None) -> bool:
    return why_not(user, action, obj) is None


def require(user: Any, action: str, obj: Any = None) -> None:
    """Raise ``PermissionDenied`` with a readable reason unless ``can``."""
    reason = why_not(user, action, obj)
    if reason is not None:
        raise PermissionDenied(reason)


def region_path_of(obj: Any) -> str:
    """The region path an object belongs to (Region, or anything with ``region_path``)."""
    if isinstance(obj, Region):
        return obj.path
    path = getattr(obj, "region_path", None)
    if path is None:
        raise TypeError(f"{type(obj).__name__} has no region_path")
    return path
