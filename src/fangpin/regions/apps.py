from django.apps import AppConfig


class RegionsConfig(AppConfig):
    name = "fangpin.regions"
    label = "regions"
    verbose_name = "Regions 行政区划"
