"""The benchmark's settings: the test suite's, as production runs them (`DEBUG` off), with the
floor views of `tests.bench.urls` beside the app's routes."""

from config.settings.test import *  # noqa: F403  (a settings module extends the base namespace)

DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.bench.urls"
# A stage's database is switched between runs: no connection kept open across them.
CONN_MAX_AGE = 0
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
