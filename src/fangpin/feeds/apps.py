from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "fangpin.feeds"
    label = "feeds"
    verbose_name = "Department feeds 部门数据"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from fangpin.common.importers import FileImporter, importer_register
        from fangpin.jobs.registry import runner_register

        from .management.feed_command import feed_arguments, import_feed

        importer_register(
            FileImporter(
                "feed",
                "a department feed into the lake (.xlsx, .csv or .parquet) 部门数据入湖",
                add_arguments=feed_arguments,
                handle=import_feed,
            )
        )
        runner_register("feeds.import", "fangpin.feeds.submit:feed_import_job")
