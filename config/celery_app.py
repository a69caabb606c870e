"""The Celery application: broker and results on Redis, schedules in the database (django-celery-beat)."""

import os
from typing import Any

from celery import Celery
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("consortium_manager")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Webhook deliveries wait in a queue of their own beside the default one, and every worker
# consumes both (`bin/worker`): a receiver that is down, with its retries, never stands between
# a report's emails and the worker.
WEBHOOK_TASKS = frozenset({"consortium.tasks.deliver_webhook"})


def webhook_queue(default_queue: str) -> str:
    """The queue of the webhook deliveries beside `default_queue`."""
    return f"{default_queue}.webhooks"


def worker_queues(default_queue: str) -> list[str]:
    """The queues a worker consumes: the default one and its webhooks'."""
    return [default_queue, webhook_queue(default_queue)]


def route(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **extra: Any) -> Any:
    if name in WEBHOOK_TASKS:
        return {"queue": webhook_queue(app.conf.task_default_queue)}
    return None


app.conf.task_routes = (route,)
# Each task's log lines carry its id and the id of the request that queued it.
app.steps["worker"].add(DjangoStructLogInitStep)
