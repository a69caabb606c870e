"""The operations tests use the reports' work plan, SMTP server and Celery workers."""

from tests.reporting.conftest import celery_queue, celery_worker, plan, smtp

__all__ = ["celery_queue", "celery_worker", "plan", "smtp"]
