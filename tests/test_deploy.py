"""Issue 12, finding 5: the deploy defaults.

The portal refuses a public SECRET_KEY, `check --deploy` is clean with production settings,
every page carries a Content-Security-Policy that allows no inline script or style, and pages
served to a logged-in person are never cached.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from accounts.middleware import PrivatePagesMiddleware

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"


def portal_env(**overrides: str | None) -> dict[str, str]:
    """The environment of a fresh process: no test marker, no leftovers from this one."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PYTEST")
        and key
        not in {
            "SECRET_KEY",
            "DEBUG",
            "HTTPS",
            "ALLOWED_HOSTS",
            "DJANGO_SETTINGS_MODULE",
            # tests/conftest.py sets it for the test process; a deployment never does.
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def no_local_env_file():
    env_file = ROOT / ".env"
    if env_file.exists() and re.search(r"^\s*(SECRET_KEY|DEBUG)\s*=", env_file.read_text(), re.M):
        pytest.skip(".env sets SECRET_KEY or DEBUG, which would decide the outcome")


PRODUCTION = {
    "DEBUG": "0",
    "HTTPS": "1",
    "ALLOWED_HOSTS": "portal.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://portal.example.com",
}


# --- SECRET_KEY -----------------------------------------------------------------------------------
def test_without_debug_and_without_a_secret_key_the_portal_refuses_to_start(no_local_env_file):
    result = run(["manage.py", "check"], portal_env(DEBUG="0"))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is not set and DEBUG is off" in result.stderr

    wsgi = run(["-c", "import portal.wsgi"], portal_env(DEBUG="0"))
    assert wsgi.returncode != 0, "gunicorn's entry point refuses too"
    assert "SECRET_KEY is not set" in wsgi.stderr


def test_with_debug_or_a_secret_key_it_starts(no_local_env_file):
    assert run(["manage.py", "check"], portal_env(DEBUG="1")).returncode == 0
    with_key = run(["manage.py", "check"], portal_env(DEBUG="0", SECRET_KEY="x" * 60))
    assert with_key.returncode == 0, with_key.stderr


# --- check --deploy -------------------------------------------------------------------------------
def test_check_deploy_passes_with_production_settings(no_local_env_file):
    env = portal_env(SECRET_KEY=secrets.token_urlsafe(50), **PRODUCTION)
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_https_turns_on_hsts_the_redirect_secure_cookies_and_the_proxy_header(no_local_env_file):
    names = [
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_PROXY_SSL_HEADER",
        "LOGIN_TRUST_X_FORWARDED_FOR",
    ]
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {names!r}}}))"
    )
    env = portal_env(SECRET_KEY=secrets.token_urlsafe(50), **PRODUCTION)
    result = run(["-c", script], env)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "LOGIN_TRUST_X_FORWARDED_FOR": True,
    }

    plain = run(["-c", script], portal_env(SECRET_KEY="x" * 60, DEBUG="0"))
    values = json.loads(plain.stdout.strip().splitlines()[-1])
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["LOGIN_TRUST_X_FORWARDED_FOR"] is False


def test_hsts_header_and_redirect_behind_the_proxy(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    plain = client.get("/login/")
    assert plain.status_code == 301
    assert plain.url == "https://testserver/login/"
    secure = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


# --- Content-Security-Policy ----------------------------------------------------------------------
def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


@pytest.mark.django_db
def test_a_logged_in_page_has_the_policy_and_is_never_cached(client, alice):
    client.force_login(alice)
    page = client.get(reverse("dashboards:my_orders"))
    assert page.status_code == 200
    csp = policy(page)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    header = page["Content-Security-Policy"]
    assert "unsafe-inline" not in header and "unsafe-eval" not in header
    assert page["Cache-Control"] == "private, no-store"


@pytest.mark.django_db
def test_anonymous_pages_have_the_policy_too(client):
    page = client.get(reverse("login"))
    assert policy(page)["script-src"] == ["'self'"]
    assert "private" not in page.get("Cache-Control", "") or "no-store" in page["Cache-Control"]


def test_a_response_that_says_how_to_cache_it_keeps_its_header(rf: RequestFactory):
    class Person:
        is_authenticated = True

    request = rf.get("/evidence/1/")
    request.user = Person()

    def file_view(request):
        response = HttpResponse(b"...")
        response["Cache-Control"] = "private, max-age=300"
        return response

    assert PrivatePagesMiddleware(file_view)(request)["Cache-Control"] == "private, max-age=300"
    page = PrivatePagesMiddleware(lambda request: HttpResponse(b"page"))(request)
    assert page["Cache-Control"] == "private, no-store"
    request.user.is_authenticated = False
    assert not PrivatePagesMiddleware(lambda r: HttpResponse(b"x"))(request).has_header(
        "Cache-Control"
    )


INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:|hx-on",
    re.IGNORECASE,
)


def test_no_template_has_inline_script_or_style():
    """Mails are not pages: they keep their inline styles."""
    offenders = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        if path.relative_to(TEMPLATES).parts[0] == "emails":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if INLINE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_htmx_adds_no_inline_style():
    base = (TEMPLATES / "base.html").read_text()
    config = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", base)
    assert config, "base.html must configure htmx"
    assert json.loads(config.group(1))["includeIndicatorStyles"] is False


def test_no_admin_change_list_inlines_a_style():
    """Django's change list inlines a <style> when a ModelAdmin hides both action bars: the
    policy would block it, so no admin of the portal (or of its packages) may do that."""
    from django.contrib import admin

    offenders = [
        f"{model._meta.label}: {type(model_admin).__name__}"
        for model, model_admin in admin.site._registry.items()
        if not model_admin.actions_on_top and not model_admin.actions_on_bottom
    ]
    assert not offenders
