"""The Celery application: broker and results on Redis, schedules in the database (django-celery-beat)."""

import os

from celery import Celery
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("consortium_manager")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Each task's log lines carry its id and the id of the request that queued it.
app.steps["worker"].add(DjangoStructLogInitStep)
