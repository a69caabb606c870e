"""The Celery application: broker and results on Redis, schedules in the database (django-celery-beat)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("consortium_manager")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
