from django.apps import AppConfig


class FundsConfig(AppConfig):
    name = "fangpin.funds"
    label = "funds"
    verbose_name = "Funds 防贫资金"
