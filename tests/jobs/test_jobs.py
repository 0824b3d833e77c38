"""Background jobs (jobs/): submitted with their queue entry, run once by a worker, their
progress and result recorded, a refusal shown as the user's message, an interrupted job
reaped and run again, idempotency keys, and who sees a job."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from fangpin.common.audit import AuditEvent
from fangpin.jobs import registry
from fangpin.jobs.models import Job, JobState
from fangpin.jobs.services import (
    ERR_INTERRUPTED,
    JobError,
    job_retry,
    job_submit,
    jobs_reap,
)
from fangpin.regions.models import Region

from .worker import run_queued

pytestmark = pytest.mark.django_db

CALLS: list[dict] = []


def counting_runner(*, progress, actor, n: int, refuse: bool = False) -> dict:
    """A runner of the tests' own: counts to ``n``, or refuses."""
    from fangpin.common.errors import DomainError

    for i in range(n):
        progress("counting", i, n)
    CALLS.append({"n": n, "actor": actor})
    if refuse:
        raise DomainError("the numbers do not add up")
    return {"summary": f"counted to {n}", "url": "/"}


def slow_runner(*, progress, actor) -> dict:
    """Works past its heartbeat: a reaper elsewhere marks it interrupted meanwhile."""
    jobs_reap(now=timezone.now() + dt.timedelta(hours=1))
    return {"summary": "done after all"}


def crashing_runner(*, progress, actor) -> dict:
    raise RuntimeError("disk on fire at /secret/path")


@pytest.fixture(autouse=True)
def runners():
    registry.runner_register("test.count", f"{__name__}:counting_runner")
    registry.runner_register("test.crash", f"{__name__}:crashing_runner")
    registry.runner_register("test.slow", f"{__name__}:slow_runner")
    CALLS.clear()
    yield
    registry.RUNNERS.pop("test.count")
    registry.RUNNERS.pop("test.crash")
    registry.RUNNERS.pop("test.slow")


def test_a_job_and_its_queue_entry_are_written_together_and_a_worker_runs_it_once(
    county_officer, county
):
    job, created = job_submit(
        kind="test.count",
        label="数一数",
        params={"n": 3},
        actor=county_officer,
        region_path=county.path,
    )
    assert created and job.state == JobState.QUEUED
    assert DBTaskResult.objects.filter(id=job.task_id).exists()
    run_queued()
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.percent == 100
    assert job.result == {"summary": "counted to 3", "url": "/"}
    assert job.attempts == 1 and job.started_at and job.finished_at
    assert [{"n": 3, "actor": county_officer}] == CALLS
    # the queue entry was taken: a second worker finds nothing to do
    run_queued()
    assert len(CALLS) == 1
    actions = list(
        AuditEvent.objects.filter(object_id=str(job.pk), object_type="jobs.job")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["jobs.job.submitted", "jobs.job.succeeded"]


def test_a_refused_job_shows_the_refusal_and_runs_again_on_retry(county_officer, county):
    job, _ = job_submit(
        kind="test.count",
        label="x",
        params={"n": 2, "refuse": True},
        actor=county_officer,
        region_path=county.path,
    )
    run_queued()
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.error == "the numbers do not add up"
    job.params = {"n": 2}  # what was wrong is put right (here: the parameters)
    job.save(update_fields=["params"])
    job_retry(job=job, actor=county_officer)
    run_queued()
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.attempts == 2 and job.error == ""


def test_an_internal_error_is_not_shown_to_the_user(county_officer):
    job, _ = job_submit(kind="test.crash", label="x", params={}, actor=county_officer)
    run_queued()
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert "/secret/path" not in job.error and "internal error" in job.error


def test_only_a_failed_job_can_be_retried(county_officer):
    job, _ = job_submit(kind="test.count", label="x", params={"n": 1}, actor=county_officer)
    with pytest.raises(JobError):
        job_retry(job=job, actor=county_officer)
    with pytest.raises(JobError):
        job_submit(kind="no.such", label="x", params={}, actor=county_officer)


def test_the_same_idempotency_key_gives_the_same_job(county_officer, township_officer):
    first, created = job_submit(
        kind="test.count", label="x", params={"n": 1}, actor=county_officer, idempotency_key="k1"
    )
    again, created_again = job_submit(
        kind="test.count", label="x", params={"n": 1}, actor=county_officer, idempotency_key="k1"
    )
    assert created and not created_again and again.pk == first.pk
    # another user's key is theirs
    other, created_other = job_submit(
        kind="test.count", label="x", params={"n": 1}, actor=township_officer, idempotency_key="k1"
    )
    assert created_other and other.pk != first.pk
    assert DBTaskResult.objects.count() == 2


def test_a_running_job_whose_worker_went_silent_is_reaped_and_can_run_again(county_officer):
    job, _ = job_submit(kind="test.count", label="x", params={"n": 1}, actor=county_officer)
    long_ago = timezone.now() - dt.timedelta(minutes=5)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, worker="elsewhere:1", heartbeat_at=long_ago
    )
    assert jobs_reap() == 1
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.error == ERR_INTERRUPTED
    job_retry(job=job, actor=county_officer)
    run_queued()
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED


def test_a_running_job_of_a_dead_worker_process_on_this_machine_is_reaped_at_once(
    county_officer,
):
    import socket
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()
    job, _ = job_submit(kind="test.count", label="x", params={"n": 1}, actor=county_officer)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING,
        worker=f"{socket.gethostname()}:{gone.pid}",
        heartbeat_at=timezone.now(),
    )
    assert jobs_reap() == 1


def test_the_job_page_polls_while_running_and_shows_the_result(client, county_officer, county):
    job, _ = job_submit(
        kind="test.count",
        label="数一数",
        params={"n": 2},
        actor=county_officer,
        region_path=county.path,
    )
    client.force_login(county_officer)
    page = client.get(reverse("jobs:detail", args=[job.pk]))
    assert page.status_code == 200 and b'hx-trigger="every 1s"' in page.content
    run_queued()
    fragment = client.get(reverse("jobs:detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert b"counted to 2" in fragment.content and b"hx-trigger" not in fragment.content
    api = client.get(f"/api/v1/jobs/{job.pk}")
    assert api.status_code == 200 and api.json()["state"] == "succeeded"
    assert api.json()["percent"] == 100


def test_a_job_is_seen_by_its_starter_and_officers_of_its_region_only(
    client, make_user, county_officer, township_officer, county
):
    job, _ = job_submit(
        kind="test.count",
        label="x",
        params={"n": 1},
        actor=township_officer,
        region_path=township_officer.region.path,
    )
    other = make_user("county_officer", Region.objects.get(code="130481"))
    village = make_user(
        "village_cadre", township_officer.region.children.first(), username="cadre-x"
    )
    for user, seen in [
        (township_officer, True),
        (county_officer, True),
        (other, False),
        (village, False),
    ]:
        client.force_login(user)
        assert (client.get(f"/jobs/{job.pk}/").status_code == 200) is seen, user
        assert (client.get(f"/api/v1/jobs/{job.pk}").status_code == 200) is seen, user


def test_a_job_reaped_while_its_worker_still_ran_it_ends_with_its_result(county_officer):
    job, _ = job_submit(kind="test.slow", label="x", params={}, actor=county_officer)
    run_queued()
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.result == {"summary": "done after all"}
    assert job.error == ""
