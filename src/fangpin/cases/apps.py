from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "fangpin.cases"
    label = "cases"
    verbose_name = "Relief cases 救助案件"
    default_auto_field = "django.db.models.BigAutoField"
