"""gunicorn's settings for `bin/web`, from the environment (docs/deploy.md)."""

import os

from config.logs import gunicorn_logging_config

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
# Two processes per core is plenty for a consortium's few hundred users.
workers = int(os.environ.get("WEB_WORKERS", "2"))
# The slowest request is an import of a thousand expense lines (about 30 s today): a worker
# answers within WEB_TIMEOUT or is restarted. The proxy in front must wait as long.
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
# Workers are replaced after this many requests (with jitter), so that memory never creeps.
max_requests = 2000
max_requests_jitter = 200
# Request lines and headers stay small; bodies are bounded by the proxy and by Django.
limit_request_line = 8190
limit_request_fields = 100
# The heartbeat file of each worker lives in memory, not on a disk that may stall.
MEMORY = "/dev/shm"  # noqa: S108  (only gunicorn's heartbeat files, as its documentation advises)
worker_tmp_dir = MEMORY if os.path.isdir(MEMORY) else None
# Only a proxy on these addresses may say which client and scheme a request came from.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Each request is logged once, by the app (a JSON line with its id, user and status): no access
# log of gunicorn's own.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# gunicorn's own lines in the app's shape: JSON in production (LOG_FORMAT, as the settings read it).
_production = os.environ.get("DJANGO_SETTINGS_MODULE", "").endswith(".production")
logconfig_dict = gunicorn_logging_config(
    level=loglevel.upper(),
    json=os.environ.get("LOG_FORMAT", "json" if _production else "console") == "json",
)
