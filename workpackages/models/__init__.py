"""Models of the work plan, the budget and the jobs; split by subject, imported from here."""

from .base import ConsortiumOwned
from .budget import BudgetLine, Effort, Expense, Statement
from .jobs import JobRecord
from .workplan import (
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
