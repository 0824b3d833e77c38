"""Django admin bases that keep the admin inside the staff member's region, like every view."""

from __future__ import annotations

from django.contrib import admin

from . import permissions


class ScopedAdmin(admin.ModelAdmin):
    """Lists and opens only rows whose ``region_path_field`` lies in the user's region."""

    region_path_field = "region_path"

    def get_queryset(self, request):
        return permissions.scope_filter(
            request.user, super().get_queryset(request), self.region_path_field
        )


class ScopedReadOnlyAdmin(ScopedAdmin):
    """For records that change only through their services (workflow, ledger, audit)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
