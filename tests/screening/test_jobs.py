"""Screening as a job (jobs.py): started from the page, queued (debounced) when a feed
batch lands, and run by ``fangpin screen --due`` when its feeds are newer than it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from fangpin.jobs.models import Job, JobState
from fangpin.screening.jobs import JOB_KIND, Due, screening_due
from fangpin.screening.models import ScreeningRun, Warning
from tests.jobs.worker import run_queued

from .test_services import YEAR, small_lake, stay, write  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_lake")]


def screening_jobs():
    return Job.objects.filter(kind=JOB_KIND).order_by("id")


def test_feed_batches_queue_one_debounced_screening_of_their_year(settings):
    # the small lake's six batches (a roster, then five feeds) queued one screening of 2019
    (job,) = screening_jobs()
    assert job.state == JobState.QUEUED and job.params == {"year": YEAR, "county_code": ""}
    entry = DBTaskResult.objects.get(id=job.task_id)
    assert entry.run_after > timezone.now() + dt.timedelta(seconds=200)
    run_queued()  # not yet: the batches of the next few minutes join this run
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and not ScreeningRun.objects.exists()
    DBTaskResult.objects.filter(id=job.task_id).update(run_after=timezone.now())
    run_queued()
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error
    run = ScreeningRun.objects.get()
    assert job.result["run"] == run.pk and job.result["warnings_found"] == run.warnings_found > 0


def test_the_page_starts_the_screening_as_a_job(client, county_officer):
    client.force_login(county_officer)
    response = client.post(reverse("screening:run"), {"year": str(YEAR)})
    job = screening_jobs().get(params__county_code=county_officer.region.code)
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert job.started_by == county_officer and job.region_path == county_officer.region.path
    run_queued()
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and Warning.objects.exists()
    page = client.get(f"/jobs/{job.pk}/")
    assert "预警" in job.result["summary"] and job.result["summary"] in page.content.decode()
    # a year out of range is refused on the page, nothing queued
    before = screening_jobs().count()
    client.post(reverse("screening:run"), {"year": "10000"})
    assert screening_jobs().count() == before


def test_screen_due_runs_what_its_feeds_are_newer_than(tmp_path, capsys):
    assert screening_due() == [Due(YEAR, "")]
    call_command("screen", "--due")
    assert ScreeningRun.objects.count() == 1 and screening_due() == []
    call_command("screen", "--due")
    assert "nothing due" in capsys.readouterr().out
    # a new batch of 2019 makes 2019 due again; the re-run adds only what is new
    warnings = Warning.objects.count()
    write(tmp_path, "medical", [stay("M9", 3, "40000")])
    assert screening_due() == [Due(YEAR, "")]
    call_command("screen", "--due")
    assert ScreeningRun.objects.count() == 2 and Warning.objects.count() >= warnings
    assert screening_due() == []
