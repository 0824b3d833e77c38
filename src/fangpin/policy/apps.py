from django.apps import AppConfig


class PolicyConfig(AppConfig):
    name = "fangpin.policy"
    label = "policy"
    verbose_name = "Policy engine (政策引擎)"
