"""Login, logout, password change and login throttling over HTTP."""

from django.test import Client

from tests.conftest import PASSWORD


def test_login_logout_and_home(county_officer):
    c = Client()
    assert c.get("/").status_code == 302
    r = c.post("/login/", {"username": county_officer.username, "password": PASSWORD}, follow=True)
    assert r.status_code == 200 and r.wsgi_request.user == county_officer
    assert "魏县" in r.content.decode()
    c.post("/logout/")
    assert c.get("/").status_code == 302


def login(client: Client, username: str, password: str):
    return client.post("/login/", {"username": username, "password": password})


def assert_locked_out(response, client: Client) -> None:
    """The lockout page (429, not a 500 or the login form), and no session."""
    assert response.status_code == 429
    assert "accounts/locked_out.html" in [t.name for t in response.templates]
    assert "锁定" in response.content.decode()
    assert client.get("/").status_code == 302  # still logged out


def test_repeated_failures_lock_the_account(county_officer, settings):
    c = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(c, county_officer.username, "wrong-password")
    assert_locked_out(login(c, county_officer.username, PASSWORD), c)


def test_spraying_many_names_from_one_address_locks_the_address(
    county_officer, township_officer, settings
):
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        r = login(attacker, f"guess-{i}", "Spring2026!")
        assert r.status_code == 200  # each name failed once: only the address adds up
    assert_locked_out(login(attacker, "guess-last", "Spring2026!"), attacker)
    # the address is locked, even for a right password of a real user ...
    assert_locked_out(login(attacker, county_officer.username, PASSWORD), attacker)
    # ... while the user logs in from elsewhere
    office = Client(REMOTE_ADDR="198.51.100.20")
    assert login(office, county_officer.username, PASSWORD).status_code == 302


def test_one_name_from_many_addresses_locks_the_name(county_officer, settings):
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        r = login(Client(REMOTE_ADDR=f"192.0.2.{i + 1}"), county_officer.username, "wrong")
        assert r.status_code == 200  # each address failed once: only the name adds up
    last = Client(REMOTE_ADDR="192.0.2.100")
    assert_locked_out(login(last, county_officer.username, "wrong"), last)
    # the name is locked from a new address, even with the right password ...
    fresh = Client(REMOTE_ADDR="192.0.2.200")
    assert_locked_out(login(fresh, county_officer.username, PASSWORD), fresh)
    # ... while another user logs in from that address
    other = make_another_user(county_officer)
    assert login(Client(REMOTE_ADDR="192.0.2.200"), other.username, PASSWORD).status_code == 302


def make_another_user(user):
    from fangpin.accounts.services import user_create

    return user_create(
        username="another-officer", password=PASSWORD, role=user.role, region=user.region
    )


def test_a_good_login_between_failures_does_not_reset_the_address(county_officer, settings):
    """An attacker with an account of their own cannot restart the count by logging in."""
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        login(attacker, f"guess-{i}", "Spring2026!")
    assert login(attacker, county_officer.username, PASSWORD).status_code == 302
    attacker.post("/logout/")
    login(attacker, "guess-last", "Spring2026!")
    assert_locked_out(login(attacker, county_officer.username, PASSWORD), attacker)


def test_password_change(county_officer):
    c = Client()
    c.force_login(county_officer)
    new = "another-long-passphrase-42"
    r = c.post("/password/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert r.status_code == 302
    county_officer.refresh_from_db()
    assert county_officer.check_password(new)


def test_the_password_page_is_ours_in_the_sites_layout_not_the_admins(county_officer):
    c = Client()
    c.force_login(county_officer)
    for url in ("/password/", "/password/done/"):
        r = c.get(url)
        names = [t.name for t in r.templates]
        assert "web/base.html" in names and "admin/base.html" not in names, url
