from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "fangpin.registry"
    label = "registry"
    verbose_name = "Registry 农户档案"

    def ready(self) -> None:
        from fangpin.common.importers import FileImporter, importer_register

        importer_register(
            FileImporter(
                "registry",
                "managed households, one row per member (.xlsx or .csv)",
                run="fangpin.registry.importer:registry_import",
                progress=True,
            )
        )
