"""Django admin for pairing assistance: region-scoped, read-only (changes go through the
services, which check and audit them); a cadre's ``active`` flag and phone may be edited,
with an audit row."""

from django.contrib import admin

from fangpin.accounts import permissions
from fangpin.accounts.admin_base import ScopedReadOnlyAdmin
from fangpin.common.audit import Action, audit_record

from .models import Cadre, EmploymentPlacement, Pairing, Problem, RiskClosure, Visit


class PairingReadOnlyAdmin(ScopedReadOnlyAdmin):
    region_path_field = "household__village__path"


@admin.register(Cadre)
class CadreAdmin(PairingReadOnlyAdmin):
    region_path_field = "region__path"
    list_display = ["name", "work_unit", "level", "region", "phone", "active", "user"]
    list_filter = ["level", "active"]
    search_fields = ["name", "work_unit", "=phone"]
    fields = ["name", "work_unit", "level", "region", "phone", "active", "user"]
    readonly_fields = ["name", "work_unit", "level", "region", "user"]

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, "pairing.import") and (
            obj is None or permissions.may_see(request.user, obj)
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action=Action.CADRE_UPDATED,
            obj=obj,
            region_path=obj.region.path,
            data={"changed": list(form.changed_data), "via": "admin"},
        )


@admin.register(Pairing)
class PairingAdmin(PairingReadOnlyAdmin):
    list_display = ["household", "cadre", "start_date", "end_date", "end_reason"]
    list_filter = ["end_date"]
    search_fields = ["household__household_no", "cadre__name"]
    raw_id_fields = ["household", "cadre"]


@admin.register(Visit)
class VisitAdmin(PairingReadOnlyAdmin):
    list_display = ["household", "visited_on", "mode", "cadre", "met"]
    list_filter = ["mode"]
    date_hierarchy = "visited_on"
    search_fields = ["household__household_no", "cadre__name"]
    raw_id_fields = ["household", "cadre"]


@admin.register(Problem)
class ProblemAdmin(PairingReadOnlyAdmin):
    list_display = ["household", "category", "description", "found_on", "solved_on"]
    list_filter = ["category"]
    search_fields = ["household__household_no"]
    raw_id_fields = ["household", "visit"]


@admin.register(EmploymentPlacement)
class EmploymentPlacementAdmin(PairingReadOnlyAdmin):
    list_display = ["person_name", "employer", "job", "daily_wage", "started_on", "household"]
    search_fields = ["household__household_no", "person_name", "employer"]
    raw_id_fields = ["household", "visit", "member"]


@admin.register(RiskClosure)
class RiskClosureAdmin(PairingReadOnlyAdmin):
    list_display = ["household", "closed_on", "closed_by"]
    search_fields = ["household__household_no"]
    raw_id_fields = ["household"]
