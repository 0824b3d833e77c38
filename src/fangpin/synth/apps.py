from django.apps import AppConfig


class SynthConfig(AppConfig):
    name = "fangpin.synth"
    label = "synth"
    verbose_name = "Synthetic data"
