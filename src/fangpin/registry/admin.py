"""Django admin for staff, scoped to the staff member's region like every other view."""

from django.contrib import admin

from fangpin.accounts.admin_base import ScopedAdmin
from fangpin.common.idnumber import mask_id_number

from .models import Household, IncomeRecord, Member


class MaskedIdNumber:
    """A staff member who is not a superuser sees a member's ID number masked, read-only."""

    @admin.display(description="ID number")
    def masked(self, obj: Member) -> str:
        return mask_id_number(obj.id_number or "")

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if request.user.is_superuser:
            return fields
        return [("masked" if f == "id_number" else f) for f in fields if f != "masked"]

    def get_readonly_fields(self, request, obj=None):
        return [] if request.user.is_superuser else ["masked"]


class MemberInline(MaskedIdNumber, admin.TabularInline):
    """Members of the household; a staff member who is not a superuser sees the ID number
    masked and cannot change it (the registry import and registration do)."""

    model = Member
    extra = 0

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_add_permission(request, obj)


class IncomeInline(admin.TabularInline):
    model = IncomeRecord
    extra = 0
    readonly_fields = ["recorded_at", "recorded_by"]


@admin.register(Household)
class HouseholdAdmin(ScopedAdmin):
    region_path_field = "village__path"
    list_display = ["household_no", "village", "household_type", "updated_at"]
    list_filter = ["household_type"]
    search_fields = ["household_no", "members__name", "=members__id_number"]
    raw_id_fields = ["village"]
    inlines = [MemberInline, IncomeInline]


@admin.register(Member)
class MemberAdmin(MaskedIdNumber, ScopedAdmin):
    region_path_field = "household__village__path"
    list_display = ["name", "masked", "relation", "household"]
    search_fields = ["name", "=id_number", "household__household_no"]
    raw_id_fields = ["household"]

    def has_add_permission(self, request):
        return request.user.is_superuser and super().has_add_permission(request)
