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
from fangpin.screening import triage
from fangpin.screening.models import Warning, WarningStatus
from fangpin.screening.services import ScreeningError, registry_snapshot, screening_run
from fangpin.screening.triage import warning_dismiss, warning_exclusion_override

pytestmark = pytest.mark.django_db
YEAR = 2019


def person(n: int) -> str:
    first17 = f"13048119700101{n:03d}"
    return first17 + check_char(first17)


# household -> members (index into person())
HOUSEHOLDS = {
    "HB-1": [1, 2, 3],  # ordinary, not managed: two stays, 15,000 + 15,000 self-paid
    "HB-2": [4, 5, 6, 7],  # managed marginal, income 30,000: a student, 16,400 self-paid
    "HB-3": [8, 9],  # accident 25,000 after insurance, but owns a private car: excluded (8,000)
    "HB-4": [10],  # insured farming loss 16,000 after insurance
    "HB-5": [11],  # uninsured farming loss: not counted
    "HB-6": [12, 13],  # medical 19,000: below the start line
    "HB-7": [14, 15],  # medical 30,000, but a member on the public payroll: excluded (5,000)
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
            w.status,
            w.exclusions,
        )
        for w in Warning.objects.select_related("household")
    )


NEW, EXCLUDED = WarningStatus.NEW, WarningStatus.EXCLUDED
# the two households an exclusion rules out, as excluded warnings with the relief they would
# have had without it: HB-3's accident (10,000 × 50% + 5,000 × 60%), HB-7's stays (10,000 × 50%)
HB_3 = ("HB-3", "accident", 2019, "ordinary", 2, False, Decimal("25000.00"), Decimal("8000.00"))
HB_7 = ("HB-7", "medical", 2019, "ordinary", 2, False, Decimal("30000.00"), Decimal("5000.00"))


def test_the_hand_built_county_gives_exactly_the_expected_warnings(small_lake, county):
    run = screening_run(year=YEAR, county_code=county.code)
    assert warnings() == [
        (
            *("HB-1", "medical", 2019, "ordinary", 3, False),
            *(Decimal("30000.00"), Decimal("5000.00"), NEW, []),
        ),
        (
            *("HB-2", "education", 2019, "marginal", 4, True),
            *(Decimal("16400.00"), Decimal("4540.00"), NEW, []),
        ),
        (*HB_3, EXCLUDED, ["vehicle"]),
        (
            *("HB-4", "industry", 2019, "ordinary", 1, False),
            *(Decimal("16000.00"), Decimal("5600.00"), NEW, []),
        ),
        (*HB_7, EXCLUDED, ["public_payroll"]),
    ]
    assert (run.warnings_found, run.warnings_added, run.households_added) == (5, 5, 4)
    assert (run.warnings_excluded, run.warnings_reopened) == (2, 0)
    hb1 = Household.objects.get(household_no="HB-1")
    assert hb1.household_type == "ordinary"
    assert sorted(hb1.members.values_list("name", "id_number", "relation")) == [
        ("人1", person(1), "户主"),
        ("人2", person(2), "子女"),
        ("人3", person(3), "子女"),
    ]
    assert hb1.village_id == small_lake.pk
    w = Warning.objects.get(household=hb1)
    assert w.feed_refs == ["M1", "M2"] and w.parameter_version and w.status == WarningStatus.NEW
    assert w.exclusion_matches == []
    assert not Household.objects.filter(household_no__in=["HB-5", "HB-6"]).exists()
    # the excluded households are in the registry too, with their roster members
    hb3 = Household.objects.get(household_no="HB-3")
    assert sorted(hb3.members.values_list("id_number", flat=True)) == [person(8), person(9)]


def test_a_re_run_adds_nothing_and_keeps_decisions(small_lake, county, county_officer):
    screening_run(year=YEAR, county_code=county.code)
    w = Warning.objects.get(household__household_no="HB-1")
    warning_dismiss(
        warning=w, actor=county_officer, reason_code="income_above", reason="已核实收入高于标准"
    )
    first = warnings()
    again = screening_run(year=YEAR, county_code=county.code)
    assert (again.warnings_found, again.warnings_added, again.households_added) == (5, 0, 0)
    assert (again.warnings_excluded, again.warnings_reopened) == (2, 0)
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


def test_a_dismissal_needs_a_reason_and_a_warning_still_to_work(small_lake, county, county_officer):
    screening_run(year=YEAR, county_code=county.code)
    w = Warning.objects.filter(status=WarningStatus.NEW).first()
    with pytest.raises(ScreeningError) as err:
        warning_dismiss(warning=w, actor=county_officer, reason_code="duplicate", reason="重复预警")
    assert err.value.message == str(triage.ERR_REASON_CODE)
    with pytest.raises(ScreeningError) as err:
        warning_dismiss(warning=w, actor=county_officer, reason_code="other", reason=" ")
    assert err.value.message == str(triage.ERR_REASON)
    warning_dismiss(
        warning=w, actor=county_officer, reason_code="already_helped", reason="重复预警，已处理"
    )
    with pytest.raises(ScreeningError) as err:
        warning_dismiss(warning=w, actor=county_officer, reason_code="other", reason="再次排除测试")
    assert err.value.message == str(triage.ERR_WRONG_STATE) % {
        "n": 1,
        "states": WarningStatus.DISMISSED.label,
        "transition": triage.TRANSITIONS["dismiss"].label,
    }


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
        (
            *("HB-1", "medical", 2019, "ordinary", 3, True),
            *(Decimal("30000.00"), Decimal("5000.00"), NEW, []),
        ),
        (
            *("HB-2", "education", 2019, "marginal", 4, True),
            *(Decimal("16400.00"), Decimal("4540.00"), NEW, []),
        ),
        (*HB_3, EXCLUDED, ["vehicle"]),
        (*HB_7, EXCLUDED, ["public_payroll"]),
    ]
    sources = dict(Warning.objects.values_list("household__household_no", "income_source"))
    assert sources == {
        "HB-1": "assistance",
        "HB-2": "registry",
        "HB-3": "unknown",
        "HB-7": "unknown",
    }
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
    assert Warning.objects.count() == 5  # the five of the hand-built county
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


# --- excluded households (信息比对): kept as excluded warnings, overridable by the county ------


def batch_of(kind: str) -> str:
    """The lake's tag of the one batch of ``kind`` (its checksum's first 16 characters)."""
    from fangpin.feeds.models import FeedBatch

    return FeedBatch.objects.get(kind=kind).checksum[:16]


def test_an_excluded_household_is_an_excluded_warning_naming_the_feed_row_that_excludes_it(
    small_lake, county
):
    screening_run(year=YEAR, county_code=county.code)
    hb3 = Warning.objects.get(household__household_no="HB-3")
    assert hb3.status == WarningStatus.EXCLUDED and hb3.exclusions == ["vehicle"]
    assert hb3.estimated_relief.amount == Decimal("8000.00")  # what it would have without the car
    assert hb3.feed_refs == ["A1"]
    assert hb3.exclusion_matches == [
        {
            "exclusion": "vehicle",
            "feed": "vehicle",
            "id_number": person(9),
            "reference": "冀D12345",
            "detail": "private",
            "batch": batch_of("vehicle"),
            "source_row": 2,
        }
    ]
    hb7 = Warning.objects.get(household__household_no="HB-7")
    assert (hb7.status, hb7.exclusions) == (WarningStatus.EXCLUDED, ["public_payroll"])
    assert [
        (m["feed"], m["id_number"], m["reference"], m["batch"]) for m in hb7.exclusion_matches
    ] == [("payroll", person(15), "县教育局", batch_of("payroll"))]


def test_a_county_officer_overrides_an_exclusion_with_a_reason_and_it_is_audited(
    small_lake, county, county_officer
):
    from fangpin.common.models import AuditEvent

    screening_run(year=YEAR, county_code=county.code)
    w = Warning.objects.get(household__household_no="HB-3")
    done = warning_exclusion_override(
        warning=w, actor=county_officer, reason="车辆已于2018年转让，车管数据未更新"
    )
    w.refresh_from_db()
    assert (w.status, w.reason, w.decided_by) == (
        WarningStatus.NEW,
        "车辆已于2018年转让，车管数据未更新",
        county_officer,
    )
    assert done.pk == w.pk and w.exclusions == ["vehicle"]  # what was overridden stays on record
    event = AuditEvent.objects.get(action="screening.warning.exclusion_overridden")
    assert (event.object_id, event.actor, event.from_state, event.to_state) == (
        str(w.pk),
        county_officer,
        WarningStatus.EXCLUDED,
        WarningStatus.NEW,
    )
    assert event.reason == w.reason and event.data["exclusions"] == ["vehicle"]
    assert event.region_path == w.region_path
    # an officer's override is a decision: a re-run that still finds the car leaves it open
    again = screening_run(year=YEAR, county_code=county.code)
    assert (again.warnings_added, again.warnings_reopened) == (0, 0)
    assert Warning.objects.get(pk=w.pk).status == WarningStatus.NEW
    assert Warning.objects.filter(household__household_no="HB-3").count() == 1
    # overridden once: it is no longer excluded
    with pytest.raises(ScreeningError, match="not excluded"):
        warning_exclusion_override(warning=w, actor=county_officer, reason="再次推翻测试")


def test_an_override_without_a_reason_is_refused_and_changes_nothing(
    small_lake, county, county_officer
):
    from fangpin.common.models import AuditEvent

    screening_run(year=YEAR, county_code=county.code)
    w = Warning.objects.get(household__household_no="HB-7")
    for reason in ("", "  ", "短"):
        with pytest.raises(ScreeningError, match="reason"):
            warning_exclusion_override(warning=w, actor=county_officer, reason=reason)
    assert Warning.objects.get(pk=w.pk).status == WarningStatus.EXCLUDED
    assert not AuditEvent.objects.filter(action="screening.warning.exclusion_overridden").exists()


def test_only_a_county_officer_may_override_an_exclusion(
    small_lake, county, township_officer, city_admin, make_user
):
    from django.core.exceptions import PermissionDenied

    screening_run(year=YEAR, county_code=county.code)
    w = Warning.objects.get(household__household_no="HB-3")
    township = make_user("township_officer", small_lake.parent, username="twp-of-hb3")
    for user in (township, township_officer, city_admin):
        with pytest.raises(PermissionDenied, match="may not"):
            warning_exclusion_override(warning=w, actor=user, reason="越权推翻比对排除")
    assert Warning.objects.get(pk=w.pk).status == WarningStatus.EXCLUDED


def test_an_open_warning_cannot_be_overridden(small_lake, county, county_officer):
    screening_run(year=YEAR, county_code=county.code)
    w = Warning.objects.get(household__household_no="HB-1")
    with pytest.raises(ScreeningError, match="not excluded"):
        warning_exclusion_override(warning=w, actor=county_officer, reason="不应允许的推翻")


def without_vehicle_exclusion():
    """The reference parameters with 魏县 no longer excluding households with a private car."""
    import datetime as dt

    from fangpin.policy import spec
    from fangpin.policy.loader import parameters_load

    document = {
        "county": "130434",
        "parameters": {
            spec.exclusion_path("vehicle"): {
                "metadata": {"source": "assumed", "reference": "test"},
                "values": {dt.date(2017, 1, 1): {"value": False}},
            }
        },
    }
    return parameters_load(county_documents={"130434": document})


def test_a_county_that_does_not_apply_an_exclusion_gets_an_open_warning(small_lake, county):
    screening_run(year=YEAR, county_code=county.code, parameters=without_vehicle_exclusion())
    hb3 = Warning.objects.get(household__household_no="HB-3")
    assert (hb3.status, hb3.exclusions, hb3.exclusion_matches) == (WarningStatus.NEW, [], [])
    assert Warning.objects.get(household__household_no="HB-7").status == WarningStatus.EXCLUDED


def test_an_excluded_warning_a_re_run_no_longer_finds_excluded_is_open_again(small_lake, county):
    from fangpin.common.models import AuditEvent

    first = screening_run(year=YEAR, county_code=county.code)
    hb3 = Warning.objects.get(household__household_no="HB-3")
    again = screening_run(
        year=YEAR, county_code=county.code, parameters=without_vehicle_exclusion()
    )
    assert (again.warnings_added, again.warnings_excluded, again.warnings_reopened) == (0, 1, 1)
    hb3.refresh_from_db()
    assert (hb3.status, hb3.exclusions, hb3.exclusion_matches) == (WarningStatus.NEW, [], [])
    assert hb3.run_id == first.pk  # the same warning, not a second one
    event = AuditEvent.objects.get(action="screening.warning.reopened")
    assert (event.object_id, event.from_state, event.to_state) == (
        str(hb3.pk),
        WarningStatus.EXCLUDED,
        WarningStatus.NEW,
    )
    assert event.data == {"run": again.pk, "exclusions": ["vehicle"]}
    # HB-7's payroll still applies: it stays excluded
    assert Warning.objects.get(household__household_no="HB-7").status == WarningStatus.EXCLUDED
