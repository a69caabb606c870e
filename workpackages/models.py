"""The app's models, one module per subject (`workplan/`, `money/`, `jobs/`); Django loads them
from here."""

from .base import ConsortiumOwned
from .jobs.models import JobRecord
from .money.models import BudgetLine, Effort, Expense, Statement
from .workplan.models import (
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
    "Workpackage",
    "WorkpackageParticipant",
]
