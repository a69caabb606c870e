"""The test suite: PostgreSQL by default (the production database), SQLite when DATABASE_URL says so."""

from pathlib import Path

from config.settings.base import *  # noqa: F403  (a settings module extends the base namespace)
from config.settings.base import CELERY_BROKER_TRANSPORT_OPTIONS, DATABASES, VAR_DIR, env

SECRET_KEY = "test-only-not-secret"  # noqa: S105
DATABASES["default"] = {
    **env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/consortium_manager"),
    "CONN_HEALTH_CHECKS": DATABASES["default"]["CONN_HEALTH_CHECKS"],
    "ATOMIC_REQUESTS": True,
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Email stays in memory, except in a worker process a test starts against its own SMTP server.
if not env.str("EMAIL_HOST", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "test-media")))
SENDFILE_ROOT = MEDIA_ROOT
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_TASK_ALWAYS_EAGER = False
# The webhook tests post to a receiver of their own on the loopback, over plain HTTP.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
WEBHOOKS_ALLOW_HTTP = True
# A worker a test starts waits for its next task a tenth of a second at a time (Redis's BRPOP
# timeout) instead of a second: stopped at the end of the test, it notices at once. A worker
# process a test starts with a visibility timeout of a few seconds (a whole worker killed) looks
# for abandoned messages every second, and waits at most five for a dead worker's sweep lock.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    "polling_interval": 0.1,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
    "unacked_mutex_expire": 5,
}
# The suite makes thousands of API calls as one user; the token endpoint keeps its real limit.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {
        **REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],  # noqa: F405
        "user": "1000000/hour",
        "anon": "1000000/hour",
    },
}
(VAR_DIR / "static").mkdir(parents=True, exist_ok=True)
