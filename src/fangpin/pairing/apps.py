from django.apps import AppConfig


class PairingConfig(AppConfig):
    name = "fangpin.pairing"
    label = "pairing"
    verbose_name = "Pairing assistance 结对帮扶"
    default_auto_field = "django.db.models.BigAutoField"
