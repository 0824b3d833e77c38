"""The Django admin of users, and of the layers below accounts (regions, the audit trail):
accounts is where region scoping lives, so their admins are registered here rather than
making regions or common import accounts (the layers, docs/ARCHITECTURE.md)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from fangpin.common.models import AuditEvent
from fangpin.regions.models import Region

from . import permissions
from .admin_base import ScopedReadOnlyAdmin, SuperuserEditsAdmin
from .models import User


@admin.register(User)
class UserAdmin(SuperuserEditsAdmin, BaseUserAdmin):
    """Users of the staff member's region; only a superuser changes a user — role, region,
    staff and superuser flags, groups, permissions, password — so that no staff member can
    raise their own (or anyone's) rights."""

    region_path_field = "region__path"
    list_display = [
        "username",
        "get_full_name",
        "role",
        "department",
        "region",
        "is_active",
        "is_staff",
    ]
    list_filter = ["role", "is_active", "is_staff"]
    raw_id_fields = ["region"]
    fieldsets = BaseUserAdmin.fieldsets + (
        ("Fangpin", {"fields": ("role", "region", "department")}),
    )

    def get_queryset(self, request):
        return permissions.scope_filter(request.user, super().get_queryset(request), "region__path")


@admin.register(Region)
class RegionAdmin(SuperuserEditsAdmin):
    region_path_field = "path"
    list_display = ["code", "name", "level", "parent"]
    list_filter = ["level"]
    search_fields = ["code", "name"]
    raw_id_fields = ["parent"]

    def get_queryset(self, request):
        return permissions.scope_filter(request.user, super().get_queryset(request), "path")


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedReadOnlyAdmin):
    region_path_field = "region_path"
    list_display = ["at", "actor", "action", "object_type", "object_id", "from_state", "to_state"]
    list_filter = ["action"]
    search_fields = ["object_id", "action"]
