from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "fangpin.accounts"
    label = "accounts"
    verbose_name = "Accounts 用户"
