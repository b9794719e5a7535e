"""How an app tells the app above it about a change without importing it: the function to
call is named in a setting (``PORTAL_*_HOOK``, a dotted path), and is called with keyword
arguments inside the change's own transaction. A system check refuses to start the portal
if a hook does not import."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string


def hook_settings() -> list[str]:
    return sorted(
        {name for name in dir(settings) if name.startswith("PORTAL_") and name.endswith("_HOOK")}
    )


def hook_targets(setting: str) -> list[str]:
    """A hook setting names one function, or a list of them called in order."""
    value = getattr(settings, setting)
    return [value] if isinstance(value, str) else list(value)


def call_hook(setting: str, **kwargs: Any) -> None:
    for target in hook_targets(setting):
        import_string(target)(**kwargs)


@checks.register()
def check_hooks(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors = []
    for name in hook_settings():
        for path in hook_targets(name):
            try:
                target = import_string(path)
            except ImportError as exc:
                errors.append(checks.Error(f"{name} does not import: {exc}", id="portal.E001"))
                continue
            if not callable(target):
                errors.append(checks.Error(f"{name} is not a function", id="portal.E002"))
    return errors
