from django.apps import AppConfig


class PairingConfig(AppConfig):
    name = "fangpin.pairing"
    label = "pairing"
    verbose_name = "Pairing assistance 结对帮扶"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from fangpin.common.importers import FileImporter, importer_register

        from .importer import cadre_import

        importer_register(
            FileImporter(
                "cadres",
                "pairing cadres, one row per cadre (.xlsx or .csv)",
                run=cadre_import,
                progress=True,
            )
        )
