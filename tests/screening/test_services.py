"""Screening a small hand-built county: the exact warnings, idempotent re-runs, new households."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from fangpin.common.idnumber import check_char
from fangpin.feeds.services import feed_import
from fangpin.regions.models import Level, Region
from fangpin.registry.models import Household
from fangpin.registry.services import household_bulk_load
from fangpin.screening.models import Warning, WarningStatus
from fangpin.screening.services import (
    ScreeningError,
    registry_snapshot,
    screening_run,
    warning_dismiss,
)

pytestmark = pytest.mark.django_db
YEAR = 2019


def person(n: int) -> str:
    first17 = f"13048119700101{n:03d}"
    return first17 + check_char(first17)


# household -> members (index into person())
HOUSEHOLDS = {
    "HB-1": [1, 2, 3],  # ordinary, not managed: two stays, 15,000 + 15,000 self-paid
    "HB-2": [4, 5, 6, 7],  # managed marginal, income 30,000: a student, 16,400 self-paid
    "HB-3": [8, 9],  # accident 25,000 after insurance, but owns a private car: excluded
    "HB-4": [10],  # insured farming loss 16,000 after insurance
    "HB-5": [11],  # uninsured farming loss: not counted
    "HB-6": [12, 13],  # medical 19,000: below the start line
    "HB-7": [14, 15],  # medical 30,000, but a member is on the public payroll: excluded
}


def write(tmp_path, name: str, rows: list[dict]):
    path = tmp_path / f"{name}.csv"
    pl.DataFrame(rows).write_csv(path)
    result = feed_import(kind=name, path=path)
    assert result.ok, result.problems
    return result


def stay(no: str, n: int, self_paid: str) -> dict:
    return {
        "settlement_no": no,
        "id_number": person(n),
        "hospital": "县医院",
        "admitted": "2019-05-01",
        "discharged": "2019-05-10",
        "total_cost": self_paid,
        "basic_insurance": "0",
        "serious_illness": "0",
        "medical_assistance": "0",
        "self_paid": self_paid,
    }


@pytest.fixture
def small_lake(lake, tmp_path, county):
    village = Region.objects.filter(level=Level.VILLAGE, path__startswith=county.path).first()
    roster = [
        {
            "year": str(YEAR),
            "id_number": person(n),
            "name": f"人{n}",
            "household_no": no,
            "village_code": village.code,
            "relation": "户主" if i == 0 else "子女",
        }
        for no, people in HOUSEHOLDS.items()
        for i, n in enumerate(people)
    ]
    write(tmp_path, "roster", roster)
    write(
        tmp_path,
        "medical",
        [
            stay("M1", 1, "15000"),
            stay("M2", 2, "15000"),
            stay("M3", 12, "19000"),
            stay("M4", 14, "30000"),
        ],
    )
    write(
        tmp_path,
        "education",
        [
            {
                "id_number": person(6),
                "school": "河北传媒学院",
                "level": "本科",
                "full_time": "是",
                "term_start": "2019-09-01",
                "tuition": "18000",
                "accommodation": "1400",
                "textbooks": "5000",
                "loan": "8000",
                "grant": "0",
            }
        ],
    )
    write(
        tmp_path,
        "accident",
        [
            {
                "event_no": "A1",
                "id_number": person(8),
                "event_date": "2019-06-01",
                "event_kind": "交通事故",
                "loss": "30000",
                "insurance_paid": "5000",
                "assistance_paid": "0",
            }
        ],
    )
    farming = {
        "project_no": "F1",
        "id_number": person(10),
        "project": "肉牛养殖",
        "insured": "是",
        "cause": "市场价格",
        "loss_date": "2019-08-01",
        "loss": "20000",
        "insurance_paid": "4000",
    }
    write(
        tmp_path,
        "farming",
        [
            farming,
            {
                **farming,
                "project_no": "F2",
                "id_number": person(11),
                "insured": "否",
                "insurance_paid": "0",
            },
        ],
    )
    write(
        tmp_path,
        "vehicle",
        [
            {
                "plate": "冀D12345",
                "id_number": person(9),
                "registered": "2015-01-01",
                "use": "非营运",
            }
        ],
    )
    write(tmp_path, "payroll", [{"year": "2019", "id_number": person(15), "employer": "县教育局"}])
    household_bulk_load(
        households=pl.DataFrame(
            {
                "household_no": ["HB-2"],
                "village_code": [village.code],
                "household_type": ["marginal"],
                "bank": [""],
                "bank_account": [""],
            }
        ),
        members=pl.DataFrame(
            {
                "household_no": ["HB-2"] * 4,
                "name": ["甲", "乙", "丙", "丁"],
                "id_number": [person(n) for n in (4, 5, 6, 7)],
                "relation": ["户主", "配偶", "子", "女"],
                "labour": ["able"] * 4,
            }
        ),
        incomes=pl.DataFrame(
            {"household_no": ["HB-2"], "year": [YEAR], "annual_income_fen": [3_000_000]}
        ),
        village_ids={village.code: (village.pk, village.path)},
    )
    return village


def warnings() -> list[tuple]:
    return sorted(
        (
            w.household.household_no,
            w.circumstance,
            w.year,
            w.household_type,
            w.members,
            w.income_known,
            w.self_paid.amount,
            w.estimated_relief.amount,
        )
        for w in Warning.objects.select_related("household")
    )


def test_the_hand_built_county_gives_exactly_the_expected_warnings(small_lake, county):
    run = screening_run(year=YEAR, county_code=county.code)
    assert warnings() == [
        ("HB-1", "medical", 2019, "ordinary", 3, False, Decimal("30000.00"), Decimal("5000.00")),
        ("HB-2", "education", 2019, "marginal", 4, True, Decimal("16400.00"), Decimal("4540.00")),
        ("HB-4", "industry", 2019, "ordinary", 1, False, Decimal("16000.00"), Decimal("5600.00")),
    ]
    assert (run.warnings_found, run.warnings_added, run.households_added) == (3, 3, 2)
    hb1 = Household.objects.get(household_no="HB-1")
    assert hb1.household_type == "ordinary"
    assert sorted(hb1.members.values_list("name", "id_number", "relation")) == [
        ("人1", person(1), "户主"),
        ("人2", person(2), "子女"),
        ("人3", person(3), "子女"),
    ]
    assert hb1.village_id == small_lake.pk
    w = Warning.objects.get(household=hb1)
    assert w.feed_refs == ["M1", "M2"] and w.parameter_version and w.status == WarningStatus.OPEN
    assert not Household.objects.filter(household_no__in=["HB-3", "HB-5", "HB-6", "HB-7"]).exists()


def test_a_re_run_adds_nothing_and_keeps_decisions(small_lake, county, county_officer):
    screening_run(year=YEAR, county_code=county.code)
    first = warnings()
    w = Warning.objects.get(household__household_no="HB-1")
    warning_dismiss(warning=w, actor=county_officer, reason="已核实收入高于标准")
    again = screening_run(year=YEAR, county_code=county.code)
    assert (again.warnings_found, again.warnings_added, again.households_added) == (3, 0, 0)
    assert warnings() == first
    assert Warning.objects.get(pk=w.pk).status == WarningStatus.DISMISSED


def test_a_new_feed_batch_adds_only_the_new_warning(small_lake, county, tmp_path):
    screening_run(year=YEAR, county_code=county.code)
    write(tmp_path, "medical", [stay("M9", 12, "6000")])  # HB-6 now 25,000
    run = screening_run(year=YEAR, county_code=county.code)
    assert run.warnings_added == 1
    w = Warning.objects.get(household__household_no="HB-6")
    assert w.self_paid.amount == Decimal("25000.00") and w.estimated_relief.amount == Decimal(
        "2500.00"
    )


def test_screening_without_a_roster_for_the_year_is_refused(lake):
    with pytest.raises(ScreeningError, match="no roster for 2018"):
        screening_run(year=2018)


def test_a_dismissal_needs_a_reason_and_an_open_warning(small_lake, county, county_officer):
    screening_run(year=YEAR, county_code=county.code)
    w = Warning.objects.first()
    with pytest.raises(ScreeningError, match="reason"):
        warning_dismiss(warning=w, actor=county_officer, reason=" ")
    warning_dismiss(warning=w, actor=county_officer, reason="重复预警，已处理")
    with pytest.raises(ScreeningError, match="no longer open"):
        warning_dismiss(warning=w, actor=county_officer, reason="再次排除测试")


def test_the_business_exclusion_threshold_comes_from_the_policy_parameters():
    import datetime as dt

    from fangpin.policy.loader import parameters_default
    from fangpin.screening.expression import business_threshold_fen

    params = parameters_default()
    on = dt.date(2019, 12, 31)
    in_force = params.in_force("130434", on).value("exclusions.business.capital_threshold")
    assert business_threshold_fen(params, county_code="130434", on=on) == int(in_force * 100)
    assert business_threshold_fen(params, county_code="", on=on) == int(in_force * 100)


def test_the_income_a_civil_affairs_assessment_implies_is_the_basis_where_the_registry_has_none(
    small_lake, county, tmp_path
):
    write(
        tmp_path,
        "assistance",
        [
            # HB-1 on 低保, assessed at 2,000 a person: 6,000 for its 3 members — still helped
            {
                "year": "2019",
                "id_number": person(2),
                "assistance": "低保",
                "amount": "3000",
                "assessed_income": "2000",
            },
            # HB-4 assessed at 30,000: (30,000 − 16,000) / 1 is above the line — no warning
            {
                "year": "2019",
                "id_number": person(10),
                "assistance": "临时救助",
                "amount": "800",
                "assessed_income": "30000",
            },
            # a one-off without an assessment implies nothing (HB-2 keeps its registry income)
            {
                "year": "2019",
                "id_number": person(4),
                "assistance": "临时救助",
                "amount": "500",
                "assessed_income": "",
            },
        ],
    )
    screening_run(year=YEAR, county_code=county.code)
    assert warnings() == [
        ("HB-1", "medical", 2019, "ordinary", 3, True, Decimal("30000.00"), Decimal("5000.00")),
        ("HB-2", "education", 2019, "marginal", 4, True, Decimal("16400.00"), Decimal("4540.00")),
    ]
    sources = dict(Warning.objects.values_list("household__household_no", "income_source"))
    assert sources == {"HB-1": "assistance", "HB-2": "registry"}
    assert Warning.objects.get(household__household_no="HB-1").annual_income.amount == Decimal(
        "6000.00"
    )


def test_a_household_in_a_village_outside_the_region_tree_is_reported_not_dropped(
    small_lake, county, tmp_path, capsys
):
    from django.core.management import call_command

    from fangpin.common.models import AuditEvent

    write(
        tmp_path,
        "roster",
        [
            {
                "year": str(YEAR),
                "id_number": person(30),
                "name": "人30",
                "household_no": "HB-X",
                "village_code": f"{county.code}999999",
                "relation": "户主",
            }
        ],
    )
    write(tmp_path, "medical", [stay("MX", 30, "30000")])
    call_command("screen", "--year", str(YEAR), "--county", county.code)
    err = capsys.readouterr().err
    assert "1 warnings not recorded" in err and "村代码不在区划中" in err
    assert not Household.objects.filter(household_no="HB-X").exists()
    assert Warning.objects.count() == 3  # the three of the hand-built county
    event = AuditEvent.objects.filter(action="screening.run").latest("id")
    assert event.data["unplaced"] == 1
    assert event.data["unplaced_villages"] == [f"{county.code}999999"]


def test_a_snapshot_of_some_households_is_the_whole_snapshot_cut_to_them(small_lake):
    """What the screening reads of the registry for its candidates is what the whole
    snapshot says of them: latest income of the year or before, null count without members."""
    household_bulk_load(
        households=pl.DataFrame(
            {
                "household_no": ["HB-8", "HB-9"],
                "village_code": [small_lake.code] * 2,
                "household_type": ["unstable", "ordinary"],
                "bank": [""] * 2,
                "bank_account": [""] * 2,
            }
        ),
        members=pl.DataFrame(
            {
                "household_no": ["HB-9"],
                "name": ["戊"],
                "id_number": [person(30)],
                "relation": ["户主"],
                "labour": ["able"],
            }
        ),
        incomes=pl.DataFrame(
            {
                "household_no": ["HB-8", "HB-8", "HB-8"],
                "year": [YEAR - 1, YEAR, YEAR + 1],
                "annual_income_fen": [100, 200, 300],
            }
        ),
        village_ids={small_lake.code: (small_lake.pk, small_lake.path)},
    )
    whole = pl.from_arrow(registry_snapshot(year=YEAR))
    whole = whole.filter(pl.col("household_no").str.starts_with("HB-")).sort("household_no")
    assert whole.rows() == [
        ("HB-2", "marginal", 4, 3_000_000),
        ("HB-8", "unstable", None, 200),
        ("HB-9", "ordinary", 1, None),
    ]
    some = pl.from_arrow(registry_snapshot(year=YEAR, household_nos=["HB-8", "HB-9", "HB-1"]))
    assert some.sort("household_no").rows() == whole.rows()[1:]
    assert pl.from_arrow(registry_snapshot(year=YEAR - 1, household_nos=["HB-8"])).rows() == [
        ("HB-8", "unstable", None, 100)
    ]
    assert registry_snapshot(year=YEAR, household_nos=[]).num_rows == 0
