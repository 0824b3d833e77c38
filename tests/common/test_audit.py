"""Audit event names are one list (``common.audit.Action``): a name outside it is refused
before anything is written, and every workflow step has its own name in it."""

from __future__ import annotations

import polars as pl
import pytest

from fangpin.cases.workflow import TRANSITIONS
from fangpin.common.audit import (
    Action,
    admin_action,
    audit_record,
    audit_record_many,
    audit_record_rows,
    audit_rows,
)
from fangpin.common.models import AuditEvent


def test_a_name_outside_the_list_is_refused_and_nothing_is_written(db):
    before = AuditEvent.objects.count()
    with pytest.raises(ValueError):
        audit_record(actor=None, action="registry.household.deleted")
    with pytest.raises(ValueError):
        audit_record_many([AuditEvent(action="funds.payment.lost")])
    with pytest.raises(ValueError):
        audit_rows(pl.DataFrame({"id": [1]}), actor=None, action="x.y.z", object_type="x")
    assert AuditEvent.objects.count() == before


def test_every_workflow_step_writes_a_listed_name():
    assert {t.event for t in TRANSITIONS.values()} == {
        a
        for a in Action
        if a.startswith("cases.case.") and a not in ("cases.case.opened", "cases.case.joined")
    }


def test_the_admins_rows_are_named_from_the_model(db):
    event = audit_record(actor=None, action=admin_action("regions.region", "changed"))
    assert event.action == "admin.regions.region.changed"
    with pytest.raises(ValueError):
        admin_action("regions.region", "viewed")


def test_a_frames_audit_rows_are_written_at_once(db):
    frame = pl.DataFrame({"id": [7, 8], "path": ["1/2/", None], "no": ["A", "B"]})
    rows = audit_rows(
        frame,
        actor=None,
        action=Action.HOUSEHOLD_UPDATED,
        object_type="registry.household",
        region_path="path",
        data={"household_no": pl.col("no"), "source": pl.lit("f.csv")},
    )
    assert audit_record_rows(rows) == 2
    written = AuditEvent.objects.filter(action=Action.HOUSEHOLD_UPDATED).order_by("object_id")
    assert [(e.object_id, e.region_path, e.data) for e in written] == [
        ("7", "1/2/", {"household_no": "A", "source": "f.csv"}),
        ("8", "", {"household_no": "B", "source": "f.csv"}),
    ]
