"""Data comparison (信息比对) against a real lake: feed files imported with ``feed_import``,
exclusions found from them, the matching rows recorded and shown, the county's override,
and "no exclusion data" when the lake has nothing for the year."""

from __future__ import annotations

import polars as pl
import pytest
from django.utils import timezone

from fangpin.cases import services, workflow
from fangpin.cases.comparison import exclusions_compare
from fangpin.cases.models import Case
from fangpin.common.models import AuditEvent
from fangpin.feeds.services import feed_import
from fangpin.policy import spec

from .conftest import STEPS, step_data

pytestmark = pytest.mark.django_db
YEAR = timezone.localdate().year


def feed(tmp_path, kind: str, rows: list[dict]) -> str:
    path = tmp_path / f"{kind}.csv"
    pl.DataFrame(rows).write_csv(path)
    result = feed_import(kind=kind, path=path)
    assert result.ok, result.problems
    return result.batch.checksum[:16]


@pytest.fixture
def people(household):
    members = list(household.members.order_by("id"))
    assert len(members) >= 2, "the test household needs two members"
    return members


@pytest.fixture
def outsider_id(household):
    from fangpin.registry.models import Member

    return Member.objects.exclude(household=household).order_by("id").first().id_number


@pytest.fixture
def feeds(lake, tmp_path, people, outsider_id):
    """One lake with every exclusion feed: two of the household's members are excluded."""
    a, b = people[0].id_number, people[1].id_number
    return {
        "property": feed(
            tmp_path,
            "property",
            [
                # a's flat in town: excludes
                {
                    "certificate_no": "BDC2021-0001",
                    "id_number": a,
                    "registered": "2021-04-01",
                    "location": "魏县城关镇幸福小区3-201",
                    "commercial": "是",
                },
                # b's rural homestead: not commercial housing
                {
                    "certificate_no": "BDC2020-0002",
                    "id_number": b,
                    "registered": "2020-01-10",
                    "location": "本村",
                    "commercial": "否",
                },
            ],
        ),
        "vehicle": feed(
            tmp_path,
            "vehicle",
            [
                # b's private car registered this year: excludes this year, not last year
                {
                    "plate": "冀D·A1234",
                    "id_number": b,
                    "registered": f"{YEAR}-01-02",
                    "use": "非营运",
                },
                {"plate": "冀D·B5678", "id_number": a, "registered": "2019-05-05", "use": "农用"},
            ],
        ),
        "business": feed(
            tmp_path,
            "business",
            [
                # exactly the threshold (100,000 yuan) is not above it
                {
                    "credit_code": "91130434MA00000001",
                    "id_number": a,
                    "registered": "2018-03-03",
                    "capital": "100000.00",
                },
                {
                    "credit_code": "91130434MA00000002",
                    "id_number": outsider_id,
                    "registered": "2018-03-03",
                    "capital": "500000",
                },
            ],
        ),
        "payroll": feed(
            tmp_path,
            "payroll",
            [
                {"year": str(YEAR), "id_number": outsider_id, "employer": "魏县财政局"},
                {"year": str(YEAR - 1), "id_number": a, "employer": "魏县第一中学"},
            ],
        ),
    }


def compare(case, actor, **data):
    return services.case_transition(
        case=Case.objects.get(pk=case.pk), transition="data_compare", actor=actor, data=data
    )


def test_the_feeds_exclude_the_household_and_the_rows_are_recorded_and_shown(
    client, opened, walk, roles, feeds, people
):
    case = walk(opened, until="data_compare")
    client.force_login(roles["township_officer"])
    preview = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'data-testid="comparison"' in preview and "BDC2021-0001" in preview

    case = compare(case, roles["township_officer"])
    assert case.state == "village_review"
    assert case.exclusions == ["commercial_housing", "vehicle"]
    found = case.comparison
    assert found["year"] == YEAR and found["no_data"] == [] and found["threshold_fen"] == 10_000_000
    assert [
        (m["exclusion"], m["feed"], m["id_number"], m["reference"], m["batch"], m["source_row"])
        for m in found["matches"]
    ] == [
        (
            "commercial_housing",
            "property",
            people[0].id_number,
            "BDC2021-0001",
            feeds["property"],
            2,
        ),
        ("vehicle", "vehicle", people[1].id_number, "冀D·A1234", feeds["vehicle"], 2),
    ]
    event = AuditEvent.objects.get(action="cases.case.data_compare", object_id=str(case.pk))
    assert event.data["found"] == ["commercial_housing", "vehicle"]
    assert [m["reference"] for m in event.data["matches"]] == ["BDC2021-0001", "冀D·A1234"]

    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'data-testid="matches"' in page and "冀D·A1234" in page
    assert people[0].masked_id_number in page and people[0].id_number not in page
    assert 'data-testid="no-exclusion-data"' not in page
    # the API shows the matched persons masked too (issue 13: no full ID number in a response)
    api = client.get(f"/api/v1/cases/{case.pk}")
    assert api.status_code == 200 and people[0].id_number not in api.content.decode()
    assert [m["id_number"] for m in api.json()["comparison"]["matches"]] == [
        people[0].masked_id_number,
        people[1].masked_id_number,
    ]

    for name, role in STEPS[2:5]:  # on to the county, which the exclusions stop
        if name == "notice_close":
            Case.objects.filter(pk=case.pk).update(notice_end=timezone.localdate())
        case = services.case_transition(
            case=Case.objects.get(pk=case.pk),
            transition=name,
            actor=roles[role],
            data=step_data(name),
        )
    with pytest.raises(services.CaseError, match="不符合救助条件"):
        services.case_transition(
            case=case, transition="county_decide", actor=roles["county_officer"]
        )


def test_the_rules_are_the_screenings_registered_by_the_end_of_the_year(feeds, people, county):
    a, b = people[0].id_number, people[1].id_number
    last_year = exclusions_compare(id_numbers=[a, b], year=YEAR - 1, county_code=county.code)
    # the car came this year; last year's payroll lists a
    assert last_year.found == ["commercial_housing", "public_payroll"]
    assert [m["reference"] for m in last_year.matches] == ["BDC2021-0001", "魏县第一中学"]
    before_any = exclusions_compare(id_numbers=[a, b], year=2017, county_code=county.code)
    # in 2017 nothing was registered yet and there is no payroll of 2017: no data, not "none"
    assert before_any.found == [] and before_any.no_data == list(spec.EXCLUSIONS)


def test_only_a_county_officer_clears_a_wrong_feed_with_a_reason(
    client, opened, walk, roles, feeds
):
    case = walk(opened, until="data_compare")
    with pytest.raises(services.CaseError) as err:
        compare(case, roles["township_officer"], override_reason="车已卖 sold")
    assert err.value.message == services.ERR_OVERRIDE_ROLE
    done = compare(case, roles["county_officer"], override_reason="车辆已过户 sold in 2025")
    assert done.exclusions == [] and done.exclusions_override == "车辆已过户 sold in 2025"
    assert done.comparison["found"] == ["commercial_housing", "vehicle"]  # still on record
    client.force_login(roles["county_officer"])
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'data-testid="override"' in page and "车辆已过户" in page


def test_an_exclusion_found_otherwise_is_added_to_the_feeds(opened, walk, roles, feeds):
    case = compare(
        walk(opened, until="data_compare"), roles["township_officer"], exclusions=["business"]
    )
    assert case.exclusions == ["business", "commercial_housing", "vehicle"]
    assert case.comparison["otherwise"] == ["business"]


def test_an_empty_lake_says_no_exclusion_data(client, opened, walk, roles, lake):
    case = walk(opened, until="data_compare")
    client.force_login(roles["township_officer"])
    preview = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'data-testid="no-exclusion-data"' in preview
    case = compare(case, roles["township_officer"])
    assert case.exclusions == [] and case.comparison["no_data"] == list(spec.EXCLUSIONS)
    assert case.comparison["matches"] == [] and case.comparison["rows"] == dict.fromkeys(
        spec.EXCLUSIONS, 0
    )
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'data-testid="no-exclusion-data"' in page and 'data-testid="no-match"' not in page
    form = client.get(f"/cases/{case.pk}/decision-form/").content.decode()
    assert "未发现排除情形（无数据、未比对：" in form  # the printed form says so too
    api = client.get(f"/api/v1/cases/{case.pk}").json()
    assert api["comparison"]["no_data"] == list(spec.EXCLUSIONS)


def test_a_feed_missing_for_the_year_is_named(client, opened, walk, roles, lake, tmp_path, people):
    feed(
        tmp_path,
        "property",
        [
            {
                "certificate_no": "BDC2020-0009",
                "id_number": people[0].id_number,
                "registered": "2020-02-02",
                "location": "本村",
                "commercial": "否",
            }
        ],
    )
    case = compare(walk(opened, until="data_compare"), roles["township_officer"])
    assert case.exclusions == []
    assert case.comparison["no_data"] == ["public_payroll", "vehicle", "business"]
    client.force_login(roles["township_officer"])
    page = client.get(f"/cases/{case.pk}/").content.decode()
    for exclusion in ("public_payroll", "vehicle", "business"):
        assert f'data-testid="no-data-{exclusion}"' in page
    assert 'data-testid="no-data-commercial_housing"' not in page
    assert 'data-testid="no-exclusion-data"' not in page
    assert workflow.State(case.state) == workflow.State.VILLAGE_REVIEW


def test_a_year_before_the_threshold_parameter_leaves_the_business_rule_unchecked(
    lake, tmp_path, people, county
):
    a = people[0].id_number
    feed(
        tmp_path,
        "business",
        [
            {
                "credit_code": "91130434MA00000009",
                "id_number": a,
                "registered": "2015-05-05",
                "capital": "900000",
            }
        ],
    )
    # exclusions.business.capital_threshold has values from 2017 only
    in_2016 = exclusions_compare(id_numbers=[a], year=2016, county_code=county.code)
    assert in_2016.threshold_fen is None and in_2016.found == []
    assert "business" in in_2016.no_data
    in_2017 = exclusions_compare(id_numbers=[a], year=2017, county_code=county.code)
    assert in_2017.found == ["business"] and "business" not in in_2017.no_data
