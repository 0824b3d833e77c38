from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "fangpin.common"
    label = "common"
    verbose_name = "Common 公共"
