"""Relief payments: at most once per decision, bank batch out, bank return in."""

from __future__ import annotations

import datetime as dt
import io

import fastexcel
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fangpin.common.models import AuditEvent
from fangpin.common.money import Money
from fangpin.funds import exports, importer, selectors, services
from fangpin.funds.importer import BankReturn, bank_return_import, bank_returns_record
from fangpin.funds.models import LedgerTransaction, Payment, PaymentAttempt, PaymentStatus
from fangpin.funds.services import FundError
from fangpin.regions.models import Region
from fangpin.registry.models import Household

from .conftest import Y1, Y2, bank_pays, read_batch_csv, write_csv

RETURN_HEADER = ["参考号", "状态", "失败原因"]


@pytest.fixture
def insured(county):
    return services.insurance_contract_create(
        county=county, year=Y1, insurer="PICC", rural_population=10_000, actor=None
    )


def request(county, household, key="K-1", amount="4540.00", year=Y1):
    return services.payment_request(
        decision_key=key, household=household, amount=amount, county=county, year=year, actor=None
    )


def test_a_retried_request_returns_the_same_payment(county, households, insured):
    first = request(county, households[0])
    again = request(county, households[0], amount=Money("4540"))
    assert again.pk == first.pk
    assert Payment.objects.filter(decision_key="K-1").count() == 1
    assert PaymentAttempt.objects.filter(payment=first).count() == 1
    assert (
        AuditEvent.objects.filter(action="funds.payment.requested", object_id=str(first.pk)).count()
        == 1
    )
    attempt = first.attempts.get()
    assert attempt.bank_account == households[0].bank_account and attempt.reference.startswith(
        "FP130434"
    )
    with pytest.raises(FundError) as refused:
        request(county, households[1])
    assert refused.value.message == services.ERR_DECISION_KEY_REUSED.format(key="K-1")
    with pytest.raises(FundError):
        request(county, households[0], amount="4540.01")


def test_a_request_that_loses_the_insert_race_returns_the_winners_payment(
    county, households, insured, monkeypatch
):
    winner = request(county, households[0])
    monkeypatch.setattr(
        "fangpin.funds.services.payments._payment_existing", lambda key: None
    )  # as if the winner had not committed yet
    loser = request(
        county, households[0]
    )  # the unique key refuses the insert; the winner's row comes back
    assert loser.pk == winner.pk
    assert Payment.objects.count() == 1 and PaymentAttempt.objects.count() == 1


@pytest.mark.parametrize(
    "setup, message",
    [
        ("no_contract", services.ERR_NO_CONTRACT.format(county="魏县", year=Y2)),
        ("no_account", None),
        ("other_county", None),
        ("negative", services.ERR_NOT_POSITIVE),
        ("blank_key", services.ERR_DECISION_KEY),
    ],
)
def test_a_request_that_cannot_be_paid_is_refused_and_writes_nothing(
    county, households, insured, setup, message
):
    h, year, amount, key = households[0], Y1, "100", "K-9"
    if setup == "no_contract":
        year = Y2
    elif setup == "no_account":
        Household.objects.filter(pk=h.pk).update(bank_account="")
        h.refresh_from_db()
    elif setup == "other_county":
        county = Region.objects.get(code="130481")
    elif setup == "negative":
        amount = "-100"
    elif setup == "blank_key":
        key = " "
    with pytest.raises(FundError) as refused:
        services.payment_request(
            decision_key=key, household=h, amount=amount, county=county, year=year, actor=None
        )
    if message:
        assert refused.value.message == message
    assert not Payment.objects.exists()


def test_the_bank_batch_holds_account_name_amount_reference_in_xlsx_and_csv(
    county, households, insured
):
    p1 = request(county, households[0], key="K-1", amount="4540.00")
    p2 = request(county, households[1], key="K-2", amount="60000.05")
    batch = services.payment_batch_export(county=county, year=Y1, actor=None)
    assert (batch.count, batch.total) == (2, Money("64540.05"))
    assert set(Payment.objects.values_list("status", flat=True)) == {PaymentStatus.EXPORTED}
    assert (
        services.payment_batch_export(county=county, year=Y1, actor=None) is None
    )  # nothing left to send
    expected = [
        [
            p.attempts.get().bank_account,
            p.attempts.get().account_name,
            amount,
            p.attempts.get().reference,
        ]
        for p, amount in ((p1, "4540.00"), (p2, "60000.05"))
    ]
    rows = read_batch_csv(exports.bank_batch_file(batch=batch, fmt="csv").content)
    assert [list(r.values()) for r in rows] == expected
    assert list(rows[0]) == exports.BATCH_HEADERS
    xlsx = exports.bank_batch_file(batch=batch, fmt="xlsx")
    sheet = (
        fastexcel.read_excel(io.BytesIO(xlsx.content).getvalue())
        .load_sheet(0, dtypes="string")
        .to_polars()
    )
    assert sheet.columns == exports.BATCH_HEADERS
    assert [list(r) for r in sheet.iter_rows()] == expected
    head = (
        Household.objects.get(pk=households[0].pk)
        .members.filter(relation__in=["户主", "head", "本人"])
        .first()
    )
    assert expected[0][1] == head.name


def test_a_bank_return_books_the_paid_keeps_the_reason_of_the_failed_and_is_idempotent(
    tmp_path, county, households, insured, county_officer
):
    services.insurance_premium_pay(contract=insured, actor=None, paid_on=dt.date(Y1, 1, 10))
    ok = request(county, households[0], key="K-1", amount="4540.00")
    bad = request(county, households[1], key="K-2", amount="100")
    _, result = bank_pays(
        tmp_path,
        county=county,
        year=Y1,
        actor=county_officer,
        failures={households[1].bank_account: "户名不符 name mismatch"},
        paid_on=dt.date(Y1, 5, 5),
    )
    assert (result.succeeded, result.failed, result.unchanged) == (1, 1, 0)
    ok.refresh_from_db()
    bad.refresh_from_db()
    assert ok.status == PaymentStatus.SUCCEEDED and ok.paid_on == dt.date(Y1, 5, 5)
    assert ok.transaction.kind == "relief" and ok.transaction.date == dt.date(Y1, 5, 5)
    assert (
        bad.status == PaymentStatus.FAILED and bad.attempts.get().reason == "户名不符 name mismatch"
    )
    balances = selectors.account_balances(county=county, year=Y1)
    assert (balances["relief_paid"], balances["premium_pool"]) == (
        Money("4540.00"),
        insured.premium - Money("4540"),
    )

    # the same return file again changes nothing
    before = (LedgerTransaction.objects.count(), AuditEvent.objects.count())
    again = bank_return_import(path=tmp_path / "return.csv", actor=county_officer)
    assert again.ok and (again.succeeded, again.failed, again.unchanged) == (0, 0, 2)
    assert (LedgerTransaction.objects.count(), AuditEvent.objects.count()) == before


def test_every_bad_return_line_is_reported_and_nothing_changes(
    tmp_path, county, households, insured
):
    exported = request(county, households[0], key="K-1", amount="4540.00")
    batch = services.payment_batch_export(county=county, year=Y1, actor=None)
    waiting = request(county, households[1], key="K-2", amount="100")  # requested, never sent
    ref, ref_waiting = exported.attempts.get().reference, waiting.attempts.get().reference
    rows = [
        [ref, "成功", "", "4540.01"],  # row 2: amount differs from the payment
        ["FP-NOPE", "成功", "", ""],  # row 3: unknown reference
        [ref_waiting, "成功", "", ""],  # row 4: never sent to the bank
        [ref, "maybe", "", ""],  # row 5: duplicate reference, bad status
        ["", "失败", "", ""],  # row 6: no reference, failed without a reason
    ]
    path = write_csv(tmp_path / "ret.csv", [*RETURN_HEADER, "金额"], rows)
    result = bank_return_import(path=path)
    lines = result.error_lines()
    for line in [
        f"{path}:2:金额: {importer.ERR_AMOUNT_MISMATCH.format(amount='4540.00')}",
        f"{path}:3:参考号: {importer.ERR_UNKNOWN_REFERENCE}",
        f"{path}:4:参考号: {importer.ERR_NOT_EXPORTED}",
        f"{path}:5:参考号: {importer.ERR_DUPLICATE_REFERENCE.format(first=2)}",
        f"{path}:5:状态: {importer.ERR_STATUS}",
        f"{path}:6:参考号: {importer.ERR_REQUIRED}",
        f"{path}:6:失败原因: {importer.ERR_REASON_FOR_FAILED}",
    ]:
        assert line in lines, (line, lines)
    assert set(Payment.objects.values_list("status", flat=True)) == {"exported", "requested"}
    assert not LedgerTransaction.objects.filter(kind="relief").exists()
    assert batch.attempts.get().status == "exported"


def test_a_return_paid_before_the_payments_fund_year_is_refused_naming_the_row(
    tmp_path, county, households, insured
):
    """The bank's return said a payment of the 2018 fund was paid on 2001-01-01: a typing
    error in the file, refused with its row — and the ledger behind it refuses it too."""
    payment = request(county, households[0], key="K-1", amount="4540.00")
    batch = services.payment_batch_export(county=county, year=Y1, actor=None)
    ref = payment.attempts.get().reference
    path = write_csv(
        tmp_path / "ret.csv", [*RETURN_HEADER, "支付日期"], [[ref, "成功", "", "2001-01-01"]]
    )
    result = bank_return_import(path=path)
    assert result.error_lines() == [
        f"{path}:2:支付日期: " + services.ERR_BEFORE_FUND_YEAR.format(date="2001-01-01", year=Y1)
    ]
    assert payment.__class__.objects.get(pk=payment.pk).status == PaymentStatus.EXPORTED
    assert not LedgerTransaction.objects.filter(kind="relief").exists()
    # the same line given in code, and the ledger's own check behind the import
    assert not bank_returns_record(
        returns=[BankReturn(ref, ok=True, paid_on=dt.date(2001, 1, 1))]
    ).ok
    with pytest.raises(FundError) as refused:
        services.bank_returns_write(
            lines=[
                services.ReturnLine(
                    attempt_id=batch.attempts.get().pk,
                    ok=True,
                    reason="",
                    paid_on=dt.date(2001, 1, 1),
                )
            ],
            actor=None,
            source_path="test",
        )
    assert refused.value.message == services.ERR_BEFORE_FUND_YEAR.format(date="2001-01-01", year=Y1)
    # the bank may pay a year's relief after the year ends, until it is settled
    late = write_csv(
        tmp_path / "late.csv", [*RETURN_HEADER, "支付日期"], [[ref, "成功", "", f"{Y1 + 1}-01-05"]]
    )
    assert bank_return_import(path=late).succeeded == 1
    assert Payment.objects.get(pk=payment.pk).paid_on == dt.date(Y1 + 1, 1, 5)


def test_a_return_cannot_turn_a_paid_payment_into_a_failed_one(county, households, insured):
    p = request(county, households[0])
    services.payment_batch_export(county=county, year=Y1, actor=None)
    ref = p.attempts.get().reference
    assert bank_returns_record(returns=[BankReturn(ref, True, paid_on=dt.date(Y1, 3, 3))]).ok
    result = bank_returns_record(returns=[BankReturn(ref, False, reason="late reject")])
    assert result.error_lines() == [
        f"api:2:status: {importer.ERR_ALREADY_RETURNED.format(status='succeeded')}"
    ]
    assert Payment.objects.get(pk=p.pk).status == PaymentStatus.SUCCEEDED


def test_only_a_failed_payment_is_requested_again_and_a_settled_year_sends_it_to_the_next(
    county, households, insured
):
    p = request(county, households[0])
    with pytest.raises(FundError) as refused:
        services.payment_retry(payment=p, actor=None)
    assert refused.value.message == services.ERR_NOT_FAILED.format(status="requested")
    services.payment_batch_export(county=county, year=Y1, actor=None)
    ref = p.attempts.get().reference
    assert bank_returns_record(returns=[BankReturn(ref, False, reason="账户冻结 frozen")]).ok
    services.fund_settle_year(county=county, year=Y1, actor=None)
    with pytest.raises(FundError, match="is settled"):
        services.payment_retry(payment=p, actor=None)
    services.insurance_contract_create(
        county=county, year=Y2, insurer="PICC", rural_population=10_000, actor=None
    )
    services.payment_retry(payment=p, actor=None, year=Y2)
    p.refresh_from_db()
    assert (p.status, p.year) == (PaymentStatus.REQUESTED, Y2)
    assert list(p.attempts.values_list("number", "status", "reason")) == [
        (1, "failed", "账户冻结 frozen"),
        (2, "requested", ""),
    ]


def test_a_year_with_payments_still_at_the_bank_does_not_settle(county, households, insured):
    request(county, households[0])
    services.payment_batch_export(county=county, year=Y1, actor=None)
    with pytest.raises(FundError) as refused:
        services.fund_settle_year(county=county, year=Y1, actor=None)
    assert refused.value.message == services.ERR_PAYMENTS_OPEN.format(n=1, year=Y1)


def test_the_fund_commands_export_a_batch_and_import_the_return(
    tmp_path, county, households, insured, capsys
):
    p = request(county, households[0], amount="777.70")
    out = tmp_path / "batch.xlsx"
    call_command("fund", "export-batch", "--county", "130434", "--year", str(Y1), "--out", str(out))
    assert "1 payments, 777.70 yuan" in capsys.readouterr().out
    sheet = fastexcel.read_excel(str(out)).load_sheet(0, dtypes="string").to_polars()
    ref = sheet["参考号/reference"][0]
    assert ref == p.attempts.get().reference
    ret = write_csv(tmp_path / "ret.csv", RETURN_HEADER, [[ref, "ok", ""]])
    call_command("fund", "bank-return", str(ret))
    assert "1 paid" in capsys.readouterr().out
    bad = write_csv(tmp_path / "bad.csv", RETURN_HEADER, [["nope", "ok", ""]])
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("fund", "bank-return", str(bad))
    assert f"{bad}:2:参考号: {importer.ERR_UNKNOWN_REFERENCE}" in capsys.readouterr().err


def test_a_name_that_is_a_formula_stays_text_in_the_bank_files(county, households, insured):
    """Formula injection (issue 13): a head's name typed as ``=HYPERLINK(…)`` at intake must
    not become a formula in the county office's Excel."""
    from fangpin.common.exports import safe_text

    head = households[0].members.filter(relation__in=["户主", "head", "本人"]).first()
    head.name = '=HYPERLINK("http://x.example/","点击")'
    head.save(update_fields=["name"])
    request(county, households[0], key="K-F", amount="100.00")
    batch = services.payment_batch_export(county=county, year=Y1, actor=None)
    rows = read_batch_csv(exports.bank_batch_file(batch=batch, fmt="csv").content)
    assert rows[0]["户名/name"] == "'" + head.name
    xlsx = exports.bank_batch_file(batch=batch, fmt="xlsx")
    sheet = fastexcel.read_excel(xlsx.content).load_sheet(0, dtypes="string").to_polars()
    assert sheet.row(0)[1] == "'" + head.name
    for start in ("=1+1", "+1+1", "-1+cmd|' /C calc'!A0", "@SUM(A1)", "\tx", "\rx"):
        assert safe_text(start).startswith("'")
    for plain in ("赵铁柱", "4540.00", "-1", "+86", "-5.00"):
        assert safe_text(plain) == plain
