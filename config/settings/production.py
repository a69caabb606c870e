"""Production: every secret comes from the environment and the app refuses to start without it;
HTTPS, HSTS and secure cookies are on unless the operator says the proxy in front does it."""

from django.core.exceptions import ImproperlyConfigured

from config.logs import logging_config
from config.settings.base import *  # noqa: F403  (a settings module extends the base namespace)
from config.settings.base import DATABASES, REDIS_URL, SECRET_KEY, SILENCED_SYSTEM_CHECKS, env

if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set in production, 50 characters or more (for example "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`)."
    )
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL in production.")

DEBUG = False

# Behind a reverse proxy that sets X-Forwarded-Proto (and strips it from clients), the app trusts
# it to tell HTTPS from HTTP; never otherwise, or a client could say it came over HTTPS.
if env.bool("BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The app redirects HTTP to HTTPS and sends HSTS itself, unless the proxy does both.
if env.bool("PROXY_HANDLES_HTTPS", default=False):
    SECURE_SSL_REDIRECT = False
    SECURE_HSTS_SECONDS = 0
    # What `check --deploy` asks of the app is done by the proxy instead.
    SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "security.W004", "security.W008"]
else:
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = env.int("HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# Health probes come from inside the machine or the cluster, over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Coordinators and superusers pass a second factor at sign-in (consortium/second_factor.py);
# an operator switches the requirement off only while setting an installation up.
OTP_REQUIRED_FOR_STAFF = env.bool("OTP_REQUIRED_FOR_STAFF", default=True)

# API throttling counts requests across every web process: the cache they share is Redis.
# An unreachable Redis answers within half a second, and the API then throttles nobody
# (consortium/api/policies.py) instead of failing.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}

# One JSON line per event (config/logs.py). Errors go to Sentry when SENTRY_DSN is set (the web
# processes' and the workers' alike), otherwise by email to ADMINS.
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
SENTRY_DSN = env.str("SENTRY_DSN", default="")
LOGGING = logging_config(
    level=env.str("LOG_LEVEL", default="INFO"),
    json=LOG_FORMAT == "json",
    mail_admins=not SENTRY_DSN,
)
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        integrations=[DjangoIntegration(), CeleryIntegration()],
        # Partners' money and people's names stay out of the error reports.
        send_default_pii=False,
    )
