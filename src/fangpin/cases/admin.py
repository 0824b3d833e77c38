from django.contrib import admin

from fangpin.accounts.admin_base import ScopedReadOnlyAdmin, SuperuserEditsAdmin

from .models import Case, Decision, Holiday


@admin.register(Holiday)
class HolidayAdmin(SuperuserEditsAdmin):
    """The city's public holidays (working-day deadlines): a global setting."""

    list_display = ["date", "name"]


@admin.register(Case)
class CaseAdmin(ScopedReadOnlyAdmin):
    list_display = ["id", "household", "circumstance", "period", "state", "entered_at"]
    list_filter = ["state", "circumstance"]


@admin.register(Decision)
class DecisionAdmin(ScopedReadOnlyAdmin):
    region_path_field = "case__region_path"
    list_display = ["id", "case", "round", "kind", "amount", "parameter_version", "decided_at"]
