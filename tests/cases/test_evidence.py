"""Evidence uploads: images and PDFs judged by their content, size-checked, stored under
MEDIA_ROOT, audited; refused once the case is decided."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from fangpin.cases import services
from fangpin.cases.models import Evidence
from fangpin.cases.services import CaseError
from fangpin.common.models import AuditEvent

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%fake\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FANGPIN_EVIDENCE_MAX_BYTES = 1024


def test_a_pdf_and_a_png_are_kept_by_their_content(opened, roles, settings):
    e = services.evidence_add(
        case=opened,
        upload=SimpleUploadedFile("发票.pdf", PDF),
        kind="invoice",
        actor=roles["village_cadre"],
    )
    assert e.content_type == "application/pdf" and e.original_name == "发票.pdf"
    assert e.file.path.startswith(str(settings.MEDIA_ROOT))
    png = services.evidence_add(
        case=opened,
        upload=SimpleUploadedFile("photo.pdf", PNG),
        kind="discharge",
        actor=roles["village_cadre"],
    )
    assert png.content_type == "image/png" and png.file.name.endswith(".png")
    assert (
        AuditEvent.objects.filter(action="cases.evidence.added", object_id=str(opened.pk)).count()
        == 2
    )


def test_a_wrong_type_is_refused_whatever_its_name(opened, roles):
    with pytest.raises(CaseError) as err:
        services.evidence_add(
            case=opened,
            upload=SimpleUploadedFile("invoice.pdf", b"MZ\x90\x00 not a pdf"),
            kind="invoice",
            actor=roles["village_cadre"],
        )
    assert err.value.message == services.ERR_FILE_TYPE.format(name="invoice.pdf")
    assert not Evidence.objects.exists()


def test_a_file_too_large_is_refused(opened, roles):
    with pytest.raises(CaseError) as err:
        services.evidence_add(
            case=opened,
            upload=SimpleUploadedFile("big.pdf", PDF + b"x" * 2000),
            kind="invoice",
            actor=roles["village_cadre"],
        )
    assert "文件过大" in err.value.message and err.value.field == "file"


def test_the_upload_page_refuses_a_bad_file_with_the_message(client, opened, roles):
    client.force_login(roles["village_cadre"])
    response = client.post(
        f"/cases/{opened.pk}/evidence/",
        {"kind": "invoice", "file": SimpleUploadedFile("x.jpg", b"GIF89a....")},
    )
    assert response.status_code == 400
    assert services.ERR_FILE_TYPE.format(name="x.jpg") in response.content.decode()
    ok = client.post(
        f"/cases/{opened.pk}/evidence/",
        {"kind": "invoice", "file": SimpleUploadedFile("x.jpg", b"\xff\xd8\xff\xe0 jpeg")},
    )
    assert ok.status_code == 302
    e = Evidence.objects.get()
    got = client.get(f"/cases/{opened.pk}/evidence/{e.pk}/")
    assert got.status_code == 200 and got["Content-Type"] == "image/jpeg"
    # a download of evidence (health data) is audited (issue 13)
    from fangpin.common.models import AuditEvent

    event = AuditEvent.objects.get(action="cases.evidence.downloaded")
    assert event.actor == roles["village_cadre"] and event.data["evidence"] == e.pk


def test_the_api_upload_checks_the_content_too(client, opened, roles):
    client.force_login(roles["township_officer"])
    bad = client.post(
        f"/api/v1/cases/{opened.pk}/evidence",
        {"kind": "invoice", "file": SimpleUploadedFile("a.pdf", b"not a pdf")},
    )
    assert bad.status_code == 422
    assert bad.json()["detail"] == services.ERR_FILE_TYPE.format(name="a.pdf")
    ok = client.post(
        f"/api/v1/cases/{opened.pk}/evidence",
        {"kind": "invoice", "file": SimpleUploadedFile("a.pdf", PDF)},
    )
    assert ok.status_code == 201 and ok.json()["content_type"] == "application/pdf"
