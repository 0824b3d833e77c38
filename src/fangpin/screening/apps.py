from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "fangpin.screening"
    label = "screening"
    verbose_name = "Screening and early warning 筛查预警"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from fangpin.feeds.hooks import batch_accepted_subscribe
        from fangpin.jobs.exports import exporter_register
        from fangpin.jobs.registry import runner_register

        runner_register("screening.run", "fangpin.screening.jobs:screening_job")
        exporter_register("screening.warnings", "fangpin.screening.exports:warnings_export_build")
        # lazily: importing the jobs module at start-up would load the lake's readers
        batch_accepted_subscribe(_on_batch_accepted)


def _on_batch_accepted(**kwargs) -> None:
    from .jobs import on_batch_accepted

    on_batch_accepted(**kwargs)
