from django.apps import AppConfig


class PairingConfig(AppConfig):
    name = "fangpin.pairing"
    label = "pairing"
    verbose_name = "Pairing assistance 结对帮扶"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from fangpin.accounts.models import Role
        from fangpin.accounts.permissions import household_scope_register
        from fangpin.common.importers import FileImporter, importer_register

        def pairings_of_user(**kw):  # imported when first asked, not at start-up
            from .selectors import pairings_of_user

            return pairings_of_user(**kw)

        # a helper cadre (帮扶干部) sees only the households paired with them that day
        household_scope_register(Role.HELPER_CADRE, pairings_of_user)

        importer_register(
            FileImporter(
                "cadres",
                "pairing cadres, one row per cadre (.xlsx or .csv)",
                run="fangpin.pairing.importer:cadre_import",
                progress=True,
            )
        )
