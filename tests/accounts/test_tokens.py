"""API tokens: they expire, they can be revoked, and a new password or a deactivation
revokes them — whichever way it is made — each issue and revocation with its audit row."""

import datetime as dt

import pytest
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from fangpin.accounts import services
from fangpin.accounts.models import REVOKED_DEACTIVATED, REVOKED_PASSWORD, ApiToken, User
from fangpin.common.models import AuditEvent
from tests.conftest import PASSWORD

API = "/api/v1/registry/households"
NEW_PASSWORD = "another-long-passphrase-42"


def bearer(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def make_expired(token: ApiToken) -> None:
    """Stand after the token's end: issued 100 days ago, expired 10 days ago."""
    now = timezone.now()
    ApiToken.objects.filter(pk=token.pk).update(
        created_at=now - dt.timedelta(days=100), expires_at=now - dt.timedelta(days=10)
    )


def revocations(token: ApiToken):
    return AuditEvent.objects.filter(action="accounts.token.revoked", object_id=str(token.pk))


def is_live(token: ApiToken) -> bool:
    return ApiToken.objects.live().filter(pk=token.pk).exists()


# --- issue and expiry ------------------------------------------------------------------------


def test_a_token_lasts_the_configured_days_and_its_issue_is_audited(county_officer, settings):
    settings.FANGPIN_API_TOKEN_DAYS = 30
    token, key = services.api_token_issue(user=county_officer, name="统计报送")
    assert key.startswith("fp_") and key not in token.digest and token.prefix == key[:8]
    assert token.expires_at - token.created_at == pytest.approx(
        dt.timedelta(days=30), abs=dt.timedelta(seconds=5)
    )
    event = AuditEvent.objects.get(action="accounts.token.issued", object_id=str(token.pk))
    assert event.region_path == county_officer.region.path
    assert event.data["user"] == county_officer.username and event.data["name"] == "统计报送"

    token, _ = services.api_token_issue(user=county_officer, days=7)
    assert (token.expires_at - token.created_at).days == 6  # 7 days less the microseconds


@pytest.mark.parametrize("days", [0, -1, services.TOKEN_MAX_DAYS + 1])
def test_a_token_of_no_days_or_of_too_many_is_refused(county_officer, days):
    with pytest.raises(services.AccountError) as e:
        services.api_token_issue(user=county_officer, days=days)
    assert e.value.message == services.ERR_DAYS.format(max=services.TOKEN_MAX_DAYS, days=days)
    assert not ApiToken.objects.filter(user=county_officer).exists()


def test_an_inactive_user_gets_no_token(county_officer):
    county_officer.is_active = False
    county_officer.save()
    with pytest.raises(services.AccountError, match="inactive"):
        services.api_token_issue(user=county_officer)


def test_the_api_answers_a_live_token_and_401_once_it_has_expired(county_officer):
    token, key = services.api_token_issue(user=county_officer)
    assert Client().get(API, **bearer(key)).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None

    make_expired(token)
    assert Client().get(API, **bearer(key)).status_code == 401
    assert ApiToken.lookup(key) is None


def test_the_database_refuses_a_token_that_expires_before_it_was_issued(county_officer):
    from django.db import IntegrityError, transaction

    token, _ = services.api_token_issue(user=county_officer)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiToken.objects.filter(pk=token.pk).update(expires_at=token.created_at)


# --- revocation ------------------------------------------------------------------------------


def test_a_revoked_token_is_answered_401_and_its_revocation_audited(county_officer):
    token, key = services.api_token_issue(user=county_officer)
    services.api_token_revoke(token_id=token.pk, actor=county_officer, reason="test")
    assert Client().get(API, **bearer(key)).status_code == 401
    token.refresh_from_db()
    assert token.revoked_at is not None
    event = revocations(token).get()
    assert event.actor == county_officer and event.reason == "test"
    assert event.region_path == county_officer.region.path

    with pytest.raises(services.AccountError) as e:
        services.api_token_revoke(token_id=token.pk, actor=county_officer, reason="again")
    assert e.value.message == services.ERR_ALREADY_REVOKED.format(token_id=token.pk)
    assert revocations(token).count() == 1


def test_an_owner_revokes_only_their_own_token(county_officer, township_officer):
    theirs, key = services.api_token_issue(user=township_officer)
    with pytest.raises(services.AccountError) as e:
        services.api_token_revoke(
            token_id=theirs.pk, actor=county_officer, owner=county_officer, reason="x"
        )
    assert e.value.message == services.ERR_NOT_FOUND.format(token_id=theirs.pk)
    assert is_live(theirs) and not revocations(theirs).exists()


# --- a new password or a deactivation revokes, whichever way it is made ----------------------


@pytest.fixture
def two_tokens(county_officer):
    first, key = services.api_token_issue(user=county_officer, name="one")
    second, _ = services.api_token_issue(user=county_officer, name="two")
    return first, second, key


def assert_revoked(tokens, key, reason):
    assert not any(is_live(t) for t in tokens)
    assert Client().get(API, **bearer(key)).status_code == 401
    for t in tokens:
        assert revocations(t).get().reason == reason


def test_the_password_change_page_revokes_the_users_tokens(county_officer, two_tokens):
    c = Client()
    c.force_login(county_officer)
    r = c.post(
        "/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert r.status_code == 302
    assert_revoked(two_tokens[:2], two_tokens[2], REVOKED_PASSWORD)


def test_a_wrong_old_password_changes_nothing_and_keeps_the_tokens(county_officer, two_tokens):
    c = Client()
    c.force_login(county_officer)
    r = c.post(
        "/password/",
        {"old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert r.status_code == 200
    assert all(is_live(t) for t in two_tokens[:2])


@pytest.fixture
def superuser(make_user, county):
    user = make_user("city_admin", county.parent, username="root")
    user.is_staff = user.is_superuser = True
    user.save()
    c = Client()
    c.force_login(user)
    return c


def test_a_password_set_in_the_admin_revokes_the_users_tokens(
    county_officer, two_tokens, superuser
):
    r = superuser.post(
        f"/admin/accounts/user/{county_officer.pk}/password/",
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    county_officer.refresh_from_db()
    assert county_officer.check_password(NEW_PASSWORD)
    assert_revoked(two_tokens[:2], two_tokens[2], REVOKED_PASSWORD)


def test_password_login_disabled_in_the_admin_revokes_the_users_tokens(
    county_officer, two_tokens, superuser
):
    r = superuser.post(
        f"/admin/accounts/user/{county_officer.pk}/password/",
        {"usable_password": "false", "unset-password": "1"},
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    county_officer.refresh_from_db()
    assert not county_officer.has_usable_password()
    assert_revoked(two_tokens[:2], two_tokens[2], REVOKED_PASSWORD)


def test_deactivation_in_the_admin_revokes_the_users_tokens(county_officer, two_tokens, superuser):
    # the admin's user form, posted as it stands with "active" unticked
    r = superuser.post(
        f"/admin/accounts/user/{county_officer.pk}/change/",
        {
            "username": county_officer.username,
            "first_name": "",
            "last_name": "",
            "email": "",
            "is_staff": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "08:00:00",
            "role": county_officer.role,
            "region": county_officer.region_id,
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    county_officer.refresh_from_db()
    assert not county_officer.is_active
    assert_revoked(two_tokens[:2], two_tokens[2], REVOKED_DEACTIVATED)


def test_a_reactivated_user_does_not_get_their_tokens_back(county_officer, two_tokens):
    county_officer.is_active = False
    county_officer.save()
    assert_revoked(two_tokens[:2], two_tokens[2], REVOKED_DEACTIVATED)
    county_officer.is_active = True
    county_officer.save()
    assert Client().get(API, **bearer(two_tokens[2])).status_code == 401


def test_changepassword_on_the_command_line_revokes_the_users_tokens(
    county_officer, two_tokens, monkeypatch
):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    call_command("changepassword", county_officer.username, stdout=None)
    assert_revoked(two_tokens[:2], two_tokens[2], REVOKED_PASSWORD)


def test_saving_a_user_without_a_new_password_keeps_the_tokens(county_officer, two_tokens):
    county_officer.first_name = "魏"
    county_officer.save()
    User.objects.get(pk=county_officer.pk).save(update_fields=["first_name"])
    assert all(is_live(t) for t in two_tokens[:2])
    assert not AuditEvent.objects.filter(action="accounts.token.revoked").exists()


def test_the_rehash_of_the_same_password_at_login_keeps_the_tokens(county_officer, two_tokens):
    # a password stored with an older hasher is re-hashed (to Argon2) at the next login:
    # the same password, not a new one
    User.objects.filter(pk=county_officer.pk).update(
        password=make_password(PASSWORD, hasher="pbkdf2_sha256")
    )
    r = Client().post("/login/", {"username": county_officer.username, "password": PASSWORD})
    assert r.status_code == 302
    county_officer.refresh_from_db()
    assert county_officer.password.startswith("argon2")
    assert all(is_live(t) for t in two_tokens[:2])


def test_an_expired_token_is_not_revoked_again_by_a_new_password(county_officer, two_tokens):
    first, second, _ = two_tokens
    make_expired(first)
    county_officer.set_password(NEW_PASSWORD)
    county_officer.save()
    assert not revocations(first).exists()
    assert revocations(second).get().reason == REVOKED_PASSWORD
