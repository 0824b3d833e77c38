"""Sending a feed from the web and the API (submit.py, api.py): the import runs as a job
and ends with the batch and its report; a department data officer sends only their
department's kinds; rows of another region are rejected; an Idempotency-Key makes a
retried push safe."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from fangpin.accounts.services import user_create
from fangpin.feeds.models import BatchStatus, FeedBatch
from fangpin.feeds.services import ERR_OUTSIDE_REGION, feed_import
from fangpin.jobs.models import Job, JobState
from fangpin.regions.models import Level, Region
from tests.jobs.worker import run_queued

from .conftest import ALICE, BOB, medical_row, write_csv

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password-42"


@pytest.fixture
def medical_officer(county):
    return user_create(
        username="yibao",
        password=PASSWORD,
        role="department_officer",
        region=county,
        department="medical_insurance",
    )


def csv_bytes(tmp_path, rows, name="m.csv") -> bytes:
    return write_csv(tmp_path / name, rows).read_bytes()


def send(client, user, kind, content: bytes, name="medical-2019-03.csv"):
    client.force_login(user)
    upload = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post(reverse("feeds:upload"), {"kind": kind, "file": upload})


def test_a_county_officer_sends_a_file_and_the_job_ends_with_the_batch(
    client, lake, tmp_path, county_officer, settings
):
    settings.DATA_DIR = tmp_path / "data"
    rows = [medical_row(结算单号=f"S{i}") for i in range(3)]
    response = send(client, county_officer, "medical", csv_bytes(tmp_path, rows))
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert job.state == JobState.QUEUED and job.kind == "feeds.import"
    run_queued()
    job.refresh_from_db()
    batch = FeedBatch.objects.get()
    assert job.state == JobState.SUCCEEDED and batch.status == BatchStatus.ACCEPTED
    assert job.result["batch"] == batch.pk and job.result["rows_accepted"] == 3
    assert job.result["url"] == f"/feeds/{batch.pk}/"
    assert batch.source_name == "medical-2019-03.csv" and batch.imported_by == county_officer
    page = client.get(job.result["url"])
    assert page.status_code == 200 and b'data-testid="rows-accepted">3<' in page.content
    # the upload was kept for the job, and is gone once imported
    kept = settings.DATA_DIR / "uploads" / "feeds"
    assert kept.is_dir() and list(kept.iterdir()) == []


def test_a_refused_file_ends_with_the_refusal_and_its_report(
    client, lake, tmp_path, county_officer
):
    rows = [medical_row(结算单号="S1", 总费用="-1")]
    send(client, county_officer, "medical", csv_bytes(tmp_path, rows))
    run_queued()
    job = Job.objects.get()
    assert job.state == JobState.SUCCEEDED and job.result["status"] == "refused"
    page = client.get(job.result["url"])
    assert b'data-status="refused"' in page.content and b"batch-report" in page.content


def test_a_department_officer_sends_only_their_departments_feeds(
    client, lake, tmp_path, medical_officer
):
    rows = [medical_row()]
    refused = send(client, medical_officer, "roster", csv_bytes(tmp_path, rows))
    assert refused.status_code == 400
    assert "本部门不报送此类数据" in refused.content.decode()
    assert not Job.objects.exists()
    page = client.get(reverse("feeds:index"))
    assert page.status_code == 200
    options = page.content.decode().split('name="kind" required>')[1].split("</select>")[0]
    assert 'value="medical"' in options and 'value="roster"' not in options
    assert send(client, medical_officer, "medical", csv_bytes(tmp_path, rows)).status_code == 302


def test_a_department_officer_sees_their_batches_and_no_household(
    client, lake, tmp_path, medical_officer
):
    feed_import(kind="medical", path=write_csv(tmp_path / "m.csv", [medical_row()]))
    from .test_lake import roster_file

    roster = feed_import(kind="roster", path=roster_file(tmp_path)).batch
    client.force_login(medical_officer)
    listing = client.get(reverse("feeds:index")).content.decode()
    assert 'data-kind="medical"' in listing and 'data-kind="roster"' not in listing
    assert client.get(reverse("feeds:detail", args=[roster.pk])).status_code == 404
    for url in ["/households/", "/cases/all/", "/warnings/", "/pairing/"]:
        assert client.get(url).status_code in (403, 404), url


def test_rows_of_another_region_are_rejected(client, lake, tmp_path, county, county_officer):
    mine = Region.objects.filter(level=Level.VILLAGE, path__startswith=county.path).first()
    other_county = Region.objects.get(code="130481")
    town = Region.objects.create(
        code="130481100", name="测试镇", level=Level.TOWNSHIP, parent=other_county
    )
    theirs = Region.objects.create(
        code="130481100001", name="测试村", level=Level.VILLAGE, parent=town
    )
    roster = [
        {
            "年度": "2019",
            "身份证号": ALICE,
            "姓名": "甲",
            "户编号": "H-1",
            "村代码": mine.code,
            "与户主关系": "户主",
        },
        {
            "年度": "2019",
            "身份证号": BOB,
            "姓名": "乙",
            "户编号": "H-2",
            "村代码": theirs.code,
            "与户主关系": "户主",
        },
    ]
    assert feed_import(kind="roster", path=write_csv(tmp_path / "r.csv", roster)).ok
    rows = [medical_row(结算单号=f"S{i}") for i in range(3)]
    rows.append(medical_row(结算单号="S9", 身份证号=BOB))  # placed in the other county
    path = write_csv(tmp_path / "m.csv", rows)
    result = feed_import(
        kind="medical",
        path=path,
        region_path=county.path,
        max_rejected_share=Decimal("0.5"),
    )
    assert result.ok and result.batch.rows_accepted == 3 and result.batch.rows_rejected == 1
    assert [(p.row, p.message) for p in result.problems] == [(5, str(ERR_OUTSIDE_REGION))]


# --- the API ------------------------------------------------------------------------------


def test_the_api_takes_a_file_and_answers_202_with_the_job(client, lake, tmp_path, county_officer):
    client.force_login(county_officer)
    content = csv_bytes(tmp_path, [medical_row()])
    upload = SimpleUploadedFile("m.csv", content, content_type="text/csv")
    response = client.post(
        "/api/v1/feeds/medical/batches", {"file": upload}, HTTP_IDEMPOTENCY_KEY="push-1"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["state"] == "queued" and body["url"] == f"/api/v1/jobs/{body['id']}"
    # the retry of the same push: the same job, nothing queued twice
    upload = SimpleUploadedFile("m.csv", content, content_type="text/csv")
    again = client.post(
        "/api/v1/feeds/medical/batches", {"file": upload}, HTTP_IDEMPOTENCY_KEY="push-1"
    )
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert DBTaskResult.objects.count() == 1
    run_queued()
    done = client.get(body["url"]).json()
    assert done["state"] == "succeeded" and done["result"]["rows_accepted"] == 1


def test_the_api_takes_json_rows(client, lake, county_officer):
    client.force_login(county_officer)
    row = {
        "settlement_no": "JS1",
        "id_number": ALICE,
        "hospital": "魏县人民医院",
        "admitted": "2019-03-01",
        "discharged": "2019-03-10",
        "total_cost": "36500.00",
        "basic_insurance": "18000.00",
        "serious_illness": "6000.00",
        "medical_assistance": "2500.00",
        "self_paid": "10000.00",
    }
    response = client.post(
        "/api/v1/feeds/medical/rows", {"rows": [row]}, content_type="application/json"
    )
    assert response.status_code == 202, response.content
    run_queued()
    job = Job.objects.get()
    assert job.state == JobState.SUCCEEDED and job.result["rows_accepted"] == 1, job.result
    batch = FeedBatch.objects.get()
    assert batch.status == BatchStatus.ACCEPTED and batch.rows_total == 1


def test_the_api_refuses_an_unknown_field_a_kind_not_theirs_and_an_unknown_kind(
    client, lake, tmp_path, medical_officer
):
    client.force_login(medical_officer)
    bad_field = client.post(
        "/api/v1/feeds/medical/rows",
        {"rows": [{"settlement_no": "1", "colour": "red"}]},
        content_type="application/json",
    )
    assert bad_field.status_code == 422 and "colour" in bad_field.json()["detail"]
    upload = SimpleUploadedFile("r.csv", b"a,b\n1,2\n", content_type="text/csv")
    not_theirs = client.post("/api/v1/feeds/roster/batches", {"file": upload})
    assert not_theirs.status_code == 422 and not_theirs.json()["field"] == "kind"
    upload = SimpleUploadedFile("r.csv", b"a,b\n1,2\n", content_type="text/csv")
    assert client.post("/api/v1/feeds/nonsense/batches", {"file": upload}).status_code == 404
    assert not Job.objects.exists()


def test_a_department_officers_token_pushes_its_kind_for_its_region_only(
    lake, tmp_path, county, medical_officer
):
    from django.test import Client

    from fangpin.accounts.services import api_token_issue

    _token, key = api_token_issue(user=medical_officer, name="医保接口")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    content = csv_bytes(tmp_path, [medical_row()])
    pushed = api.post(
        "/api/v1/feeds/medical/batches",
        {"file": SimpleUploadedFile("m.csv", content, content_type="text/csv")},
    )
    assert pushed.status_code == 202, pushed.content
    job = Job.objects.get()
    assert job.started_by == medical_officer and job.params["region_path"] == county.path
    refused = api.post(
        "/api/v1/feeds/education/batches",
        {"file": SimpleUploadedFile("e.csv", content, content_type="text/csv")},
    )
    assert refused.status_code == 422 and Job.objects.count() == 1
    # the job is theirs to follow, the households are not theirs to read
    assert api.get(f"/api/v1/jobs/{job.pk}").status_code == 200
    assert api.get("/api/v1/registry/households").status_code == 403
    assert api.get("/api/v1/screening/warnings").status_code == 403
