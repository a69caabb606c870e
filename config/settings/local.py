"""`make run`: debug on, SQLite unless DATABASE_URL says otherwise."""

from config.settings.base import *  # noqa: F403  (a settings module extends the base namespace)
from config.settings.base import VAR_DIR, env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="") or "local-development-only-not-secret"

# The embedded SQLite database and uploaded files live under var/, created on first use.
VAR_DIR.mkdir(parents=True, exist_ok=True)
