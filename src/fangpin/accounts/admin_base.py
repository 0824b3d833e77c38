"""Django admin bases that keep the admin inside the staff member's region, like every view.

- ``AuditedAdmin``: every addition, change and deletion made in the admin writes an audit
  row (``admin.<app>.<model>.added|changed|deleted``) in the same transaction.
- ``SuperuserEditsAdmin``: global settings (regions, holidays, users' roles and flags) —
  anyone with the model permission may look, only a superuser changes them.
- ``ScopedAdmin``: lists and opens only the rows of the user's region; a foreign key offers
  (and accepts) only rows the user may see; a save that would move a row out of the
  user's region is refused (403) and rolled back.
- ``ScopedReadOnlyAdmin``: records that change only through their services.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied

from fangpin.common.audit import admin_action, audit_record

from . import permissions


def _path_of(obj: Any, lookup: str) -> str:
    """Follow ``lookup`` (``village__path``) from ``obj``; "" where it leads nowhere."""
    value = obj
    for part in lookup.split("__"):
        value = getattr(value, part, None)
        if value is None:
            return ""
    return str(value)


class AuditedAdmin(admin.ModelAdmin):
    region_path_field = ""

    def _audit(self, request: Any, obj: Any, what: str, message: Any = "") -> None:
        audit_record(
            actor=request.user,
            action=admin_action(obj._meta.label_lower, what),
            obj=obj,
            region_path=_path_of(obj, self.region_path_field) if self.region_path_field else "",
            data={"change": str(message)[:2000]} if message else {},
        )

    def log_addition(self, request, obj, message):
        self._audit(request, obj, "added", message)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._audit(request, obj, "changed", message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            self._audit(request, obj, "deleted")
        return super().log_deletions(request, queryset)


class SuperuserEditsAdmin(AuditedAdmin):
    """Global settings: only a superuser adds, changes or deletes."""

    def has_add_permission(self, request, *args):
        return request.user.is_superuser and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)


class ScopedAdmin(AuditedAdmin):
    """Lists and opens only rows whose ``region_path_field`` lies in the user's region."""

    region_path_field = "region_path"

    def get_queryset(self, request):
        return permissions.scope_filter(
            request.user, super().get_queryset(request), self.region_path_field
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # a related model whose admin is scoped offers (and validates against) its rows only
        related = self.admin_site._registry.get(db_field.related_model)
        if related is not None and "queryset" not in kwargs:
            kwargs["queryset"] = related.get_queryset(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # the admin's change view is one transaction: refusing here undoes the save
        if not self.get_queryset(request).filter(pk=obj.pk).exists():
            raise PermissionDenied(permissions.ERR_OUT_OF_SCOPE)


class ScopedReadOnlyAdmin(ScopedAdmin):
    """For records that change only through their services (workflow, ledger, audit)."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
