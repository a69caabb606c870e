"""Reads of the work plan: deliverables by state, late and on time, per consortium, in one query."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import (
    Count,
    F,
    Q,
)

from workpackages.workplan.choices import DeliverableStatus
from workpackages.workplan.models import (
    Deliverable,
    DeliverableSubmission,
    due_soon_deliverable,
    overdue_deliverable,
)


def deliverable_counts(
    ids: list[int], today: datetime.date, *, as_of: bool = False
) -> dict[int, dict[str, Any]]:
    """Deliverables per consortium: in all, late, on time, due in 30 days, by status. With
    `as_of`, as they stood at the end of `today` (a past day): from the dates of their first
    version, whatever happened since; the statuses are today's."""
    if as_of:
        return _deliverable_counts_on(ids, today)
    # Late and on time exclude each other: a deliverable sent on time, then sent back and still
    # open past its date, is late now.
    late = overdue_deliverable(today) | Q(first_submitted_at__date__gt=F("due_date"))
    rows = (
        Deliverable.objects.filter(consortium_id__in=ids)
        .values("consortium_id")
        .annotate(
            total=Count("pk"),
            late=Count("pk", filter=late),
            on_time=Count("pk", filter=Q(first_submitted_at__isnull=False) & ~late),
            due_soon=Count("pk", filter=due_soon_deliverable(today)),
            **{
                f"status_{value}": Count("pk", filter=Q(status=value))
                for value in DeliverableStatus.values
            },
        )
    )
    return {row.pop("consortium_id"): row for row in rows}


def _deliverable_counts_on(ids: list[int], day: datetime.date) -> dict[int, dict[str, Any]]:
    sent = Q(first_submitted_at__date__lte=day)
    late = (Q(due_date__lt=day) & ~sent) | (sent & Q(first_submitted_at__date__gt=F("due_date")))
    soon = Q(due_date__gte=day, due_date__lte=day + datetime.timedelta(days=30)) & ~sent
    rows = (
        Deliverable.objects.filter(consortium_id__in=ids)
        .values("consortium_id")
        .annotate(
            total=Count("pk"),
            late=Count("pk", filter=late),
            on_time=Count("pk", filter=sent & ~late),
            due_soon=Count("pk", filter=soon),
            **{
                f"status_{value}": Count("pk", filter=Q(status=value))
                for value in DeliverableStatus.values
            },
        )
        .order_by()
    )
    return {row.pop("consortium_id"): row for row in rows}


def visible_file(user: Any, path: str) -> Any:
    """A deliverable's version at `path`, if `user` may see its deliverable (`PROTECTED_FILES`)."""
    submission = DeliverableSubmission.objects.filter(
        file=path, deliverable__in=Deliverable.objects.restrict(user, "view")
    ).first()
    return submission.file if submission is not None else None
