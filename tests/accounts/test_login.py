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


def test_repeated_failures_lock_the_account(county_officer, settings):
    c = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        c.post("/login/", {"username": county_officer.username, "password": "wrong-password"})
    r = c.post("/login/", {"username": county_officer.username, "password": PASSWORD})
    assert r.status_code == 429
    assert "locked" in r.content.decode().lower() or "锁定" in r.content.decode()


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
