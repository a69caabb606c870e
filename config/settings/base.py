"""Settings shared by every environment; everything that varies comes from environment variables."""

import datetime
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.utils.translation import gettext_lazy as _

from config.logs import configure_structlog, logging_config

# Every setting that varies between installations is read here, from the environment, through
# django-environ; docs/deploy.md has the table of them all.
env = environ.Env()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))


SECRET_KEY = env.str("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.apps.ConsortiumAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_celery_beat",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "health_check",
    "csp",
    "django_structlog",
    "consortium",
    "workpackages",
    "reporting",
]

MIDDLEWARE = [
    # First: the liveness and readiness probes, whatever their Host (config/health.py).
    "config.health.HealthProbeMiddleware",
    # Each person's consortia and partners are read once per request, then matched by id.
    "consortium.middleware.ScopesPerRequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads a body: uploads keep the file names as sent, to be checked.
    "workpackages.uploads.SentNamesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # What reaches the app (static files have left already): its Content Security Policy, its
    # Permissions-Policy, and no cache of anyone's own pages, API answers or files.
    "csp.middleware.CSPMiddleware",
    "config.security.SecurityHeadersMiddleware",
    # An API answer's ETag is of its final body: `304 Not Modified` to an `If-None-Match` that
    # matches (sync by polling).
    "consortium.middleware.ApiConditionalGetMiddleware",
    # After the answer, outside the request's transaction: an integration token's last use.
    "consortium.middleware.IntegrationTokenUseMiddleware",
    # A body declared past any form's limit is refused before it is read.
    "workpackages.uploads.RequestSizeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Django's, without the trailing-slash redirect for the API (a JSON 404 says the address).
    "consortium.middleware.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Which second factor, if any, the session has passed (`request.user.is_verified()`).
    "django_otp.middleware.OTPMiddleware",
    # Once the user is known: every log line of the request carries its id and the user's.
    "django_structlog.middlewares.RequestMiddleware",
    "consortium.middleware.UserLanguageMiddleware",
    # In the person's language: a session that owes its second factor goes to that step
    # (or to enrolment) before any page, and the API answers it 403.
    "consortium.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last: answers a sign-in attempt that django-axes has locked out.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Every page's Content Security Policy: scripts, styles, images and fonts from this site only (no
# page carries an inline script), frames nowhere. Inline style attributes stay allowed: the
# report documents and the admin's widgets use them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# SQLite under var/ is the embedded default so that `make run` needs no server; production and the
# test suite set DATABASE_URL to PostgreSQL. A connection is kept DATABASE_CONN_MAX_AGE seconds
# between requests, and checked before a request uses it again: after a database restart, the
# first request of each process reconnects instead of failing.
DATABASES = {
    "default": {
        **env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        "CONN_MAX_AGE": env.int("DATABASE_CONN_MAX_AGE", default=60),
        "CONN_HEALTH_CHECKS": True,
    }
}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
# SQLite (`make run`) builds the index of accepted costs without its included columns, which only
# PostgreSQL stores in an index (the figures read it alone there): the same index, less covering.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
# English dates day first, as in Belgium (config/formats/en/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Europe/Brussels"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Media on S3-compatible object storage when a bucket is named (django-storages): a private
# bucket whose objects are never overwritten, files streamed through the app after the
# permission check (config/storage.py, consortium/media.py).
MEDIA_S3_BUCKET = env.str("MEDIA_S3_BUCKET", default="")
if MEDIA_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "config.storage.PrivateS3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "endpoint_url": env.str("MEDIA_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("MEDIA_S3_REGION", default="") or None,
            "access_key": env.str("MEDIA_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("MEDIA_S3_SECRET_ACCESS_KEY", default="") or None,
            "location": env.str("MEDIA_S3_PREFIX", default=""),
        },
    }
# Files on disk handed to the proxy once permission is checked (django-sendfile2): the app
# answers `X-Accel-Redirect: /internal-media/<name>`, which Caddy or nginx serve from
# MEDIA_ROOT (deploy/Caddyfile). Without it, the app streams the file itself.
MEDIA_X_ACCEL_REDIRECT = env.bool("MEDIA_X_ACCEL_REDIRECT", default=False)
SENDFILE_BACKEND = "django_sendfile.backends.nginx"
SENDFILE_ROOT = MEDIA_ROOT
SENDFILE_URL = "/internal-media"
# Form bodies other than files stay small; uploads above this size are streamed to a temporary
# file rather than held in memory. The size limit of uploaded files is a model validator.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# django-axes first: it refuses a locked-out sign-in before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "consortium.backends.UsernameOrEmailBackend",
]
# Sign-in throttling (partner pages, admin and API token alike): after LOGIN_FAILURE_LIMIT wrong
# passwords for one account (its username or its email address, however written) from one
# address, that pair waits LOGIN_LOCKOUT_MINUTES; after LOGIN_ADDRESS_FAILURE_LIMIT wrong passwords
# from one address whatever the accounts, the address waits too. Counting the pair first, and the
# address only at a higher limit, keeps colleagues behind one office gateway signing in.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=20)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
# Axes' rows, and what a successful sign-in clears, are per name and address; the handler adds
# the address's own count (consortium/backends.py).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "consortium.backends.AccountAndAddressHandler"
AXES_USERNAME_CALLABLE = "consortium.backends.attempted_username"
AXES_CLIENT_IP_CALLABLE = "consortium.backends.client_address"
AXES_RESET_ON_SUCCESS = True
# Tries during the pause don't restart it: 15 minutes is the wait, even for someone who insists.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "consortium.views.accounts.locked_out"
# Failed attempts are kept (AccessAttempt); successful sign-ins are not logged a second time,
# and commands start without axes' banner.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
# A second factor at sign-in (django-otp: an authenticator app, recovery codes for a lost
# phone): required of staff (coordinators, superusers) when OTP_REQUIRED_FOR_STAFF is on, as
# it is in production; anyone who has set one up passes it too (consortium/second_factor.py).
OTP_REQUIRED_FOR_STAFF = env.bool("OTP_REQUIRED_FOR_STAFF", default=False)
# The name authenticator apps show next to the account.
OTP_TOTP_ISSUER = "Consortium Manager"
# The device pages of the admin (superusers only) never show a secret key again.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
# A session ends after SESSION_IDLE_HOURS without a request (8 by default, a working day), and
# with the browser; every request extends it.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_HOURS", default=8) * 3600
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Links in password reset emails stay valid for a day.
PASSWORD_RESET_TIMEOUT = 24 * 3600
# Where `/media/…` looks for the row a file belongs to; each returns the file if the user may see it.
PROTECTED_FILES = [
    "workpackages.workplan.selectors.visible_file",
    "workpackages.money.selectors.visible_file",
    "reporting.views.visible_file",
]

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis hands an unacknowledged message to another worker after the visibility timeout. A task
# whose whole worker died (a power cut, an out-of-memory kill) is back in another worker within
# that timeout plus one restore sweep (every 10 s × 3), under ten minutes, even if the worker died
# during a sweep of its own and left the sweeps' lock behind (it expires after a minute). Every
# task must end (or be killed) well before the timeout, a retry's delay included, or a slow report
# would be generated twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=450),
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 3,
    "unacked_mutex_expire": 60,
    "socket_connect_timeout": 1,
}
CELERY_TASK_SOFT_TIME_LIMIT = 210
CELERY_TASK_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# django-celery-beat's schedules, fired by one beat at a time (config/beat.py).
CELERY_BEAT_SCHEDULER = "config.beat.SingleBeatScheduler"
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="consortium-manager")

EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="consortium-manager@localhost")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
# A report or digest that meets an SMTP or connection error is tried again after
# EMAIL_RETRY_BACKOFF seconds, then twice as long each time (at most 150 s, see
# `consortium.tasks.backoff`), EMAIL_MAX_RETRIES times: about 18 minutes of an SMTP outage.
EMAIL_MAX_RETRIES = env.int("EMAIL_MAX_RETRIES", default=8)
EMAIL_RETRY_BACKOFF = env.int("EMAIL_RETRY_BACKOFF", default=60)
# Reports and digests the queue hasn't handled after this long are handed to it again: longer
# than a task's time limit plus a retry's delay, so that work under way is left alone.
DISPATCH_STALE_MINUTES = env.int("DISPATCH_STALE_MINUTES", default=10)
# The address of the app in links sent by email (the opt-out of reminders, the report archive).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# The domain of the calendar feed's event UIDs, set once and kept when the site moves
# (workpackages/overview/calendar.py); an installation names its own to be unique the world over.
CALENDAR_UID_DOMAIN = env.str("CALENDAR_UID_DOMAIN", default="consortium-manager.invalid")
# Integration tokens (consortium/services.py): the longest lifetime offered, in days, and how
# many working tokens a person may hold at once.
INTEGRATION_TOKEN_MAX_DAYS = env.int("INTEGRATION_TOKEN_MAX_DAYS", default=365)
INTEGRATION_TOKENS_PER_PERSON = env.int("INTEGRATION_TOKENS_PER_PERSON", default=20)
# Webhooks (consortium/webhooks.py, consortium/webhook_delivery.py) go to public addresses over
# HTTPS only: an installation that posts to its own network (a receiver on the same machine, an
# intranet ERP) allows private addresses, and plain HTTP, by saying so.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", default=False)
WEBHOOKS_ALLOW_HTTP = env.bool("WEBHOOKS_ALLOW_HTTP", default=False)
# Seconds a receiver has to answer; attempts before a delivery fails, the first retry's delay in
# seconds (doubled each time, at most 150 s as for emails: see `consortium.tasks.backoff`).
WEBHOOKS_TIMEOUT = env.int("WEBHOOKS_TIMEOUT", default=10)
WEBHOOKS_MAX_ATTEMPTS = env.int("WEBHOOKS_MAX_ATTEMPTS", default=10)
WEBHOOKS_RETRY_BACKOFF = env.float("WEBHOOKS_RETRY_BACKOFF", default=30)
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)

API_THROTTLE_USER = env.str("API_THROTTLE_USER", default="2000/hour")
API_THROTTLE_ANON = env.str("API_THROTTLE_ANON", default="100/hour")
API_THROTTLE_TOKEN = env.str("API_THROTTLE_TOKEN", default="10/minute")
# Clients are counted by address: behind N reverse proxies, the N-th address from the right of
# X-Forwarded-For is theirs. With 0, a client can't pick its own address by sending that header.
API_NUM_PROXIES = env.int("API_NUM_PROXIES", default=0)
# An API token lasts API_TOKEN_DAYS from when it was issued, and ends as soon as its owner's
# password changes, whatever changes it (consortium/authentication.py).
API_TOKEN_DAYS = env.int("API_TOKEN_DAYS", default=90)
# An invitation to a partner's team waits INVITATION_DAYS for an answer; sending it again gives it
# a new link and as long again.
INVITATION_DAYS = env.int("INVITATION_DAYS", default=7)

REST_FRAMEWORK: dict[str, Any] = {
    # Integrations send `Authorization: Token <key>`; the browsable API uses the session.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "consortium.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON, read whole or refused with a 400 (consortium/api/parsers.py); the operations that
    # upload a file read a multipart form instead, and the token endpoint a form too (scripts).
    "DEFAULT_PARSER_CLASSES": ["consortium.api.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "consortium.api.policies.StableOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "consortium.api.policies.Pagination",
    "DEFAULT_THROTTLE_CLASSES": [
        "consortium.api.policies.UserThrottle",
        "consortium.api.policies.AnonThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": API_THROTTLE_USER,
        "anon": API_THROTTLE_ANON,
        "auth-token": API_THROTTLE_TOKEN,
    },
    "DEFAULT_SCHEMA_CLASS": "consortium.api.base.DocumentedErrorsSchema",
    "EXCEPTION_HANDLER": "consortium.api.errors.exception_handler",
    "NUM_PROXIES": API_NUM_PROXIES,
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Consortium Manager API",
    "DESCRIPTION": (
        "The partnership's work plan, budget, expenses, effort and jobs created, for dashboards, "
        "reporting spreadsheets and partners' ERP systems. Money is a string with two decimals "
        "(EUR), dates and times are ISO 8601. Authenticate with `Authorization: Token <key>`, "
        "the key coming from `POST /api/v1/auth/token/`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema names every resource and rule: for signed-in people and integrations only (the
    # API's own sign-in, session or token; the docs page sends others to the sign-in page).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "DeliverableStatusEnum": "workpackages.workplan.choices.DeliverableStatus",
        "MilestoneStatusEnum": "workpackages.workplan.choices.MilestoneStatus",
        "BudgetLineStatusEnum": "workpackages.money.choices.BudgetLineStatus",
        "ExpenseStatusEnum": "workpackages.money.choices.ExpenseStatus",
        "JobStatusEnum": "workpackages.jobs.choices.JobStatus",
        "JobCategoryEnum": "workpackages.jobs.choices.JobCategory",
        "PartnerStatusEnum": "consortium.choices.PartnerStatus",
        "PartnerRoleEnum": "consortium.choices.PartnerRole",
        "MembershipRoleEnum": "consortium.choices.MembershipRole",
        "OrganisationKindEnum": "consortium.choices.OrganisationKind",
        "CostCategoryKindEnum": "consortium.choices.CostCategoryKind",
    },
}

# Financial records must be kept for audits for years: history rows are never pruned by the app.
SIMPLE_HISTORY_REVERT_DISABLED = True

# One line per event, JSON in production (config/logs.py); errors emailed to ADMINS unless
# Sentry takes them (production).
LOG_FORMAT = env.str("LOG_FORMAT", default="console")
ADMINS = getaddresses(env.list("ADMINS", default=[]))
configure_structlog()
LOGGING = logging_config(
    level=env.str("LOG_LEVEL", default="INFO"), json=LOG_FORMAT == "json", mail_admins=True
)
DJANGO_STRUCTLOG_CELERY_ENABLED = True
# The workers log through Django's LOGGING, not through Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
