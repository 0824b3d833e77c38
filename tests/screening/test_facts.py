"""A warning's page shows the department rows behind it in words, read back from the lake,
each with the batch it came in."""

from __future__ import annotations

import pytest
from django.urls import reverse

from fangpin.common.idnumber import mask_id_number
from fangpin.feeds.models import FeedBatch
from fangpin.screening.facts import warning_facts
from fangpin.screening.models import Warning
from fangpin.screening.services import screening_run

from .test_services import YEAR, person, small_lake  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db


def facts_of(no: str):
    return warning_facts(Warning.objects.get(household__household_no=no))


def cells(facts) -> list[list[str]]:
    return [[str(value) for _how, value in r["cells"]] for r in facts.rows]


def batch(kind: str) -> int:
    return FeedBatch.objects.get(kind=kind, status="accepted").pk


def test_each_circumstance_shows_its_rows_in_words(small_lake, county):  # noqa: F811
    screening_run(year=YEAR, county_code=county.code)
    medical = facts_of("HB-1")
    assert medical.title == "住院结算 · 医保"
    assert cells(medical) == [
        [
            "县医院",
            mask_id_number(person(1)),
            "2019-05-01",
            "2019-05-10",
            "15000.00",
            "0.00",
            "15000.00",
        ],
        [
            "县医院",
            mask_id_number(person(2)),
            "2019-05-01",
            "2019-05-10",
            "15000.00",
            "0.00",
            "15000.00",
        ],
    ]
    assert [(r["reference"], r["batch_id"], r["source_row"]) for r in medical.rows] == [
        ("M1", batch("medical"), 2),
        ("M2", batch("medical"), 3),
    ]
    # the student's fees (tuition, accommodation, textbooks) and aid (loans, grants)
    education = facts_of("HB-2")
    assert cells(education) == [
        [mask_id_number(person(6)), "河北传媒学院", "本科", "2019-09-01", "24400.00", "8000.00"]
    ]
    assert education.rows[0]["reference"] == mask_id_number(person(6))
    # an excluded warning shows its rows too: the officer judges the exclusion beside them
    accident = facts_of("HB-3")
    assert cells(accident) == [
        [mask_id_number(person(8)), "交通事故", "2019-06-01", "30000.00", "5000.00", "0.00"]
    ]
    farming = facts_of("HB-4")
    assert cells(farming) == [["肉牛养殖", "市场价格", "2019-08-01", "是", "20000.00", "4000.00"]]
    assert farming.missing == []


def test_a_row_no_longer_in_the_lake_is_named(small_lake, county):  # noqa: F811
    screening_run(year=YEAR, county_code=county.code)
    w = Warning.objects.get(household__household_no="HB-1")
    Warning.objects.filter(pk=w.pk).update(feed_refs=["M1", "M404"])
    facts = facts_of("HB-1")
    assert [r["reference"] for r in facts.rows] == ["M1"] and facts.missing == ["M404"]


def test_the_page_shows_the_hospital_dates_and_amounts_with_the_batch(
    client,
    small_lake,  # noqa: F811
    county,
    county_officer,
):
    screening_run(year=YEAR, county_code=county.code)
    w = Warning.objects.get(household__household_no="HB-1")
    client.force_login(county_officer)
    html = client.get(reverse("screening:detail", args=[w.pk])).content.decode()
    facts = html[html.index('data-testid="fact-rows"') :]
    for text in ("县医院", "2019-05-01", "2019-05-10", "15,000.00"):
        assert text in facts
    assert f'href="/feeds/{batch("medical")}/"' in facts
    assert person(1) not in html  # the patient's ID number is masked
