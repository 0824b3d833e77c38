"""The hit rates as a workbook (XLSX): the page's table, a row per year, county and feed."""

from __future__ import annotations

import io
from collections.abc import Iterable

import xlsxwriter
from django.utils.translation import gettext as _

from fangpin.common.exports import write_text

from .selectors import STAGES, HitRow


def _headers() -> list[str]:
    stage = {
        "warned": _("Warned"),
        "excluded": _("Excluded by data comparison"),
        "checked": _("Checked"),
        "confirmed": _("Confirmed"),
        "verified": _("Verified"),
        "paid": _("Paid"),
    }
    headers = [_("Year"), _("County"), _("Feed"), _("Circumstance")]
    for s in STAGES:
        headers += [f"{stage[s]}: {_('warnings')}", f"{stage[s]}: {_('households')}"]
    return headers + [
        _("Estimated relief (yuan)"),
        _("Verified relief (yuan)"),
        _("Paid (yuan)"),
        _("Hit rate (%)"),
    ]


def hit_rates_xlsx(rows: Iterable[HitRow]) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False})
    ws = wb.add_worksheet(_("Hit rates"))
    bold = wb.add_format({"bold": True, "bg_color": "#F0F2F5"})
    money = wb.add_format({"num_format": "#,##0.00"})
    headers = _headers()
    ws.write_row(0, 0, headers, bold)
    everything = _("All")
    row = 0
    for row, r in enumerate(rows, start=1):
        ws.write_number(row, 0, r.year)
        write_text(ws, row, 1, r.county_name if r.county_code else everything)
        write_text(ws, row, 2, r.feed_label if r.circumstance else everything)
        write_text(ws, row, 3, r.circumstance_label if r.circumstance else everything)
        col = 4
        for s in STAGES:
            ws.write_number(row, col, r.warnings[s])
            ws.write_number(row, col + 1, r.households[s])
            col += 2
        # the amounts come from exact fen and show two places: the cell shows the exact amount
        for money_value in (r.estimated, r.verified_yuan, r.paid_yuan):
            ws.write_number(row, col, money_value.amount, money)
            col += 1
        if r.hit_rate is not None:
            ws.write_number(row, col, r.hit_rate)
    ws.set_column(1, 3, 18)
    ws.set_column(4, len(headers) - 1, 12)
    ws.freeze_panes(1, 4)
    ws.autofilter(0, 0, max(row, 1), len(headers) - 1)
    wb.close()
    return buf.getvalue()
