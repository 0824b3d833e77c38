"""The warning work list as a workbook (XLSX) a township office opens in Excel."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import xlsxwriter
from django.utils.translation import gettext as _

from fangpin.common.exports import write_text
from fangpin.common.idnumber import mask_id_number
from fangpin.policy import spec

from .models import Warning

HEADERS = [
    "户编号 household",
    "村 village",
    "年度 year",
    "致贫原因 circumstance",
    "户类型 type",
    "人口 members",
    "累计自付 self-paid (元)",
    "年收入 income (元)",
    "预估救助 estimated relief (元)",
    "参数版本 parameters",
    "状态 status",
    "理由 reason",
    "比对排除 exclusions",
    "比对记录 feed rows (feed reference batch:row)",
]


def warnings_xlsx(warnings: Iterable[Warning]) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False})
    ws = wb.add_worksheet("预警 warnings")
    bold = wb.add_format({"bold": True, "bg_color": "#F0F2F5"})
    money = wb.add_format({"num_format": "#,##0.00"})
    # the triage's columns (gettext: the earlier headers name both languages themselves)
    headers = [*HEADERS, _("Reason for dismissing"), _("Checked by"), _("Township")]
    ws.write_row(0, 0, headers, bold)
    row = 0
    for row, w in enumerate(warnings, start=1):
        write_text(ws, row, 0, w.household.household_no)
        write_text(ws, row, 1, w.household.village.name)
        ws.write_number(row, 2, w.year)
        write_text(ws, row, 3, w.get_circumstance_display())
        write_text(ws, row, 4, w.household_type)
        ws.write_number(row, 5, w.members)
        # Excel cells are numbers (officers sum them); the amounts come from exact fen and show
        # two places, so the cell displays the exact amount
        ws.write_number(row, 6, w.self_paid.amount, money)
        if w.annual_income is not None:
            ws.write_number(row, 7, w.annual_income.amount, money)
        else:
            write_text(ws, row, 7, "未知 unknown")
        ws.write_number(row, 8, w.estimated_relief.amount, money)
        write_text(ws, row, 9, w.parameter_version)
        write_text(ws, row, 10, w.get_status_display())
        write_text(ws, row, 11, w.reason)
        write_text(ws, row, 12, "; ".join(spec.EXCLUSION_LABELS.get(x, x) for x in w.exclusions))
        write_text(ws, row, 13, "; ".join(_match_text(m) for m in w.exclusion_matches))
        write_text(ws, row, 14, w.get_dismiss_reason_display() if w.dismiss_reason else "")
        write_text(ws, row, 15, w.assigned_to.username if w.assigned_to_id else "")
        write_text(ws, row, 16, w.household.village.parent.name)
    ws.set_column(0, 1, 22)
    ws.set_column(3, 4, 16)
    ws.set_column(6, 8, 16)
    ws.set_column(12, 13, 30)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(row, 1), len(headers) - 1)
    wb.close()
    return buf.getvalue()


def _match_text(match: dict) -> str:
    """A feed row behind an exclusion in one cell: feed, person (masked), reference, batch:row."""
    person = mask_id_number(match.get("id_number", ""))
    return (
        f"{match.get('feed', '')} {person} {match.get('reference', '')} "
        f"{match.get('batch', '')}:{match.get('source_row', '')}"
    )


def warnings_export_build(*, actor: Any, progress: Any, filters: dict) -> tuple[str, bytes]:
    """The work list as the page would export it, built by the worker (``jobs.export``):
    the list of ``filters`` as ``actor`` may see it."""
    from .selectors import warning_list

    qs = warning_list(user=actor, **filters)
    progress(_("Writing the workbook"), 0, qs.count())
    rows = qs.select_related("household__village__parent", "assigned_to")
    return "warnings.xlsx", warnings_xlsx(rows.iterator(chunk_size=2000))
