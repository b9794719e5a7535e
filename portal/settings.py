"""Settings for the dispute portal, read from the environment (see .env.example).

With no environment at all the portal runs on an embedded default: SQLite, files on disk
under ``var/`` and a Celery broker kept in files, so ``make run`` needs no other server.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# The default key is for the demo and the tests; docker-compose.yml and deployments set their own.
SECRET_KEY = env.str("SECRET_KEY", default="insecure-dev-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "accounts",
    "orders",
    "disputes",
    "evidence",
    "refunds",
    "complaints",
    "dashboards",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters travel apart from the SQL (no quoting in Python): much faster for the
    # large batched statements of the deadline sweeps.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- Language and time ---
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
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
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
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
    "send-due-refunds": {
        "task": "refunds.tasks.send_due_refunds",
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
if not DEBUG and env.bool("HTTPS", default=False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

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
# Evidence: photos and videos, checked by their content.
PORTAL_EVIDENCE_MAX_IMAGE_BYTES = env.int("PORTAL_EVIDENCE_MAX_IMAGE_MB", default=15) * 1024 * 1024
PORTAL_EVIDENCE_MAX_VIDEO_BYTES = env.int("PORTAL_EVIDENCE_MAX_VIDEO_MB", default=200) * 1024 * 1024
PORTAL_EVIDENCE_MAX_FILES_PER_PARTY = env.int("PORTAL_EVIDENCE_MAX_FILES", default=10)
# Pillow refuses images above this many pixels (a decompression bomb), as an error.
PORTAL_EVIDENCE_MAX_PIXELS = env.int("PORTAL_EVIDENCE_MAX_PIXELS", default=40_000_000)
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
PORTAL_REFUND_HOOK = "disputes.services.news.refund_changed"  # refund, change, at, note
PORTAL_EVIDENCE_HOOK = "disputes.services.news.evidence_hidden"  # evidence, user, at

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
