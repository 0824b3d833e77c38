"""``fangpin apitoken``: issue (printed once), list and revoke tokens from the command line."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from fangpin.accounts.models import ApiToken
from fangpin.common.models import AuditEvent

API = "/api/v1/registry/households"


def apitoken(*args: str) -> str:
    out = io.StringIO()
    call_command("apitoken", *args, stdout=out)
    return out.getvalue()


def test_a_token_is_issued_with_its_name_and_days_and_printed_once(county_officer):
    key = apitoken(county_officer.username, "--days", "30", "--name", "统计报送").strip()
    token = ApiToken.objects.get(user=county_officer)
    assert key.startswith(token.prefix) and key not in token.digest
    assert token.name == "统计报送" and (token.expires_at - token.created_at).days == 29
    assert Client().get(API, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    assert AuditEvent.objects.filter(action="accounts.token.issued", object_id=str(token.pk))
    # the listing shows the token but never its key again
    listing = apitoken(county_officer.username, "--list")
    assert key not in listing and token.prefix in listing


def test_the_list_shows_id_name_dates_and_state(county_officer, township_officer):
    apitoken(county_officer.username, "--name", "报表")
    apitoken(county_officer.username, "--name", "旧的")
    apitoken(township_officer.username, "--name", "别人的")
    old = ApiToken.objects.get(name="旧的")
    apitoken("--revoke", str(old.pk))

    lines = apitoken(county_officer.username, "--list").splitlines()
    assert lines[0].split() == [
        "id",
        "name",
        "prefix",
        "created",
        "expires",
        "last",
        "used",
        "revoked",
    ]
    assert len(lines) == 3  # the header and the user's two tokens, not the other user's
    revoked_line = next(line for line in lines if "旧的" in line)
    old.refresh_from_db()
    assert revoked_line.split()[0] == str(old.pk)
    assert revoked_line.endswith(timezone.localtime(old.revoked_at).strftime("%Y-%m-%d %H:%M"))
    live_line = next(line for line in lines if "报表" in line)
    assert live_line.split()[-1] == "-"  # not revoked


def test_revoke_by_id_stops_the_token_and_is_audited(county_officer):
    key = apitoken(county_officer.username).strip()
    token = ApiToken.objects.get(user=county_officer)
    out = apitoken("--revoke", str(token.pk))
    assert f"revoked API token {token.pk}" in out
    assert Client().get(API, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401
    event = AuditEvent.objects.get(action="accounts.token.revoked", object_id=str(token.pk))
    assert event.actor is None and "apitoken --revoke" in event.reason

    with pytest.raises(CommandError, match="already revoked"):
        apitoken("--revoke", str(token.pk))
    with pytest.raises(CommandError, match="no API token 999999"):
        apitoken("--revoke", "999999")


@pytest.mark.parametrize(
    "args, message",
    [
        (["nobody-here"], "no such user 'nobody-here'"),
        ([], "name the user"),
        (["--list"], "name the user"),
        (["{user}", "--days", "0"], "a token lasts from 1 to"),
        (["{user}", "--revoke", "1"], "takes no user name"),
    ],
)
def test_wrong_use_says_what_is_wrong_and_issues_nothing(county_officer, args, message):
    args = [a.format(user=county_officer.username) for a in args]
    with pytest.raises(CommandError, match=message):
        apitoken(*args)
    assert not ApiToken.objects.exists()
