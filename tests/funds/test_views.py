"""The fund pages and API as each role meets them: scoped to the region, read-only for auditors."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from fangpin.accounts.models import ApiToken
from fangpin.common.models import AuditEvent
from fangpin.common.money import Money
from fangpin.funds import selectors, services
from fangpin.funds.models import Contribution, Payment, PaymentStatus, Settlement
from fangpin.regions.models import Region

from .conftest import Y1, read_batch_csv, write_csv

PAGE = f"/funds/130434/{Y1}/"


@pytest.fixture
def funded(county, households):
    """2018 with money raised, a paid premium and one payment requested."""
    services.fund_contribution_record(
        county=county,
        year=Y1,
        source="central",
        amount="500000",
        document_no="V-1",
        received_on=dt.date(Y1, 1, 3),
        actor=None,
    )
    k = services.insurance_contract_create(
        county=county, year=Y1, insurer="PICC", rural_population=20_000, actor=None
    )
    services.insurance_premium_pay(contract=k, actor=None, paid_on=dt.date(Y1, 1, 4))
    services.payment_request(
        decision_key="V-P1",
        household=households[0],
        amount="4540",
        county=county,
        year=Y1,
        actor=None,
    )
    return k


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_a_county_officer_lands_on_their_county_and_sees_its_figures(county_officer, funded):
    c = login(county_officer)
    assert c.get("/funds/").url == f"/funds/130434/{dt.date.today().year}/"
    html = c.get(PAGE).content.decode()
    assert 'data-testid="premium">100,000.00<' in html  # 20,000 × 10% × 50
    assert 'data-testid="fund-available">400,000.00<' in html
    assert 'data-testid="contribution-form"' in html and 'data-testid="export-batch"' in html
    assert 'href="/funds/"' in html  # the navigation shows the fund


def test_another_county_is_not_found_and_a_township_or_village_has_no_fund(
    funded, make_user, townships
):
    wuan = make_user("county_officer", Region.objects.get(code="130481"), username="wuan")
    assert login(wuan).get(PAGE).status_code == 404
    assert login(make_user("township_officer", townships[0])).get("/funds/").status_code == 403
    village = townships[0].children.first()
    assert (
        'href="/funds/"' not in login(make_user("village_cadre", village)).get("/").content.decode()
    )


def test_the_city_sees_every_county_side_by_side(city_admin, funded):
    html = login(city_admin).get(f"/funds/?year={Y1}").content.decode()
    assert html.count("<tr data-county=") == 18
    row = html.split('data-county="130434"')[1].split("</tr>")[0]
    assert "100,000.00" in row and "0.0%" in row


def test_an_auditor_reads_but_cannot_write(county, make_user, funded):
    auditor = make_user("auditor", county)
    c = login(auditor)
    html = c.get(PAGE).content.decode()
    assert 'data-testid="fund-stats"' in html
    assert (
        'data-testid="contribution-form"' not in html and 'data-testid="export-batch"' not in html
    )
    assert c.post(f"{PAGE}settle/").status_code == 403
    assert (
        c.post(
            f"{PAGE}contributions/",
            {"source": "central", "amount": "1", "document_no": "A", "received_on": f"{Y1}-02-02"},
        ).status_code
        == 403
    )
    assert c.post(f"{PAGE}batches/").status_code == 403
    assert c.get(f"{PAGE}ledger/").status_code == 200
    assert not Settlement.objects.exists() and Contribution.objects.count() == 1


def test_recording_a_contribution_on_the_page(county_officer, funded):
    c = login(county_officer)
    r = c.post(
        f"{PAGE}contributions/",
        {
            "source": "donation",
            "amount": "1234.56",
            "document_no": "捐-9",
            "received_on": f"{Y1}-03-03",
            "note": "",
        },
    )
    assert r.status_code == 302
    assert Contribution.objects.get(document_no="捐-9").amount == Money("1234.56")
    r = c.post(
        f"{PAGE}contributions/",
        {
            "source": "donation",
            "amount": "-3",
            "document_no": "捐-10",
            "received_on": f"{Y1}-03-03",
        },
    )
    assert r.status_code == 400
    assert "金额必须大于零" in r.content.decode()
    assert not Contribution.objects.filter(document_no="捐-10").exists()


def test_a_payment_run_and_settlement_on_the_pages(tmp_path, county_officer, funded, county):
    c = login(county_officer)
    assert c.post(f"{PAGE}batches/").status_code == 302
    payment = Payment.objects.get(decision_key="V-P1")
    batch = payment.attempts.get().batch
    csv_file = c.get(f"/funds/batches/{batch.pk}/csv/")
    assert csv_file["Content-Disposition"].endswith(f'{batch.filename_stem}.csv"')
    (row,) = read_batch_csv(csv_file.content)
    assert row["金额/amount"] == "4540.00"
    assert c.get(f"/funds/batches/{batch.pk}/xlsx/").content[:2] == b"PK"
    assert (
        AuditEvent.objects.filter(action="funds.batch.downloaded", actor=county_officer).count()
        == 2
    )

    ret = write_csv(
        tmp_path / "ret.csv",
        ["参考号", "状态", "失败原因"],
        [[row["参考号/reference"], "成功", ""]],
    )
    with open(ret, "rb") as fh:
        r = c.post("/funds/bank-return/", {"file": fh})
    assert r.status_code == 200 and 'data-testid="import-ok"' in r.content.decode()
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.SUCCEEDED

    assert c.post(f"{PAGE}settle/").status_code == 302
    assert selectors.settlement_current(county=county, year=Y1).result == Money("95460.00")
    html = c.get(PAGE).content.decode()
    assert 'data-testid="settled"' in html and 'data-testid="settlement-result">95,460.00<' in html
    report = c.get(f"{PAGE}settlement/").content.decode()
    assert "95,460.00" in report and "防贫保险年终结算" in report
    assert c.get(f"/funds/130434/{Y1}/settlement.xlsx").content[:2] == b"PK"
    r = c.post(f"{PAGE}reopen/", {"reason": ""})
    assert r.status_code == 400 and "请填写原因" in r.content.decode()
    assert c.post(f"{PAGE}reopen/", {"reason": "wrong return file"}).status_code == 302
    assert selectors.settlement_current(county=county, year=Y1) is None


def test_a_contract_is_recorded_and_its_premium_paid_on_the_page(county_officer):
    c = login(county_officer)
    page = f"/funds/130434/{Y1 - 1}/"
    r = c.post(
        f"{page}contract/",
        {
            "insurer": "PICC",
            "rural_population": "800000",
            "insured_share": "",
            "premium_per_person": "",
            "fee_rate": "",
        },
    )
    assert r.status_code == 302
    assert 'data-testid="premium">0.00<' in c.get(page).content.decode()  # recorded, not yet paid
    c.post(f"{page}premium/")
    assert 'data-testid="premium">4,000,000.00<' in c.get(page).content.decode()
    r = c.post(
        f"{page}contract/", {"insurer": "PICC", "rural_population": "1", "insured_share": "1.5"}
    )
    assert r.status_code == 400


def test_the_contributions_upload_lists_every_problem(tmp_path, county_officer):
    path = write_csv(
        tmp_path / "c.csv",
        ["县代码", "资金来源", "金额", "文号", "到账日期"],
        [["130434", "中央", "-1", "D", f"{Y1}-01-01"]],
    )
    c = login(county_officer)
    with open(path, "rb") as fh:
        r = c.post("/funds/import/", {"file": fh})
    assert r.status_code == 400
    assert (
        'data-testid="import-errors"' in r.content.decode()
        and "金额不能为负数" in r.content.decode()
    )
    report = c.get("/funds/import/report.xlsx")
    assert report["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "c-problems.xlsx" in report["Content-Disposition"]


# --- the API -------------------------------------------------------------------------------------


def bearer(user):
    _, key = ApiToken.issue(user=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_the_api_reports_a_county_and_refuses_outside_the_region(county_officer, funded, make_user):
    c = Client()
    body = c.get(f"/api/v1/funds/130434/{Y1}", **bearer(county_officer)).json()
    assert (body["premium"], body["fund_balance"], body["in_flight"], body["settled"]) == (
        "100000.00",
        "400000.00",
        "4540.00",
        False,
    )
    assert {b["account"]: b["balance"] for b in body["balances"]}["source_central"] == "500000.00"
    wuan = make_user("county_officer", Region.objects.get(code="130481"), username="wuan")
    assert c.get(f"/api/v1/funds/130434/{Y1}", **bearer(wuan)).status_code == 404
    assert c.get(f"/api/v1/funds/130434/{Y1}").status_code == 401
    journal = c.get(f"/api/v1/funds/130434/{Y1}/transactions", **bearer(county_officer)).json()
    assert journal["count"] == 2 and all(
        sum(Money(leg["amount"]) for leg in t["legs"]) == 0 for t in journal["items"]
    )
    payments = c.get(
        f"/api/v1/funds/130434/{Y1}/payments?status=requested", **bearer(county_officer)
    ).json()
    assert [p["decision_key"] for p in payments["items"]] == ["V-P1"]


def test_the_api_records_contributions_and_settles(county_officer, city_admin, county, make_user):
    c = Client()
    url = f"/api/v1/funds/130434/{Y1}/contributions"
    payload = {
        "source": "city",
        "amount": "250000.00",
        "document_no": "API-1",
        "received_on": f"{Y1}-04-01",
    }
    r = c.post(url, payload, content_type="application/json", **bearer(county_officer))
    assert r.status_code == 201 and r.json()["amount"] == "250000.00"
    r = c.post(url, payload, content_type="application/json", **bearer(county_officer))
    assert r.status_code == 422 and "文号已登记" in r.json()["detail"]
    auditor = make_user("auditor", county)
    assert (
        c.post(
            url,
            payload | {"document_no": "API-2"},
            content_type="application/json",
            **bearer(auditor),
        ).status_code
        == 403
    )
    r = c.post(f"/api/v1/funds/130434/{Y1}/settle", **bearer(county_officer))
    assert r.status_code == 200 and r.json()["carried_forward"] == "250000.00"
    rows = c.get(f"/api/v1/funds/counties?year={Y1 + 1}", **bearer(city_admin)).json()
    assert len(rows) == 18
    assert next(r for r in rows if r["county_code"] == "130434")["brought_forward"] == "250000.00"
