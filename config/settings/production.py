"""Production: every secret comes from the environment and the app refuses to start without it."""

import os

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403  (a settings module extends the base namespace)
from config.settings.base import REDIS_URL, SECRET_KEY, env_bool

if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set in production.")
if "DATABASE_URL" not in os.environ:
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL in production.")

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

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
