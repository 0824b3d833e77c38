from django.apps import AppConfig


class FundsConfig(AppConfig):
    name = "fangpin.funds"
    label = "funds"
    verbose_name = "Funds 防贫资金"

    def ready(self) -> None:
        from fangpin.common.importers import FileImporter, importer_register

        importer_register(
            FileImporter(
                "contributions",
                "money raised for the county relief fund (.xlsx or .csv)",
                run="fangpin.funds.importer:contributions_import",
            )
        )
