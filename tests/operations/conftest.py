"""The drills' tests use the reports' work plan, SMTP server and Celery queue."""

from tests.reporting.conftest import celery_queue, plan, smtp

__all__ = ["celery_queue", "plan", "smtp"]
