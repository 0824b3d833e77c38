"""The page of one's own API tokens: it lists them and revokes one, never another user's."""

import pytest
from django.test import Client

from fangpin.accounts import services
from fangpin.accounts.models import ApiToken
from fangpin.common.models import AuditEvent
from tests.conftest import PASSWORD, SMALL_COUNTY, build_small_county

PAGE = "/account/tokens/"
API = "/api/v1/registry/households"


def client_of(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_the_page_lists_only_the_users_own_tokens_in_chinese(county_officer, township_officer):
    mine, _ = services.api_token_issue(user=county_officer, name="统计报送")
    revoked, _ = services.api_token_issue(user=county_officer, name="旧接口")
    services.api_token_revoke(token_id=revoked.pk, actor=None, reason="test")
    theirs, _ = services.api_token_issue(user=township_officer, name="乡镇的")

    r = client_of(county_officer).get(PAGE)
    assert r.status_code == 200
    body = r.content.decode()
    assert "接口令牌" in body and "统计报送" in body and mine.prefix in body
    assert "乡镇的" not in body and theirs.prefix not in body
    assert "已撤销" in body and "有效" in body
    # a revoke button for the live token only
    assert f'action="/account/tokens/{mine.pk}/revoke/"' in body
    assert f'action="/account/tokens/{revoked.pk}/revoke/"' not in body


def test_the_page_needs_a_login(db):
    r = Client().get(PAGE)
    assert r.status_code == 302 and r["Location"].startswith("/login/")


def test_revoking_on_the_page_stops_the_token_and_is_audited(county_officer):
    token, key = services.api_token_issue(user=county_officer)
    c = client_of(county_officer)
    r = c.post(f"{PAGE}{token.pk}/revoke/", follow=True)
    assert r.redirect_chain[-1][0] == PAGE
    assert "已撤销" in r.content.decode()
    assert Client().get(API, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401
    event = AuditEvent.objects.get(action="accounts.token.revoked", object_id=str(token.pk))
    assert event.actor == county_officer and event.reason == services.REVOKED_BY_OWNER

    # again: refused with the service's message, nothing written
    r = c.post(f"{PAGE}{token.pk}/revoke/", follow=True)
    assert services.ERR_ALREADY_REVOKED.format(token_id=token.pk) in r.content.decode()
    assert AuditEvent.objects.filter(action="accounts.token.revoked").count() == 1
    # a GET revokes nothing
    assert c.get(f"{PAGE}{token.pk}/revoke/").status_code == 405


def test_a_user_cannot_revoke_another_users_token_from_the_page(county_officer, township_officer):
    theirs, key = services.api_token_issue(user=township_officer)
    r = client_of(county_officer).post(f"{PAGE}{theirs.pk}/revoke/")
    assert r.status_code == 404
    assert ApiToken.objects.live().filter(pk=theirs.pk).exists()
    assert Client().get(API, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    assert not AuditEvent.objects.filter(action="accounts.token.revoked").exists()


def test_the_password_page_links_to_the_tokens(county_officer):
    body = client_of(county_officer).get("/password/").content.decode()
    assert f'href="{PAGE}"' in body


# --- in Chromium, on a 375-px phone ----------------------------------------------------------


@pytest.fixture
def township(transactional_db):
    from fangpin.regions.models import Level, Region

    if not Region.objects.filter(code=SMALL_COUNTY, children__isnull=False).exists():
        build_small_county()  # an earlier transactional test flushed the session's county
    return (
        Region.objects.filter(level=Level.TOWNSHIP, code__startswith=SMALL_COUNTY)
        .order_by("code")
        .first()
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_cadre_revokes_a_token_on_a_phone(page, live_server, township):
    from fangpin.accounts.services import user_create

    user = user_create(username="li", password=PASSWORD, role="township_officer", region=township)
    token, key = services.api_token_issue(user=user, name="乡镇报表程序")
    base = live_server.url
    page.goto(f"{base}/login/?next={PAGE}")
    page.fill("input[name=username]", "li")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{PAGE}")

    row = page.locator(f"[data-testid=token-{token.pk}]")
    assert "乡镇报表程序" in row.inner_text() and "有效" in row.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path="/tmp/tokens.png", full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("[data-testid=revoke]").click()
    page.wait_for_selector(".messages li")
    assert (
        "已撤销" in page.locator(f"[data-testid=token-{token.pk}] [data-testid=state]").inner_text()
    )
    assert page.locator("[data-testid=revoke]").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert ApiToken.lookup(key) is None
