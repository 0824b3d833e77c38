from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from . import permissions
from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "get_full_name", "role", "region", "is_active", "is_staff"]
    list_filter = ["role", "is_active", "is_staff"]
    raw_id_fields = ["region"]
    fieldsets = BaseUserAdmin.fieldsets + (("Fangpin", {"fields": ("role", "region")}),)

    def get_queryset(self, request):
        return permissions.scope_filter(request.user, super().get_queryset(request), "region__path")
