"""Where uploaded and generated files live and who sends their bytes: on disk, handed to the proxy
(`X-Accel-Redirect`) once the permission check has passed; or in a private S3-compatible bucket
(django-storages), here moto's S3 server on 127.0.0.1, streamed through the app. Either way a
person who may not see the row gets a 404 and nothing else."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from consortium.backups import backup_check, backup_create
from tests.api.conftest import api_client
from tests.polling import wait_for
from workpackages.models import Expense

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
KEYS = {"aws_access_key_id": "consortium", "aws_secret_access_key": "manager-test-only"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: Any) -> Iterator[str]:
    """moto's S3 server on a port of its own, stopped by its process id."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    server = subprocess.Popen(  # noqa: S603
        [Path(sys.executable).with_name("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
    )
    endpoint = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            return False
        return True

    try:
        wait_for(answers, 30, "moto's S3 server to listen")
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture
def bucket(settings: Any, s3_endpoint: str) -> Any:
    """A private bucket of the test's own as the default storage, configured as production
    configures it from MEDIA_S3_* (config/settings/base.py)."""
    name = f"media-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="eu-west-1", **KEYS)
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "config.storage.PrivateS3Storage",
            "OPTIONS": {
                "bucket_name": name,
                "endpoint_url": s3_endpoint,
                "region_name": "eu-west-1",
                "access_key": KEYS["aws_access_key_id"],
                "secret_key": KEYS["aws_secret_access_key"],
            },
        },
    }
    return client, name


def _upload(user: Any, partner: Any, workpackage: Any, personnel: Any, period: Any) -> Any:
    """A draft expense sent as JSON, then its invoice as the multipart upload of the API."""
    client = api_client(user)
    created = client.post(
        "/api/v1/expenses/",
        {
            "partner": partner.pk,
            "workpackage": workpackage.pk,
            "category": personnel.pk,
            "period": period.pk,
            "incurred_on": "2024-03-15",
            "amount": "250.00",
            "description": "Cell-culture media, March",
            "invoice_reference": "INV-2024-0315",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    answer = client.put(
        f"/api/v1/expenses/{pk}/evidence/",
        {"evidence": SimpleUploadedFile("invoice.pdf", PDF)},
        format="multipart",
    )
    assert answer.status_code == 200, answer.content
    return Expense.objects.get(pk=pk)


def test_evidence_goes_to_the_bucket_and_comes_back_to_its_readers_only(
    bucket: Any,
    partner_member: Any,
    other_partner_member: Any,
    other_coordinator: Any,
    coordinator: Any,
    partner_a: Any,
    workpackage: Any,
    personnel: Any,
    period: Any,
    budget_line: Any,
) -> None:
    client, name = bucket
    expense = _upload(partner_member, partner_a, workpackage, personnel, period)
    stored = client.get_object(Bucket=name, Key=expense.evidence.name)
    assert stored["Body"].read() == PDF
    # Private: no grant to everyone; and every link is the app's own, checked, route.
    grants = client.get_object_acl(Bucket=name, Key=expense.evidence.name)["Grants"]
    assert [grant for grant in grants if "URI" in grant["Grantee"]] == []
    assert expense.evidence.url == f"/media/{expense.evidence.name}"
    link = f"/media/{expense.evidence.name}"
    for reader in (partner_member, coordinator):
        answer = api_client(reader).get(link)
        assert answer.status_code == 200
        assert b"".join(answer.streaming_content) == PDF
        assert answer["Content-Disposition"] == 'attachment; filename="invoice.pdf"'
        assert "X-Accel-Redirect" not in answer
    for outsider in (other_partner_member, other_coordinator):
        assert api_client(outsider).get(link).status_code == 404


def test_on_disk_the_proxy_sends_the_file_once_the_check_has_passed(
    settings: Any,
    partner_member: Any,
    other_partner_member: Any,
    partner_a: Any,
    workpackage: Any,
    personnel: Any,
    period: Any,
    budget_line: Any,
) -> None:
    settings.MEDIA_X_ACCEL_REDIRECT = True
    settings.SENDFILE_ROOT = settings.MEDIA_ROOT
    expense = _upload(partner_member, partner_a, workpackage, personnel, period)
    link = f"/media/{expense.evidence.name}"

    answer = api_client(partner_member).get(link)
    assert answer.status_code == 200
    assert answer["X-Accel-Redirect"] == f"/internal-media/{expense.evidence.name}"
    assert answer.content == b""
    assert answer["Content-Disposition"] == 'attachment; filename="invoice.pdf"'
    assert answer["Content-Type"] == "application/pdf"
    assert answer["Cache-Control"] == "private, no-store"

    refused = api_client(other_partner_member).get(link)
    assert refused.status_code == 404
    assert "X-Accel-Redirect" not in refused

    Path(expense.evidence.path).unlink()
    gone = api_client(partner_member).get(link)
    assert gone.status_code == 404
    assert "X-Accel-Redirect" not in gone


def test_without_the_proxy_the_app_streams_the_file(
    partner_member: Any,
    partner_a: Any,
    workpackage: Any,
    personnel: Any,
    period: Any,
    budget_line: Any,
) -> None:
    expense = _upload(partner_member, partner_a, workpackage, personnel, period)
    answer = api_client(partner_member).get(f"/media/{expense.evidence.name}")
    assert answer.status_code == 200
    assert "X-Accel-Redirect" not in answer
    assert b"".join(answer.streaming_content) == PDF


def test_the_proxy_serves_the_internal_location_from_the_media_folder() -> None:
    """Caddy answers an `X-Accel-Redirect` from the app with the file under MEDIA_ROOT, with the
    app's headers; nothing else reaches that location."""
    caddyfile = (Path(__file__).resolve().parents[2] / "deploy" / "Caddyfile").read_text()
    block = caddyfile[caddyfile.index("handle_response @accel") :]
    for line in (
        "@accel header X-Accel-Redirect *",
        "rewrite * {rp.header.X-Accel-Redirect}",
        "uri strip_prefix /internal-media",
        "root * /data/media",
        "header Content-Disposition {rp.header.Content-Disposition}",
        "header Cache-Control {rp.header.Cache-Control}",
        "file_server",
    ):
        assert line in caddyfile, line
    assert block.index("rewrite") < block.index("file_server")


@pytest.mark.django_db(transaction=True)
def test_a_backup_reads_the_media_from_the_bucket(
    bucket: Any,
    tmp_path: Path,
    partner_member: Any,
    partner_a: Any,
    workpackage: Any,
    personnel: Any,
    period: Any,
    budget_line: Any,
) -> None:
    """`manage.py backup` copies media through the storage: the bucket's files are in the
    archive, with their checksums, and none the database names is missing."""
    expense = _upload(partner_member, partner_a, workpackage, personnel, period)
    summary = backup_create(destination=tmp_path)
    files = {entry.path: entry for entry in summary.manifest.files}
    entry = files[f"media/{expense.evidence.name}"]
    assert entry.size == len(PDF)
    assert entry.sha256 == hashlib.sha256(PDF).hexdigest()
    assert summary.manifest.missing_files == []
    assert backup_check(archive=summary.path).files == summary.manifest.files
