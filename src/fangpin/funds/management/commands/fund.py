"""``fangpin fund …`` — the county relief fund from the command line.

    fangpin fund status   --county 130434 --year 2019
    fangpin fund contract --county 130434 --year 2019 --insurer "中国人保" --rural-population 800000 [--pay-premium]
    fangpin fund pay-premium --county 130434 --year 2019
    fangpin fund export-batch --county 130434 --year 2019 --out batch.xlsx   (or .csv)
    fangpin fund bank-return RETURN.xlsx
    fangpin fund settle   --county 130434 --year 2019
    fangpin fund reopen   --county 130434 --year 2019 --reason "late bank return"
    fangpin fund report   --county 130434 --year 2019 --out settlement.xlsx

Contributions are imported with ``fangpin import contributions PATH``. Every
sub-command takes ``--as-user USERNAME`` to act as (and be limited to the region
and role of) that user; without it the operator acts, and the audit rows have no user.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from fangpin.accounts import permissions
from fangpin.accounts.models import User
from fangpin.common.tabular import PROBLEMS_SHOWN
from fangpin.funds import exports, selectors, services
from fangpin.funds.models import InsuranceContract
from fangpin.funds.services import FundError


class Command(BaseCommand):
    help = "County relief fund 防贫资金: status, contract, premium, bank batch and return, settle, reopen, report"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        def county_year(p, *, out: bool = False):
            p.add_argument("--county", required=True, help="county code, e.g. 130434 (魏县)")
            p.add_argument("--year", required=True, type=int, help="fund year")
            p.add_argument(
                "--as-user", dest="as_user", default="", help="act as this user (region and role)"
            )
            if out:
                p.add_argument("--out", required=True, help="file to write (.xlsx or .csv)")
            return p

        county_year(
            sub.add_parser("status", help="balances, premium, relief paid, loss ratio, projection")
        )
        c = county_year(
            sub.add_parser("contract", help="record the year's anti-poverty insurance contract")
        )
        c.add_argument("--insurer", required=True)
        c.add_argument("--rural-population", dest="rural_population", required=True, type=int)
        c.add_argument(
            "--share", default=None, help="insured share (default: policy parameter, 0.10)"
        )
        c.add_argument(
            "--premium",
            default=None,
            help="premium per insured person (default: policy parameter, 50)",
        )
        c.add_argument(
            "--fee-rate",
            dest="fee_rate",
            default=None,
            help="insurer fee rate (default: policy, 0)",
        )
        c.add_argument("--policy-no", dest="policy_no", default="")
        c.add_argument("--signed-on", dest="signed_on", default=None, help="YYYY-MM-DD")
        c.add_argument(
            "--pay-premium", dest="pay_premium", action="store_true", help="pay the premium at once"
        )
        county_year(
            sub.add_parser(
                "pay-premium", help="pay the contract's premium from the fund into the pool"
            )
        )
        county_year(
            sub.add_parser(
                "export-batch", help="send requested payments to the bank: write the batch"
            ),
            out=True,
        )
        r = sub.add_parser("bank-return", help="import the bank's return file (.xlsx or .csv)")
        r.add_argument("path")
        r.add_argument("--as-user", dest="as_user", default="")
        county_year(sub.add_parser("settle", help="year-end settlement (多退少补)"))
        o = county_year(sub.add_parser("reopen", help="reopen a settled year (posts the reversal)"))
        o.add_argument("--reason", required=True)
        county_year(sub.add_parser("report", help="the settlement report as .xlsx"), out=True)

    # -- helpers ----------------------------------------------------------------------------
    def _actor(self, username: str) -> User | None:
        if not username:
            return None
        user = User.objects.select_related("region").filter(username=username).first()
        if user is None:
            raise CommandError(f"no such user {username!r} (用户不存在)")
        return user

    def _county(self, code: str, actor: User | None, action: str):
        try:
            county = services.county_by_code(code)
        except FundError as exc:
            raise CommandError(exc.message) from None
        if actor is not None:
            try:
                permissions.require(actor, action, county)
            except PermissionDenied as exc:
                raise CommandError(str(exc)) from None
        return county

    def handle(self, *args, **o):
        action = o["action"]
        try:
            getattr(self, "do_" + action.replace("-", "_"))(o)
        except FundError as exc:
            raise CommandError(
                f"{exc.field}: {exc.message}" if exc.field else exc.message
            ) from None

    # -- actions ----------------------------------------------------------------------------
    def do_status(self, o):
        actor = self._actor(o["as_user"])
        county = self._county(o["county"], actor, "funds.view")
        s = selectors.fund_summary(county=county, year=o["year"])
        w = self.stdout.write
        w(f"{county.name} ({county.code}) {s.year}{' — settled 已结算' if s.is_settled else ''}")
        for r in s.rows:
            if r.amount:
                w(f"  {r.label:<40} {r.amount:>18,.2f}")
        w(
            f"  premium 保费 {s.premium:,.2f} · relief paid 已付 {s.relief_paid:,.2f} ({s.relief_count}) · "
            f"fee 管理费 {s.fee:,.2f} · loss ratio 赔付率 {s.loss_ratio_percent}"
        )
        w(
            f"  surplus/shortfall to date 结余/缺口 {s.result_to_date:,.2f}; waiting for the bank {s.in_flight_count}, "
            f"failed {s.failed_count}"
        )
        if s.projected_result is not None:
            w(
                f"  projected at year end 年末预计: relief {s.projected_relief:,.2f}, result {s.projected_result:,.2f}"
            )

    def do_contract(self, o):
        actor = self._actor(o["as_user"])
        county = self._county(o["county"], actor, "funds.contract")
        signed_on = dt.date.fromisoformat(o["signed_on"]) if o["signed_on"] else None
        k = services.insurance_contract_create(
            county=county,
            year=o["year"],
            insurer=o["insurer"],
            rural_population=o["rural_population"],
            insured_share=o["share"],
            premium_per_person=o["premium"],
            fee_rate=o["fee_rate"],
            policy_no=o["policy_no"],
            signed_on=signed_on,
            actor=actor,
        )
        self.stdout.write(
            f"contract 合同: {k.rural_population:,} × {k.insured_share.normalize()} = "
            f"{k.insured_persons:,} insured × {k.premium_per_person} = premium {k.premium:,.2f}"
        )
        if o["pay_premium"]:
            tx = services.insurance_premium_pay(contract=k, actor=actor)
            self.stdout.write(f"premium paid into the pool 保费已缴 (transaction #{tx.pk})")

    def do_pay_premium(self, o):
        actor = self._actor(o["as_user"])
        county = self._county(o["county"], actor, "funds.contract")
        k = InsuranceContract.objects.filter(county=county, year=o["year"]).first()
        if k is None:
            raise CommandError(services.ERR_NO_CONTRACT.format(county=county.name, year=o["year"]))
        tx = services.insurance_premium_pay(contract=k, actor=actor)
        self.stdout.write(
            f"premium {k.premium:,.2f} paid into the pool 保费已缴 (transaction #{tx.pk})"
        )

    def do_export_batch(self, o):
        actor = self._actor(o["as_user"])
        county = self._county(o["county"], actor, "funds.pay")
        out = Path(o["out"])
        fmt = out.suffix.lower().lstrip(".")
        if fmt not in ("xlsx", "csv"):
            raise CommandError("--out must end in .xlsx or .csv")
        batch = services.payment_batch_export(county=county, year=o["year"], actor=actor)
        if batch is None:
            self.stdout.write("no payment waits to be sent to the bank 没有待报盘的支付")
            return
        out.write_bytes(exports.bank_batch_file(batch=batch, fmt=fmt).content)
        self.stdout.write(
            f"batch {batch.pk}: {batch.count} payments, {batch.total:,.2f} yuan → {out}"
        )

    def do_bank_return(self, o):
        from fangpin.funds.importer import bank_return_import

        result = bank_return_import(path=o["path"], actor=self._actor(o["as_user"]))
        if not result.ok:
            for line in result.error_lines(limit=PROBLEMS_SHOWN):
                self.stderr.write(line)
            raise CommandError(
                f"{len(result.problems)} problem(s) found; nothing was changed (发现错误，未作任何更改)"
            )
        self.stdout.write(result.summary())

    def do_settle(self, o):
        actor = self._actor(o["as_user"])
        county = self._county(o["county"], actor, "funds.settle")
        s = services.fund_settle_year(county=county, year=o["year"], actor=actor)
        kind = (
            "surplus 结余"
            if s.result.fen > 0
            else (
                "shortfall 缺口 (county top-up 县财政补足)" if s.result.fen < 0 else "balanced 持平"
            )
        )
        self.stdout.write(
            f"{county.name} {s.year} settled 已结算: premium {s.premium:,.2f} − relief {s.relief_paid:,.2f} "
            f"− fee {s.fee:,.2f} = {s.result:,.2f} {kind}; carried into {s.year + 1}: {s.carried_forward:,.2f}"
        )

    def do_reopen(self, o):
        actor = self._actor(o["as_user"])
        county = self._county(o["county"], actor, "funds.settle")
        s = services.fund_reopen_year(
            county=county, year=o["year"], actor=actor, reason=o["reason"]
        )
        self.stdout.write(f"{county.name} {s.year} reopened 已重新打开 (reversal #{s.reversal_id})")

    def do_report(self, o):
        actor = self._actor(o["as_user"])
        county = self._county(o["county"], actor, "funds.view")
        out = Path(o["out"])
        if out.suffix.lower() != ".xlsx":
            raise CommandError("--out must end in .xlsx (the print-ready report is the web page)")
        report = exports.settlement_report(county=county, year=o["year"])
        out.write_bytes(exports.settlement_report_xlsx(report=report).content)
        self.stdout.write(f"settlement report 结算报告 → {out}")
