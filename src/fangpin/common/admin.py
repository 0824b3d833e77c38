from django.contrib import admin

from fangpin.accounts.admin_base import ScopedReadOnlyAdmin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedReadOnlyAdmin):
    region_path_field = "region_path"
    list_display = ["at", "actor", "action", "object_type", "object_id", "from_state", "to_state"]
    list_filter = ["action"]
    search_fields = ["object_id", "action"]
