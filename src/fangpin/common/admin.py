from django.contrib import admin

from fangpin.accounts import permissions

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "action", "object_type", "object_id", "from_state", "to_state"]
    list_filter = ["action"]
    search_fields = ["object_id", "action"]

    def get_queryset(self, request):
        return permissions.scope_filter(request.user, super().get_queryset(request), "region_path")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
