"""Writing audit rows: ``audit_record`` for one, ``audit_record_many`` for a batch."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .models import AuditEvent


def audit_record(
    *,
    actor: Any,
    action: str,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    region_path: str = "",
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    data: dict | None = None,
) -> AuditEvent:
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        region_path=region_path,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        data=data or {},
    )


def audit_record_many(events: Iterable[AuditEvent], *, batch_size: int = 5000) -> int:
    """Insert prepared ``AuditEvent`` rows in bulk (set-based, for imports)."""
    created = AuditEvent.objects.bulk_create(list(events), batch_size=batch_size)
    return len(created)
