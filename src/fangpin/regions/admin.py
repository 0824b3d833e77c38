from django.contrib import admin

from fangpin.accounts import permissions

from .models import Region


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "level", "parent"]
    list_filter = ["level"]
    search_fields = ["code", "name"]
    raw_id_fields = ["parent"]

    def get_queryset(self, request):
        return permissions.scope_filter(request.user, super().get_queryset(request), "path")
