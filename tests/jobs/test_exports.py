"""Large exports as jobs (jobs/exports.py): built by the worker, kept, and downloaded from
the job's page by the user who asked for it only, audited."""

from __future__ import annotations

import pytest

from fangpin.common.audit import AuditEvent
from fangpin.jobs.exports import EXPORTERS, export_submit, exporter_register
from fangpin.jobs.models import JobState

from .worker import run_queued

pytestmark = pytest.mark.django_db


def build_listing(*, actor, progress, rows: int) -> tuple[str, bytes]:
    progress("writing", 0, rows)
    return "名单.csv", ("\n".join(f"{actor.username},{i}" for i in range(rows))).encode()


@pytest.fixture(autouse=True)
def exporter(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    exporter_register("test.listing", f"{__name__}:build_listing")
    yield
    EXPORTERS.pop("test.listing")


def test_an_export_job_keeps_its_file_for_the_user_who_asked(
    client, county_officer, make_user, county
):
    job = export_submit(
        exporter="test.listing",
        params={"rows": 3},
        actor=county_officer,
        label="名单导出",
        region_path=county.path,
    )
    run_queued()
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.result["filename"] == "名单.csv"
    client.force_login(county_officer)
    page = client.get(f"/jobs/{job.pk}/")
    assert b'data-testid="job-download"' in page.content
    response = client.get(f"/jobs/{job.pk}/file/")
    assert response.status_code == 200
    assert (
        b"".join(response.streaming_content)
        == b"county_officer-130434,0\ncounty_officer-130434,1\ncounty_officer-130434,2"
    )
    assert "attachment" in response["Content-Disposition"]
    assert (
        AuditEvent.objects.filter(action="jobs.export.downloaded", actor=county_officer).count()
        == 1
    )
    # another officer of the same county sees the job, but not its file
    colleague = make_user("county_officer", county, username="colleague")
    client.force_login(colleague)
    assert client.get(f"/jobs/{job.pk}/").status_code == 200
    assert client.get(f"/jobs/{job.pk}/file/").status_code == 404
