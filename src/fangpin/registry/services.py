"""Writes to the registry other than the file import (see ``importer``)."""

from __future__ import annotations

from typing import Any

import polars as pl
from django.db import transaction

from fangpin.common.audit import audit_record_many
from fangpin.common.models import AuditEvent
from fangpin.common.money import Money

from .models import Household, IncomeRecord, IncomeSource, Member


@transaction.atomic
def household_bulk_load(
    *,
    households: pl.DataFrame,
    members: pl.DataFrame,
    incomes: pl.DataFrame,
    village_ids: dict[str, tuple[int, str]],
    actor: Any = None,
    source: str = "synth",
) -> int:
    """Insert new households with their members and incomes in bulk (no per-row queries).

    ``households``: household_no, village_code, household_type, bank, bank_account;
    ``members``: household_no, name, id_number, relation, labour;
    ``incomes``: household_no, year, annual_income_fen;
    ``village_ids``: village code -> (region id, region path).
    For trusted, already-valid data (the synthetic generator); files go through the importer.
    """
    created = Household.objects.bulk_create(
        [
            Household(
                household_no=r["household_no"],
                village_id=village_ids[r["village_code"]][0],
                household_type=r["household_type"],
                bank_name=r["bank"],
                bank_account=r["bank_account"],
            )
            for r in households.iter_rows(named=True)
        ],
        batch_size=5000,
    )
    ids = {h.household_no: h.pk for h in created}
    Member.objects.bulk_create(
        [
            Member(household_id=ids[no], name=name, id_number=idn, relation=rel, labour=lab)
            for no, name, idn, rel, lab in members.select(
                "household_no", "name", "id_number", "relation", "labour"
            ).iter_rows()
        ],
        batch_size=5000,
    )
    actor_id = getattr(actor, "pk", None)
    IncomeRecord.objects.bulk_create(
        [
            IncomeRecord(
                household_id=ids[no],
                year=year,
                annual_income=Money.from_fen(fen),
                source=IncomeSource.SURVEY,
                recorded_by_id=actor_id,
                note=source,
            )
            for no, year, fen in incomes.select(
                "household_no", "year", "annual_income_fen"
            ).iter_rows()
        ],
        batch_size=5000,
    )
    audit_record_many(
        AuditEvent(
            actor_id=actor_id,
            action="registry.household.created",
            object_type="registry.household",
            object_id=str(ids[no]),
            region_path=village_ids[code][1],
            data={"source": source},
        )
        for no, code in households.select("household_no", "village_code").iter_rows()
    )
    return len(created)
