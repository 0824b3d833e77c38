from django.contrib import admin

from fangpin.accounts import permissions

from .models import Case, Decision, Holiday


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ["date", "name"]


class ScopedReadOnly(admin.ModelAdmin):
    """Cases and decisions change only through the workflow; the admin only reads them."""

    path_field = "region_path"

    def get_queryset(self, request):
        return permissions.scope_filter(
            request.user, super().get_queryset(request), self.path_field
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(ScopedReadOnly):
    list_display = ["id", "household", "circumstance", "period", "state", "entered_at"]
    list_filter = ["state", "circumstance"]


@admin.register(Decision)
class DecisionAdmin(ScopedReadOnly):
    path_field = "case__region_path"
    list_display = ["id", "case", "round", "kind", "amount", "parameter_version", "decided_at"]
