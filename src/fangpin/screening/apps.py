from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "fangpin.screening"
    label = "screening"
    verbose_name = "Screening and early warning 筛查预警"
    default_auto_field = "django.db.models.BigAutoField"
