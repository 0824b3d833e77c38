"""The triage's data migration: open → new, case_opened → confirmed, the other statuses
kept, a dismissed warning given the reason "other", and each intake from a warning linked
to it (cases 0005) — forward and back."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("screening", "0003_warning_excluded"), ("cases", "0004_claim_keys_duties")]
AFTER = [("screening", "0004_warning_triage"), ("cases", "0005_intake_warning")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_the_statuses_are_renamed_and_the_intakes_linked_both_ways():
    from fangpin.registry.models import Household
    from tests.conftest import build_small_county

    if not Household.objects.exists():
        build_small_county()  # an earlier transactional test flushed the session's county
    households = list(Household.objects.order_by("pk").values_list("pk", "village__path")[:4])
    assert len(households) == 4
    try:
        apps = migrate(BEFORE)
        Warning = apps.get_model("screening", "Warning")
        Run = apps.get_model("screening", "ScreeningRun")
        Case = apps.get_model("cases", "Case")
        Intake = apps.get_model("cases", "Intake")
        run = Run.objects.create(year=2019)
        ids = {}
        for (pk, path), status in zip(
            households, ["open", "case_opened", "dismissed", "excluded"], strict=True
        ):
            ids[status] = Warning.objects.create(
                household_id=pk,
                region_path=path,
                circumstance="medical",
                year=2019,
                household_type="ordinary",
                members=1,
                self_paid=100,
                units=1,
                feed_refs=[],
                parameter_version="v",
                estimated_relief=0,
                status=status,
                reason="已处理" if status == "dismissed" else "",
                run=run,
            ).pk
        case = Case.objects.create(
            household_id=households[1][0],
            region_path=households[1][1],
            circumstance="medical",
            period=2019,
            source="warning",
            state="household_check",
            entered_at="2019-06-01T00:00:00Z",
        )
        from_warning = Intake.objects.create(
            case=case, source="warning", reference=str(ids["case_opened"])
        )
        applied = Intake.objects.create(case=case, source="application", reference="12")

        apps = migrate(AFTER)
        Warning = apps.get_model("screening", "Warning")
        Intake = apps.get_model("cases", "Intake")
        statuses = dict(Warning.objects.filter(pk__in=ids.values()).values_list("pk", "status"))
        assert statuses == {
            ids["open"]: "new",
            ids["case_opened"]: "confirmed",
            ids["dismissed"]: "dismissed",
            ids["excluded"]: "excluded",
        }
        assert Warning.objects.get(pk=ids["dismissed"]).dismiss_reason == "other"
        assert Intake.objects.get(pk=from_warning.pk).warning_id == ids["case_opened"]
        assert Intake.objects.get(pk=applied.pk).warning_id is None

        apps = migrate(BEFORE)
        Warning = apps.get_model("screening", "Warning")
        statuses = dict(Warning.objects.filter(pk__in=ids.values()).values_list("pk", "status"))
        assert statuses[ids["open"]] == "open" and statuses[ids["case_opened"]] == "case_opened"
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
