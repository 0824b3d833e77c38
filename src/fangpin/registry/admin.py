"""Django admin for staff, scoped to the staff member's region like every other view."""

from django.contrib import admin

from fangpin.accounts.admin_base import ScopedAdmin
from fangpin.common.idnumber import mask_id_number

from .models import Household, IncomeRecord, Member


class MemberInline(admin.TabularInline):
    model = Member
    extra = 0


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
class MemberAdmin(ScopedAdmin):
    region_path_field = "household__village__path"
    list_display = ["name", "masked", "relation", "household"]
    search_fields = ["name", "=id_number", "household__household_no"]
    raw_id_fields = ["household"]

    @admin.display(description="ID number")
    def masked(self, obj):
        return mask_id_number(obj.id_number)
