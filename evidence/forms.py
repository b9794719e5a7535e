"""Evidence's form fields: several photos and videos at once, for any case that takes them,
and the files already held for a refused form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.functional import lazy
from django.utils.translation import gettext as _

from evidence.sizes import megabytes

ACCEPT = (
    "image/jpeg,image/png,image/webp,image/heic,image/heif,.heic,.heif,"
    "video/mp4,video/quicktime,video/webm"
)


class MultipleFileInput(forms.ClearableFileInput):
    """Several files at once. The limits ride along for the upload's pre-check in the
    browser (static/js/upload.js), read from settings when the page is drawn."""

    allow_multiple_selected = True

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].update(
            {
                "data-max-photo-bytes": settings.PORTAL_EVIDENCE_MAX_IMAGE_BYTES,
                "data-max-video-bytes": settings.PORTAL_EVIDENCE_MAX_VIDEO_BYTES,
                "data-max-files": settings.PORTAL_EVIDENCE_MAX_FILES_PER_PARTY,
            }
        )
        return context


class EvidenceField(forms.FileField):
    """Several photos and videos at once; each is judged by its content later."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ACCEPT}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(EvidenceField, self).clean(item, initial) for item in files]


class HeldFilesField(forms.Field):
    """The files already sent with this form and held for the person (hidden inputs drawn
    beside their previews): a list of ids. Whether each is really theirs, for this form and
    still kept, is for ``evidence_attach_held`` to say."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> list[int]:
        ids = held_ids(value)
        if ids is None:
            raise forms.ValidationError(
                _("The files sent earlier could not be found: please choose them again."),
                code="invalid",
            )
        return ids


def held_ids(value: Any) -> list[int] | None:
    """Ids of held files as a form posts them (one value or a list), without repeats; None
    if any is not an id at all."""
    values = value if isinstance(value, list | tuple) else [value]
    texts = [str(item).strip() for item in values if item is not None]
    texts = [text for text in texts if text]
    if not all(
        text.isascii() and text.isdigit() and len(text) <= 18 and int(text) > 0 for text in texts
    ):
        return None
    return list(dict.fromkeys(int(text) for text in texts))


def _limits() -> str:
    # Decimal units, as every size is stated (evidence/sizes.py): 15 MB is 15,000,000 bytes.
    return _(
        "JPEG, PNG, WebP, HEIC up to %(photo)s MB; MP4, MOV, WebM up to %(video)s MB; "
        "up to %(files)d files."
    ) % {
        "photo": megabytes(settings.PORTAL_EVIDENCE_MAX_IMAGE_BYTES),
        "video": megabytes(settings.PORTAL_EVIDENCE_MAX_VIDEO_BYTES),
        "files": settings.PORTAL_EVIDENCE_MAX_FILES_PER_PARTY,
    }


# What the evidence fields accept, stated from settings when a page is drawn.
limits_help = lazy(_limits, str)
