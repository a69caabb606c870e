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
    late_deliverable,
    not_yet_due_deliverable,
    sent_on_time_deliverable,
)


def deliverable_counts(
    ids: list[int], today: datetime.date, *, as_of: bool = False
) -> dict[int, dict[str, Any]]:
    """Deliverables per consortium: in all, late, on time, due in 30 days, by status. With
    `as_of`, as they stood at the end of `today` (a past day): from the dates of their first
    version, whatever happened since; the statuses are today's."""
    if as_of:
        return _deliverable_counts_on(ids, today)
    # Sent on time, late and not yet due part the deliverables (`late_deliverable`, the rule of
    # the progress report and the funder's pages): a deliverable sent on time, then sent back
    # and still open past its date, is late now; sent back before its date, it is not yet due.
    rows = (
        Deliverable.objects.filter(consortium_id__in=ids)
        .values("consortium_id")
        .annotate(
            total=Count("pk"),
            late=Count("pk", filter=late_deliverable(today)),
            on_time=Count("pk", filter=sent_on_time_deliverable(today)),
            not_yet_due=Count("pk", filter=not_yet_due_deliverable(today)),
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
            not_yet_due=Count("pk", filter=Q(due_date__gte=day) & ~sent),
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
