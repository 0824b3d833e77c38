"""Home pages per role, the language switch, and the demo command."""

from django.core.management import call_command
from django.test import Client

from fangpin.accounts.models import Role, User
from fangpin.registry.models import Household
from fangpin.synth.management.commands.demo import DEMO_PASSWORD


def test_each_role_gets_a_home_page_with_its_own_counts(townships, make_user, county):
    village = townships[0].children.first()
    for role, region in [
        ("county_officer", county),
        ("township_officer", townships[0]),
        ("village_cadre", village),
        ("insurer_adjuster", county),
        ("auditor", county),
        ("city_admin", county.parent),
    ]:
        c = Client()
        c.force_login(make_user(role, region))
        html = c.get("/").content.decode()
        n = Household.objects.filter(village__path__startswith=region.path).count()
        assert f'data-testid="households-total">{n:,}<' in html, role
        assert region.name in html


def test_chinese_by_default_english_on_request(county_officer):
    c = Client()
    c.force_login(county_officer)
    # an English browser still gets Chinese until the user switches
    assert (
        "农户档案" in c.get("/households/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    )
    c.post("/i18n/setlang/", {"language": "en", "next": "/households/"})
    html = c.get("/households/").content.decode()
    assert "Households" in html and 'lang="en"' in html


def test_demo_builds_once_and_prints_one_login_per_role(db, capsys):
    call_command("demo", no_serve=True)  # the session's small county stands in for the demo county
    out = capsys.readouterr().out
    for role in Role:
        assert User.objects.filter(role=role).exists()
        assert str(role.label) in out
    assert DEMO_PASSWORD in out
    user = User.objects.get(username="township")
    assert user.check_password(DEMO_PASSWORD) and user.region.level == "township"
