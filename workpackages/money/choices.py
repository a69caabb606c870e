"""Enumerations of the money: budget lines and expenses.

A status is said of one row, so its label has a context: French agrees it with the row's noun
("Acceptée" for an expense) while a column of counts says "Acceptées".
"""

from django.db import models
from django.utils.translation import pgettext_lazy


class BudgetLineStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("budget line status", "Active")
    CANCELLED = "cancelled", pgettext_lazy("budget line status", "Cancelled")


class ExpenseStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("expense status", "Draft")
    SUBMITTED = "submitted", pgettext_lazy("expense status", "Submitted")
    ACCEPTED = "accepted", pgettext_lazy("expense status", "Accepted")
    REJECTED = "rejected", pgettext_lazy("expense status", "Rejected")
    WITHDRAWN = "withdrawn", pgettext_lazy("expense status", "Withdrawn")
