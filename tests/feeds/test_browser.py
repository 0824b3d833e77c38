"""In Chromium on a 375-px phone: a department data officer sends a feed file, watches its
job's progress bar reach the end, and opens the batch with its counts."""

from __future__ import annotations

import threading

import pytest

from fangpin.regions.models import Region
from tests.conftest import PASSWORD, SMALL_COUNTY, build_small_county
from tests.jobs.worker import make_worker

from .conftest import medical_row, write_csv

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def county(transactional_db):
    if not Region.objects.filter(code=SMALL_COUNTY, children__isnull=False).exists():
        build_small_county()  # an earlier transactional test flushed the session's county
    return Region.objects.get(code=SMALL_COUNTY)


@pytest.fixture
def worker():
    """A worker in a thread of this process (the live server's database is in memory)."""
    running = make_worker(batch=False, interval=0.2)
    thread = threading.Thread(target=running.run, daemon=True)
    yield thread.start
    running.running = False
    if thread.is_alive():
        thread.join(timeout=10)


def test_a_department_officer_sends_a_file_and_watches_it_land(
    page, live_server, county, lake, tmp_path, worker
):
    from fangpin.accounts.services import user_create

    user_create(
        username="yibao",
        password=PASSWORD,
        role="department_officer",
        region=county,
        department="medical_insurance",
    )
    path = write_csv(
        tmp_path / "住院结算-2019-03.csv", [medical_row(结算单号=f"S{i}") for i in range(5)]
    )

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "yibao")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/feeds/")
    kinds = page.locator("[data-testid=feed-send] select[name=kind] option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    assert kinds == ["medical"]
    page.set_input_files("[data-testid=feed-send] input[type=file]", str(path))
    page.click("[data-testid=feed-send-submit]")
    page.wait_for_url(f"{live_server.url}/jobs/*/")
    assert page.get_attribute("[data-testid=job]", "data-state") == "queued"
    assert page.locator("[data-testid=job-progress]").is_visible()

    worker()  # the worker starts; the page polls until the job is done
    page.wait_for_selector("[data-testid=job][data-state=succeeded]", timeout=30_000)
    assert page.get_attribute("[data-testid=job-progress]", "value") == "100"
    page.click("[data-testid=job-result-link]")
    page.wait_for_selector("[data-testid=batch][data-status=accepted]")
    assert page.inner_text("[data-testid=rows-accepted]") == "5"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375 + 1, "the page scrolls sideways on a phone"
