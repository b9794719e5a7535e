"""Settings for the dispute portal, read from the environment (see .env.example).

With no environment at all the portal runs on an embedded default: SQLite, files on disk
under ``var/`` and a Celery broker kept in files, so ``make run`` needs no other server.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
import structlog
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# A deployment sets its own key (docker-compose.yml demands one). Without DEBUG the portal refuses
# to start on the public default, which would let anyone forge sessions and password-reset links;
# only `make run` (DEBUG=1) uses it. The test suite names its own key (tests/settings.py).
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set and DEBUG is off: the portal will not run on a public key. "
            "Set SECRET_KEY to a long random string (python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'), or DEBUG=1 on a development machine."
        )
    SECRET_KEY = "insecure-dev-key-change-me"  # noqa: S105 (DEBUG only)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The address links in mails point to: SITE_URL, or else the one `make run` serves on (it records
# it in var/site-url, so that a command run by hand later, `manage.py sweep_deadlines --deliver`,
# links to the same port), or else the default port.
SITE_URL_FILE = VAR_DIR / "site-url"
SITE_URL = (
    env.str("SITE_URL", default="")
    or (SITE_URL_FILE.read_text().strip() if SITE_URL_FILE.is_file() else "")
    or "http://127.0.0.1:8000"
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "axes",
    "csp",
    "accounts",
    "orders",
    "disputes",
    "evidence",
    "refunds",
    "complaints",
    "dashboards",
    "demo",
    "api",
    "operations",
    "django_prometheus",
    "django_structlog",
    "ninja",  # its API docs page, served from the package's own static files
]

MIDDLEWARE = [
    # First and last: django-prometheus times the whole stack (operations/metrics.py).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The person's saved language and time zone (after LocaleMiddleware's browser guess).
    "accounts.locale.PersonalLocaleMiddleware",
    "accounts.middleware.PrivatePagesMiddleware",
    # JSON logs: a request id and the user on every line of a request, and the dispute on
    # the lines of a dispute's pages (operations/logging.py).
    "operations.logging.DisputeLogContextMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Inside the ones that add headers: with DEBUG on, a 404 is the portal's page (errors.py).
    "portal.errors.ErrorPagesMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out log-in into the lock-out page.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

# Error pages: the portal's own (templates/404.html, 403.html, 400.html, 500.html; handlers in
# portal/urls.py), DEBUG or not. With DEBUG on, Django would show its technical pages (every URL
# pattern, tracebacks, settings); portal/errors.py puts the portal's in their place unless a
# developer asks for them with TECHNICAL_ERROR_PAGES=1. Tracebacks always go to the log.
PORTAL_TECHNICAL_ERROR_PAGES = DEBUG and env.bool("TECHNICAL_ERROR_PAGES", default=False)
DEFAULT_EXCEPTION_REPORTER = "portal.errors.PageReporter"
# A form refused by the CSRF check: "the page was open too long, reload it and send again".
CSRF_FAILURE_VIEW = "portal.errors.csrf_failure"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
                "disputes.context_processors.notifications",
                "disputes.context_processors.rules",
            ],
        },
    },
]

# Checks silenced on purpose, each with its reason where it is added below.
SILENCED_SYSTEM_CHECKS: list[str] = []

# --- Database ---
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the worker read while one of them writes.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            # The web server, the worker and beat write to one file: a transaction takes the
            # write lock when it begins (waiting up to the timeout), instead of failing with
            # "database is locked" when it first writes after another process did.
            "transaction_mode": "IMMEDIATE",
        }
    )
    # SQLite keeps the covering indexes' key columns and ignores the columns they carry
    # along (models.W040): the same rows come back, without PostgreSQL's index-only scans.
    SILENCED_SYSTEM_CHECKS.append("models.W040")
    # The tests' database, as Django makes it for SQLite: in memory, one per test process.
    # Said here because the engine is renamed below (django-prometheus's wrapper), and
    # pytest-django would otherwise take the file's path for a server's database name.
    DATABASES["default"].setdefault("TEST", {}).setdefault("NAME", ":memory:")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters travel apart from the SQL (no quoting in Python): much faster for the
    # large batched statements of the deadline sweeps.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
# Counted and timed for /metrics: django-prometheus's wrappers of the same backends.
DATABASES["default"]["ENGINE"] = {
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
}.get(DATABASES["default"]["ENGINE"], DATABASES["default"]["ENGINE"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# django-axes first: it refuses a locked-out log-in before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- Language and time ---
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Numbers as each language writes them (portal/formats/<lang>/formats.py): Russian groups
# thousands with a non-breaking space, English does not group (ids and amounts as typed).
FORMAT_MODULE_PATH = ["portal.formats"]
USE_THOUSAND_SEPARATOR = True
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Static and uploaded files ---
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
# Uploaded files live outside any folder the web server publishes; evidence is served only
# through views that check who is asking.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
MEDIA_URL = "/media-not-served/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Evidence on S3 (or any S3-compatible store) when a bucket is named: private objects, links
# signed for 5 minutes at most, never overwriting a key.
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "querystring_auth": True,
            "querystring_expire": 300,
            "default_acl": None,
            "file_overwrite": False,
        },
    }
# Uploads above this size stream to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = env.str("FILE_UPLOAD_TEMP_DIR", default="") or None

# --- Cache, broker, Celery ---
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # django-redis, counting hits and misses for /metrics.
            "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
else:
    CACHES = {"default": {"BACKEND": "django_prometheus.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")

CELERY_BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # A broker kept in files: enough for one machine running `make run`.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR),
        "data_folder_out": str(CELERY_BROKER_DIR),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        # Broadcast (worker control) messages, otherwise written to ./control.
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
    (CELERY_BROKER_DIR / "processed").mkdir(parents=True, exist_ok=True)
    (CELERY_BROKER_DIR / "control").mkdir(parents=True, exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than any task may run, shorter than a sweep interval times a few.
        "visibility_timeout": 600,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
SWEEP_INTERVAL_SECONDS = env.int("SWEEP_INTERVAL_SECONDS", default=60)
# Incident mode: the longest extension staff may give a set of orders at once.
PORTAL_INCIDENT_MAX_DAYS = env.int("PORTAL_INCIDENT_MAX_DAYS", default=30)
# Every clock is a stored column swept by these short periodic tasks; none of them is a
# long ETA task. A run that could not start before the next one is due simply expires.
CELERY_BEAT_SCHEDULE = {
    "complete-expired-orders": {
        "task": "orders.tasks.sweep_expired_protection",
        "schedule": SWEEP_INTERVAL_SECONDS,
        "options": {"expires": SWEEP_INTERVAL_SECONDS},
    },
    "sweep-dispute-deadlines": {
        "task": "disputes.tasks.sweep_dispute_deadlines",
        "schedule": SWEEP_INTERVAL_SECONDS,
        "options": {"expires": SWEEP_INTERVAL_SECONDS},
    },
    "deliver-pending-notifications": {
        "task": "disputes.tasks.deliver_pending_notifications",
        "schedule": SWEEP_INTERVAL_SECONDS,
        "options": {"expires": SWEEP_INTERVAL_SECONDS},
    },
    # Incident mails to people whose orders have no running dispute (retries too).
    "deliver-incident-notices": {
        "task": "disputes.services.incidents.deliver_pending_incident_notices",
        "schedule": SWEEP_INTERVAL_SECONDS,
        "options": {"expires": SWEEP_INTERVAL_SECONDS},
    },
    "send-due-refunds": {
        "task": "refunds.tasks.send_due_refunds",
        "schedule": SWEEP_INTERVAL_SECONDS,
        "options": {"expires": SWEEP_INTERVAL_SECONDS},
    },
    # Webhook messages due (first tries the broker lost, and retries after their backoff),
    # and idempotent answers older than PORTAL_IDEMPOTENCY_TTL.
    "deliver-due-webhooks": {
        "task": "api.tasks.deliver_due_webhooks",
        "schedule": SWEEP_INTERVAL_SECONDS,
        "options": {"expires": SWEEP_INTERVAL_SECONDS},
    },
    # Files kept for a refused form whose hold ran out (PORTAL_EVIDENCE_HOLD): rows and files.
    "sweep-expired-held-files": {
        "task": "evidence.tasks.sweep_expired_held_files",
        "schedule": SWEEP_INTERVAL_SECONDS,
        "options": {"expires": SWEEP_INTERVAL_SECONDS},
    },
}

# --- Mail ---
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env.path("EMAIL_FILE_PATH", default=VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Dispute portal <disputes@localhost>")
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))

# --- Security ---
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# HTTPS=1: the portal sits behind a TLS proxy (README, "Deploying") that sets X-Forwarded-Proto
# and appends the client's address to X-Forwarded-For.
HTTPS = not DEBUG and env.bool("HTTPS", default=False)
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    if not SECURE_HSTS_PRELOAD:
        # Opting out of the browsers' preload list is the operator's choice, not a mistake.
        SILENCED_SYSTEM_CHECKS.append("security.W021")

# Content-Security-Policy on every page (django-csp): scripts and styles only from the portal's
# own static files, never inline (Django admin included: tests/test_deploy.py checks that no
# ModelAdmin turns on the change list's one inline <style>). Evidence on S3 is shown from signed
# links on the bucket's origin.
CSP_EVIDENCE_ORIGINS = env.list("CSP_EVIDENCE_ORIGINS", default=[])
if AWS_STORAGE_BUCKET_NAME and not CSP_EVIDENCE_ORIGINS:
    _endpoint = env.str("AWS_S3_ENDPOINT_URL", default="")
    if _endpoint:
        _parts = urlsplit(_endpoint)
        CSP_EVIDENCE_ORIGINS = [
            f"{_parts.scheme}://{_parts.netloc}",
            f"{_parts.scheme}://{AWS_STORAGE_BUCKET_NAME}.{_parts.netloc}",
        ]
    else:
        CSP_EVIDENCE_ORIGINS = [f"https://{AWS_STORAGE_BUCKET_NAME}.s3.amazonaws.com"]
        if _region := env.str("AWS_S3_REGION_NAME", default=""):
            CSP_EVIDENCE_ORIGINS.append(
                f"https://{AWS_STORAGE_BUCKET_NAME}.s3.{_region}.amazonaws.com"
            )
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # data: for the icons Pico's stylesheet draws (checkboxes, selects).
        "img-src": [SELF, "data:", *CSP_EVIDENCE_ORIGINS],
        "media-src": [SELF, *CSP_EVIDENCE_ORIGINS],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Log-in protection (django-axes) ---
# A person gets LOGIN_FAILURE_LIMIT wrong passwords per account and address (the last one is
# answered with the lock-out page, and every try after it is refused, even the right password)
# for LOGIN_LOCKOUT_MINUTES, counted from the failure that locked. Staff unlock early by deleting
# the "access attempt" in admin; a password reset by mail unlocks the account too.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
# Behind the TLS proxy every request comes from the proxy: the client is the address the proxy
# appended last to X-Forwarded-For.
LOGIN_TRUST_X_FORWARDED_FOR = HTTPS

# --- The business rules' numbers (SPEC.md, "Deadlines") -------------------------------------------
# Every duration lives here and is read only by disputes/deadlines.py.
PORTAL_DEFAULT_PROTECTION_DAYS = env.int("PORTAL_DEFAULT_PROTECTION_DAYS", default=60)
PORTAL_POST_CLOSE_WINDOW = timedelta(days=env.int("PORTAL_POST_CLOSE_DAYS", default=15))
PORTAL_SELLER_RESPONSE_WINDOW = timedelta(days=env.int("PORTAL_SELLER_RESPONSE_DAYS", default=5))
PORTAL_NEGOTIATION_WINDOW = timedelta(days=env.int("PORTAL_NEGOTIATION_DAYS", default=7))
PORTAL_ARBITRATION_TARGET = timedelta(days=env.int("PORTAL_ARBITRATION_TARGET_DAYS", default=15))
PORTAL_ARBITRATION_LIMIT = timedelta(days=env.int("PORTAL_ARBITRATION_LIMIT_DAYS", default=60))
PORTAL_RULING_REPLY_WINDOW = timedelta(days=env.int("PORTAL_RULING_REPLY_DAYS", default=5))
PORTAL_REPLACEMENT_SHIPMENT_WINDOW = timedelta(days=env.int("PORTAL_REPLACEMENT_DAYS", default=7))
PORTAL_RETURN_SHIPMENT_WINDOW = timedelta(days=env.int("PORTAL_RETURN_SHIPMENT_DAYS", default=10))
PORTAL_RETURN_RECEIPT_WINDOW = timedelta(days=env.int("PORTAL_RETURN_RECEIPT_DAYS", default=10))
PORTAL_REMINDER_LEAD = timedelta(hours=env.int("PORTAL_REMINDER_LEAD_HOURS", default=24))
PORTAL_ARBITRATION_REMINDER_LEAD = timedelta(
    days=env.int("PORTAL_ARBITRATION_REMINDER_LEAD_DAYS", default=2)
)
PORTAL_EVIDENCE_REQUEST_DAYS = env.int("PORTAL_EVIDENCE_REQUEST_DAYS", default=3)
PORTAL_COUPON_VALIDITY = timedelta(days=env.int("PORTAL_COUPON_VALID_DAYS", default=90))
# The dispute description must be written in English (Latin script); off for other markets.
PORTAL_REQUIRE_LATIN_DESCRIPTION = env.bool("PORTAL_REQUIRE_LATIN_DESCRIPTION", default=True)
PORTAL_CURRENCY = env.str("PORTAL_CURRENCY", default="USD")
# Evidence: photos and videos, checked by their content. Sizes are decimal, as every page and
# message states them (evidence/sizes.py): 1 MB = 1,000,000 bytes, so "15 MB" allows
# 15,000,000 bytes.
PORTAL_EVIDENCE_MAX_IMAGE_BYTES = env.int("PORTAL_EVIDENCE_MAX_IMAGE_MB", default=15) * 1_000_000
PORTAL_EVIDENCE_MAX_VIDEO_BYTES = env.int("PORTAL_EVIDENCE_MAX_VIDEO_MB", default=200) * 1_000_000
PORTAL_EVIDENCE_MAX_FILES_PER_PARTY = env.int("PORTAL_EVIDENCE_MAX_FILES", default=10)
# Files sent with a form that was refused (the dispute questionnaire) are kept for the person
# who sent them this long (disputes/deadlines.py), so the corrected form needs no new upload;
# then the sweep deletes them. At most this many such files per person at once.
PORTAL_EVIDENCE_HOLD = timedelta(hours=env.int("PORTAL_EVIDENCE_HOLD_HOURS", default=24))
PORTAL_EVIDENCE_HOLD_MAX_FILES = env.int("PORTAL_EVIDENCE_HOLD_MAX_FILES", default=30)
# Pillow refuses images above this many pixels (a decompression bomb), as an error.
PORTAL_EVIDENCE_MAX_PIXELS = env.int("PORTAL_EVIDENCE_MAX_PIXELS", default=40_000_000)
# At most this many photos (or video poster frames) are decoded at once in one process: a
# decoded 40 Mpx photo takes 120 MB, whatever the number of threads.
PORTAL_EVIDENCE_DECODES_AT_ONCE = env.int("PORTAL_EVIDENCE_DECODES_AT_ONCE", default=2)
# A JPEG at least twice this long side is decoded at 1/2, 1/4 or 1/8 scale (draft mode),
# never below this side, and stored at that size.
PORTAL_EVIDENCE_DRAFT_MIN_SIDE = env.int("PORTAL_EVIDENCE_DRAFT_MIN_SIDE", default=3000)
# Refunds: the gateway adapter, and how often a failing refund is tried before staff look.
PORTAL_REFUND_GATEWAY = env.str("PORTAL_REFUND_GATEWAY", default="refunds.gateway.SimulatedGateway")
PORTAL_SIMULATED_GATEWAY_MODE = env.str("PORTAL_SIMULATED_GATEWAY_MODE", default="ok")
PORTAL_REFUND_MAX_ATTEMPTS = env.int("PORTAL_REFUND_MAX_ATTEMPTS", default=5)
# A failed refund is tried again after 1, 2, 4... minutes (at most an hour apart).
PORTAL_REFUND_RETRY_FIRST = timedelta(
    seconds=env.int("PORTAL_REFUND_RETRY_FIRST_SECONDS", default=60)
)
PORTAL_REFUND_RETRY_LONGEST = timedelta(
    seconds=env.int("PORTAL_REFUND_RETRY_LONGEST_SECONDS", default=3600)
)
# How many overdue items one sweep call handles before it returns.
PORTAL_SWEEP_BATCH_SIZE = env.int("PORTAL_SWEEP_BATCH_SIZE", default=500)
# How a lower app tells the one above it about a change, in the change's own transaction
# (imports run one way: orders <- refunds <- disputes; evidence <- disputes). Wiring, not
# configuration: each is a dotted path to a function taking keyword arguments.
PORTAL_ORDER_HOOK = "refunds.services.order_changed"  # order_id, change, at
PORTAL_REFUND_HOOK = [  # refund, change, at, note
    "disputes.services.news.refund_changed",
    "api.webhooks.refund_changed",
]
PORTAL_DISPUTE_EVENTS_HOOK = "api.webhooks.dispute_events_recorded"  # events
PORTAL_PAYOUT_HOOK = "api.webhooks.payouts_released"  # payouts, at

# --- the marketplace API and webhooks ---------------------------------------------------------
# Requests per key (django-ninja's throttle syntax: "<n>/<s|m|h|d>").
PORTAL_API_RATE = env.str("PORTAL_API_RATE", default="1200/m")
PORTAL_API_BATCH_MAX = 500
# A shipment reported with a shipped_at older than this is refused (it would shorten the
# buyer's protection, or end it at once).
PORTAL_API_SHIPMENT_MAX_AGE = timedelta(days=env.int("PORTAL_API_SHIPMENT_MAX_AGE_DAYS", default=7))
# The event feed and "updated since" hold back the newest seconds: an event written by a
# transaction still running would otherwise appear after a poller had passed its id.
PORTAL_API_FEED_LAG = timedelta(seconds=env.int("PORTAL_API_FEED_LAG_SECONDS", default=30))
PORTAL_IDEMPOTENCY_TTL = timedelta(hours=24)
PORTAL_SIGN_IN_LINK_TTL = timedelta(minutes=env.int("PORTAL_SIGN_IN_LINK_MINUTES", default=5))
PORTAL_WEBHOOK_RETRY_FOR = timedelta(days=env.int("PORTAL_WEBHOOK_RETRY_DAYS", default=3))
PORTAL_WEBHOOK_TIMEOUT_SECONDS = env.float("PORTAL_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
PORTAL_WEBHOOK_ROTATION_OVERLAP = timedelta(hours=24)
# Webhooks go only to https and public addresses; the demo and the tests allow both.
PORTAL_WEBHOOKS_ALLOW_HTTP = env.bool("PORTAL_WEBHOOKS_ALLOW_HTTP", default=DEBUG)
PORTAL_WEBHOOKS_ALLOW_PRIVATE = env.bool("PORTAL_WEBHOOKS_ALLOW_PRIVATE", default=DEBUG)
PORTAL_EVIDENCE_HOOK = "disputes.services.news.evidence_hidden"  # evidence, user, at
# A periodic sweep reports each completed run (its heartbeat, read by /health/).
PORTAL_SWEEP_HOOK = "operations.heartbeat.sweep_completed"  # name, at, duration_ms, result

# --- health, metrics (operations/) ---------------------------------------------------------
# /health/ fails the scheduler when the deadline sweep last completed this many of its
# intervals ago (or never).
PORTAL_HEALTH_SWEEP_INTERVALS = env.int("PORTAL_HEALTH_SWEEP_INTERVALS", default=3)
# /metrics answers a request carrying "Authorization: Bearer <PORTAL_METRICS_TOKEN>". Without
# a token set, it answers only requests from the machine itself (127.0.0.1, ::1) that came
# straight to the portal (no X-Forwarded-For): never the public side of a proxy.
PORTAL_METRICS_TOKEN = env.str("PORTAL_METRICS_TOKEN", default="")

# --- lists (pages) ---------------------------------------------------------------------------
# Rows per page of the portal's lists (the seller dashboard, disputes, notifications,
# complaints); orders per page of My orders, where each order is a card with its lines, its
# clocks and its store's rating (10, as the large marketplaces show a buyer's orders); rows
# per page of the admin's lists (the arbitration queue among them: 50 cases, each with its
# running clocks).
PORTAL_PAGE_SIZE = env.int("PORTAL_PAGE_SIZE", default=25)
PORTAL_ORDERS_PAGE_SIZE = env.int("PORTAL_ORDERS_PAGE_SIZE", default=10)
PORTAL_ADMIN_PAGE_SIZE = env.int("PORTAL_ADMIN_PAGE_SIZE", default=50)

# --- Logs: one JSON object a line (readable lines with DEBUG on; LOG_FORMAT=json|console) ---
# Every line, the portal's own logging.getLogger() calls included, carries the context bound
# with structlog's contextvars: request_id and user_id in a request (django-structlog),
# task_id in a Celery task, dispute_id where a dispute is handled (operations/logging.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if DEBUG else "json")
_LOG_CHAIN = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": structlog.stdlib.ProcessorFormatter,
            "processors": [
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.dict_tracebacks,
                structlog.processors.JSONRenderer(),
            ],
            "foreign_pre_chain": [*_LOG_CHAIN, structlog.stdlib.ExtraAdder()],
        },
        "console": {
            "()": structlog.stdlib.ProcessorFormatter,
            "processors": [
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.dev.ConsoleRenderer(colors=False),
            ],
            "foreign_pre_chain": _LOG_CHAIN,
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
structlog.configure(
    processors=[
        structlog.stdlib.filter_by_level,
        *_LOG_CHAIN,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.UnicodeDecoder(),
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)
# The worker logs through LOGGING too (Celery would otherwise install its own plain format),
# with task_id bound for each task (operations/logging.py connects the worker's signals).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
DJANGO_STRUCTLOG_CELERY_ENABLED = True
# Behind the TLS proxy (HTTPS=1) the request id it sets (X-Request-ID) is kept: both logs agree.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = HTTPS
