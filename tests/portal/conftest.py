"""Fixtures of the partner pages: the shared roles of `tests/conftest.py`, plus a partner contact,
and email handed to Celery run in the test's own process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from consortium.choices import MembershipRole
from consortium.services import membership_grant
from tests import factories
from tests.reporting.conftest import (  # noqa: F401  (a real worker and SMTP server for emails)
    celery_queue,
    celery_setting,
    celery_worker,
    smtp,
)

PASSWORD = "Correct-Horse-42"  # noqa: S105  (a test account's password)


@pytest.fixture
def member(partner_member: Any) -> Any:
    """Partner A's member with a known password and an email address in mixed case."""
    partner_member.email = "Ana.Lopez@UMosane.example"
    partner_member.set_password(PASSWORD)
    partner_member.save()
    return partner_member


@pytest.fixture
def contact(partner_a: Any) -> Any:
    """The partner contact of partner A: the one who manages its team."""
    user = factories.UserFactory(username="contact-a", email="contact-a@example.org")
    membership_grant(partner=partner_a, user=user, role=MembershipRole.CONTACT, granted_by=None)
    user.refresh_from_db()
    return user


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Tasks queued by a page run at once in this process (email lands in `mail.outbox`); the
    enqueueing still goes through the real Redis connection check."""
    celery_setting("task_always_eager", True)
    try:
        yield
    finally:
        celery_setting("task_always_eager", False)
