"""Putting files in private storage and handing them back to whoever the caller allowed."""

from __future__ import annotations

import hashlib
import uuid
from typing import IO

from django.core.files.base import File
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse, HttpResponseRedirect

CHUNK = 1024 * 1024


def random_key(folder: str, extension: str) -> str:
    """A key nobody can guess or collide with, never the name the person gave."""
    return f"{folder}/{uuid.uuid4().hex}.{extension}"


def sha256_of(stream: IO[bytes]) -> tuple[str, int]:
    """SHA-256 and size of a stream, read in chunks (never whole in memory)."""
    digest = hashlib.sha256()
    size = 0
    stream.seek(0)
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return digest.hexdigest(), size


def save(key: str, stream: IO[bytes]) -> str:
    """Store a stream under ``key`` (the storage streams it in chunks); returns the name."""
    stream.seek(0)
    return default_storage.save(key, File(stream, name=key))


def delete_quietly(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # noqa: S112 - best effort clean-up of files no row points to
            continue


def is_remote() -> bool:
    """True when files live on S3: they are served by short-lived signed redirects."""
    return hasattr(default_storage, "bucket_name")


def serve(name: str, *, content_type: str, filename: str) -> HttpResponse:
    """The file, to a person the caller has already checked.

    On S3, a redirect to a URL signed for a few minutes; on disk, a streamed response that
    the browser shows inline but never sniffs into something else.
    """
    if is_remote():
        return HttpResponseRedirect(default_storage.url(name))
    response = FileResponse(
        default_storage.open(name, "rb"),
        content_type=content_type,
        as_attachment=False,
        filename=filename,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=300"
    return response
