from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "fangpin.feeds"
    label = "feeds"
    verbose_name = "Department feeds 部门数据"
    default_auto_field = "django.db.models.BigAutoField"
