"""Fixtures shared by every test: a small synthetic county built once per session,
users of every role, and the browser (Playwright driving Debian's Chromium).

Tests run on the database that DATABASE_URL names (SQLite by default, PostgreSQL
in the second suite of ``make test``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from fangpin.policy.loader import DEFAULT_ROOT, ROOT_ENV, parameters_default

SMALL_COUNTY = "130434"  # 魏县
SMALL_SEED = 7
SMALL_HOUSEHOLDS = 3000  # roster; ~300 managed households in ~7 villages of 1 township
PASSWORD = "correct-horse-battery-9"
REQUIRE_ALL = os.environ.get("FANGPIN_REQUIRE_ALL") == "1"
CHROMIUM = os.environ.get("FANGPIN_CHROMIUM", "/usr/bin/chromium")


def pytest_configure(config):
    from django.conf import settings

    # tests render templates without a collectstatic run: plain storage, files found by the finders
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True


def build_small_county():
    from fangpin.synth.services import synth_county_build

    return synth_county_build(
        seed=SMALL_SEED, county_code=SMALL_COUNTY, households=SMALL_HOUSEHOLDS, replace=True
    )


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database with the small county in it, built once."""
    with django_db_blocker.unblock():
        build_small_county()


@pytest.fixture
def county(db):
    from fangpin.regions.models import Region

    return Region.objects.get(code=SMALL_COUNTY)


@pytest.fixture
def townships(county):
    return list(county.children.order_by("code"))


@pytest.fixture
def make_user(db):
    from fangpin.accounts.services import user_create

    def make(role: str, region, username: str | None = None):
        return user_create(
            username=username or f"{role}-{region.code}",
            password=PASSWORD,
            role=role,
            region=region,
        )

    return make


@pytest.fixture
def county_officer(make_user, county):
    return make_user("county_officer", county)


@pytest.fixture
def township_officer(make_user, townships):
    return make_user("township_officer", townships[0])


@pytest.fixture
def city_admin(make_user, county):
    return make_user("city_admin", county.parent)


# --- browser ---------------------------------------------------------------------------------


def _need_chromium():
    if shutil.which(CHROMIUM) is None and not os.path.exists(CHROMIUM):
        message = (
            f"Chromium not found at {CHROMIUM}: browser tests skipped (install Debian's chromium)"
        )
        if REQUIRE_ALL:
            pytest.fail(message + " — FANGPIN_REQUIRE_ALL=1 makes this a failure")
        pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    _need_chromium()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM must still work here
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN")
    p = context.new_page()
    p.set_default_timeout(15_000)
    yield p
    context.close()


class Tree:
    """A copy of the reference parameter tree, put in use by ``use()`` (as a county office
    would with ``FANGPIN_POLICY_PARAMETERS``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def edit(self, relative: str, old: str, new: str) -> Tree:
        path = self.root / "city" / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return self

    def county(self, code: str, path: str, value: int) -> Tree:
        (self.root / "counties").mkdir(exist_ok=True)
        (self.root / "counties" / f"{code}.yaml").write_text(
            f"parameters:\n  {path}:\n"
            "    metadata: {source: assumed, reference: a county's own rule (test)}\n"
            f"    values:\n      2017-01-01: {{value: {value}}}\n",
            encoding="utf-8",
        )
        return self

    def use(self) -> None:
        os.environ[ROOT_ENV] = str(self.root)
        parameters_default.cache_clear()


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "parameters"
    shutil.copytree(DEFAULT_ROOT, root)
    before = os.environ.get(ROOT_ENV)
    yield Tree(root)
    if before is None:
        os.environ.pop(ROOT_ENV, None)
    else:
        os.environ[ROOT_ENV] = before
    parameters_default.cache_clear()
