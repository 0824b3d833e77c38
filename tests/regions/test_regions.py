import pytest

from fangpin.regions import handan
from fangpin.regions.models import Level, Region


def test_the_real_handan_tree_ships_with_eighteen_county_level_units(db):
    county_rows = handan.counties()
    assert len(county_rows) == 18
    city = Region.objects.get(code="130400")
    assert city.name == "邯郸市" and city.level == Level.CITY
    counties = Region.objects.filter(level=Level.COUNTY, parent=city)
    assert counties.count() == 18
    names = dict(counties.values_list("code", "name"))
    assert names["130434"] == "魏县" and names["130432"] == "广平县" and names["130433"] == "馆陶县"
    assert names["130481"] == "武安市" and names["130407"] == "肥乡区"
    assert not Region.objects.filter(code__in=list(handan.FORMER_CODES)).exists()


def test_a_subtree_is_one_path_prefix(county):
    township = county.children.first()
    village = township.children.first()
    assert village.path == f"130400/{county.code}/{township.code}/{village.code}/"
    assert village.is_within(county) and not county.is_within(village)
    assert [r.code for r in village.ancestors()] == ["130400", county.code, township.code]


def test_region_level_is_checked_by_the_database(db):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Region.objects.create(code="999999", name="x", level="planet")
