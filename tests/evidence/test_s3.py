"""Evidence on S3 through django-storages, against a moto server on 127.0.0.1."""

import socket
import urllib.error
import urllib.request
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from disputes.services import DisputeRequest, dispute_open
from tests.factories import make_order, photo

pytestmark = pytest.mark.django_db
BUCKET = "evidence-test"


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint, settings, monkeypatch):
    import boto3

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": moto_endpoint,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "querystring_auth": True,
                "querystring_expire": 300,
                "default_acl": None,
                "file_overwrite": False,
            },
        },
    }
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_evidence_goes_to_s3_and_is_served_by_a_short_signed_url(s3, client_for, alice, bobs_store):
    order = make_order(buyer=alice, store=bobs_store, shipped_at=timezone.now() - timedelta(days=1))
    dispute = dispute_open(
        line=order.lines.get(),
        buyer=alice,
        request=DisputeRequest(
            True, "damaged", "Dented box and a cracked lid.", 1, "refund_only", Decimal("10.00")
        ),
        files=[photo("lid.jpg")],
    ).dispute
    item = dispute.evidence.get()
    keys = [obj["Key"] for obj in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == [item.file.name]
    assert item.file.name.startswith("evidence/") and "lid" not in item.file.name

    response = client_for("alice").get(
        reverse("disputes:evidence_file", args=[dispute.pk, item.pk])
    )
    assert response.status_code == 302
    signed = response.url
    query = parse_qs(urlsplit(signed).query)
    assert "X-Amz-Signature" in query or "Signature" in query
    assert query.get("X-Amz-Expires", query.get("Expires"))[0]
    if "X-Amz-Expires" in query:
        assert int(query["X-Amz-Expires"][0]) <= 300
    status, body = fetch(signed)
    assert status == 200 and body[:3] == b"\xff\xd8\xff"

    unsigned = signed.split("?", 1)[0]
    status, _ = fetch(unsigned)
    assert status == 403

    # Another buyer gets no link at all.
    other = client_for("carol")
    assert (
        other.get(reverse("disputes:evidence_file", args=[dispute.pk, item.pk])).status_code == 404
    )


def test_an_existing_key_is_never_overwritten(s3):
    first = default_storage.save("evidence/same.jpg", ContentFile(b"original bytes"))
    second = default_storage.save("evidence/same.jpg", ContentFile(b"other bytes"))
    assert first == "evidence/same.jpg"
    assert second != first
    body = s3.get_object(Bucket=BUCKET, Key=first)["Body"].read()
    assert body == b"original bytes"
