"""How every process logs: one line per event on its standard error, as JSON in production
(`LOG_FORMAT=json`), readable in a terminal otherwise. Each line carries its time, level and
logger, and, when there is one, the request's id and the signed-in user's id (django-structlog's
middleware), or the task's id and the id of the request that queued it (its Celery step). Errors
also go to Sentry when `SENTRY_DSN` is set, otherwise by email to `ADMINS`."""

from __future__ import annotations

from typing import Any

import structlog

# What both structlog's own events and the standard library's records go through.
SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
]
# Libraries that say too much at INFO: the PDF ones log every step of every report.
QUIET = ("fontTools", "weasyprint", "matplotlib", "PIL")


def configure_structlog() -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )


def logging_config(*, level: str, json: bool, mail_admins: bool) -> dict[str, Any]:
    """The `LOGGING` of the settings."""
    renderer = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    handlers = ["console", "mail_admins"] if mail_admins else ["console"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    renderer,
                ],
                "foreign_pre_chain": SHARED,
            }
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "structured"},
            "mail_admins": {
                "class": "django.utils.log.AdminEmailHandler",
                "level": "ERROR",
                "filters": ["require_debug_false"],
            },
        },
        "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
        "root": {"handlers": handlers, "level": level},
        "loggers": {
            # Django's own records reach the root's handlers, once.
            "django": {"handlers": [], "level": level, "propagate": True},
            **{name: {"level": "WARNING"} for name in QUIET},
        },
    }


def gunicorn_logging_config(*, level: str, json: bool) -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its own lines (a worker booted, a worker timed out) in the
    same shape as the app's, on standard error."""
    app = logging_config(level=level, json=json, mail_admins=False)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": app["formatters"],
        "handlers": {"console": app["handlers"]["console"]},
        "root": {"handlers": ["console"], "level": level},
        # Replaces gunicorn's own handlers of these loggers: its lines reach the root's, once.
        "loggers": {
            "gunicorn.error": {"handlers": [], "level": level, "propagate": True},
            "gunicorn.access": {"handlers": [], "level": level, "propagate": True},
        },
    }
