"""A partner's expense statement and the lines of its period, written at the same moment from two
sessions: whichever comes second sees the first, so a statement never declares fewer lines than its
period holds."""

from __future__ import annotations

import datetime
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from consortium.records import record_create
from tests import factories
from workpackages.money.choices import ExpenseStatus
from workpackages.money.models import Expense, Statement
from workpackages.money.services import statement_submit

pytestmark = pytest.mark.django_db(transaction=True)


def _in_session(
    work: Any, results: list[Any], started: threading.Event, go: threading.Event
) -> Any:
    """Run `work()` in a transaction of its own session, hold it open until `go`, then commit."""

    def run() -> None:
        try:
            with transaction.atomic():
                results.append(work())
                started.set()
                go.wait(timeout=30)
        except ValidationError as error:
            results.append(error)
        finally:
            started.set()
            connection.close()

    return threading.Thread(target=run)


def _new_line(budget_line: Any, period: Any, user: Any) -> Any:
    return record_create(
        model=Expense,
        user=user,
        partner=budget_line.partner,
        workpackage=budget_line.workpackage,
        category=budget_line.category,
        period=period,
        incurred_on=period.start_date + datetime.timedelta(days=20),
        amount=Decimal("480.00"),
        description="Pipette tips",
    )


def test_a_line_written_while_the_statement_is_submitted_waits_then_is_refused(
    budget_line: Any, period: Any, partner_member: Any
) -> None:
    factories.ExpenseFactory(line=budget_line, amount=Decimal("1200.00"))
    statement_results: list[Any] = []
    line_results: list[Any] = []
    submitted, submit_go = threading.Event(), threading.Event()
    written, write_go = threading.Event(), threading.Event()
    statement = _in_session(
        lambda: statement_submit(partner=budget_line.partner, period=period, user=partner_member),
        statement_results,
        submitted,
        submit_go,
    )
    line = _in_session(
        lambda: _new_line(budget_line, period, partner_member), line_results, written, write_go
    )
    write_go.set()

    statement.start()
    assert submitted.wait(timeout=30)
    line.start()
    time.sleep(1.0)
    # The line waits for the statement's session: it has not checked anything yet.
    assert line.is_alive() and not line_results
    submit_go.set()
    statement.join(timeout=30)
    line.join(timeout=30)

    [refusal] = line_results
    assert isinstance(refusal, ValidationError)
    assert refusal.message_dict["period"] == [
        f"The expense statement of {period} has been submitted: its lines are locked. "
        "Choose another period or ask the coordinators."
    ]
    stored = Statement.objects.get()
    held = Expense.objects.filter(partner=budget_line.partner, period=period).declared()
    assert (stored.lines, stored.total) == (held.count(), Decimal("1200.00"))
    assert not held.filter(status=ExpenseStatus.DRAFT).exists()


def test_a_statement_submitted_while_a_line_is_written_waits_and_declares_it(
    budget_line: Any, period: Any, partner_member: Any
) -> None:
    statement_results: list[Any] = []
    line_results: list[Any] = []
    written, write_go = threading.Event(), threading.Event()
    submitted, submit_go = threading.Event(), threading.Event()
    line = _in_session(
        lambda: _new_line(budget_line, period, partner_member), line_results, written, write_go
    )
    statement = _in_session(
        lambda: statement_submit(partner=budget_line.partner, period=period, user=partner_member),
        statement_results,
        submitted,
        submit_go,
    )
    submit_go.set()

    line.start()
    assert written.wait(timeout=30)
    statement.start()
    time.sleep(1.0)
    assert statement.is_alive() and not statement_results
    write_go.set()
    line.join(timeout=30)
    statement.join(timeout=30)

    [stored] = statement_results
    assert (stored.lines, stored.total) == (1, Decimal("480.00"))
    [declared] = Expense.objects.filter(partner=budget_line.partner, period=period)
    assert declared.status == ExpenseStatus.SUBMITTED
