"""Evidence's form field: several photos and videos at once, for any case that takes them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.functional import lazy
from django.utils.translation import gettext as _

ACCEPT = (
    "image/jpeg,image/png,image/webp,image/heic,image/heif,.heic,.heif,"
    "video/mp4,video/quicktime,video/webm"
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class EvidenceField(forms.FileField):
    """Several photos and videos at once; each is judged by its content later."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ACCEPT}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(EvidenceField, self).clean(item, initial) for item in files]


def _limits() -> str:
    mb = 1024 * 1024
    return _(
        "JPEG, PNG, WebP, HEIC up to %(photo)d MB; MP4, MOV, WebM up to %(video)d MB; "
        "up to %(files)d files."
    ) % {
        "photo": settings.PORTAL_EVIDENCE_MAX_IMAGE_BYTES // mb,
        "video": settings.PORTAL_EVIDENCE_MAX_VIDEO_BYTES // mb,
        "files": settings.PORTAL_EVIDENCE_MAX_FILES_PER_PARTY,
    }


# What the evidence fields accept, stated from settings when a page is drawn.
limits_help = lazy(_limits, str)
