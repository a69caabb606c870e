"""The app's models, one module per subject (`workplan/`, `money/`, `jobs/`), and the tombstones of
deleted rows (`overview/changes.py`); Django loads them from here."""

from workpackages.base import ConsortiumOwned
from workpackages.jobs.models import JobRecord
from workpackages.money.models import BudgetLine, Effort, Expense, Statement
from workpackages.overview.changes import Tombstone
from workpackages.workplan.models import (
    Deliverable,
    DeliverableReview,
    DeliverableSubmission,
    Milestone,
    Workpackage,
    WorkpackageParticipant,
)

__all__ = [
    "BudgetLine",
    "ConsortiumOwned",
    "Deliverable",
    "DeliverableReview",
    "DeliverableSubmission",
    "Effort",
    "Expense",
    "JobRecord",
    "Milestone",
    "Statement",
    "Tombstone",
    "Workpackage",
    "WorkpackageParticipant",
]
