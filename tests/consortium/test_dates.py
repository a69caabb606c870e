"""Project months: month 1 starts on the consortium's start date; due dates fall on a month's end."""

import datetime

import pytest

from consortium.dates import add_months, month_end, months_between
from consortium.models import Consortium

D = datetime.date


@pytest.mark.parametrize(
    "day, months, expected",
    [
        (D(2024, 1, 1), 0, D(2024, 1, 1)),
        (D(2024, 1, 1), 1, D(2024, 2, 1)),
        (D(2024, 1, 31), 1, D(2024, 2, 29)),  # leap year
        (D(2023, 1, 31), 1, D(2023, 2, 28)),
        (D(2024, 3, 31), 1, D(2024, 4, 30)),
        (D(2024, 11, 15), 2, D(2025, 1, 15)),
        (D(2024, 2, 29), 12, D(2025, 2, 28)),
        (D(2024, 1, 1), 36, D(2027, 1, 1)),
        (D(2024, 3, 31), -1, D(2024, 2, 29)),
        (D(2024, 1, 15), -1, D(2023, 12, 15)),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    "start, month, expected",
    [
        (D(2024, 1, 1), 1, D(2024, 1, 31)),
        (D(2024, 1, 1), 2, D(2024, 2, 29)),
        (D(2024, 1, 1), 12, D(2024, 12, 31)),
        (D(2024, 1, 1), 36, D(2026, 12, 31)),
        (D(2024, 1, 17), 1, D(2024, 2, 16)),  # the PIT in ATMP started mid-month
        (D(2024, 1, 17), 36, D(2027, 1, 16)),
    ],
)
def test_month_end(start, month, expected):
    assert month_end(start, month) == expected


@pytest.mark.parametrize(
    "start, end, expected",
    [
        (D(2024, 1, 1), D(2026, 12, 31), 36),
        (D(2024, 1, 1), D(2024, 1, 31), 1),
        (D(2024, 1, 1), D(2024, 1, 1), 1),  # a partial month counts
        (D(2024, 1, 1), D(2024, 2, 1), 2),
        (D(2024, 1, 17), D(2027, 1, 16), 36),
        (D(2024, 1, 17), D(2027, 1, 17), 37),
        (D(2024, 1, 31), D(2024, 2, 28), 1),
        (D(2024, 3, 1), D(2024, 2, 15), 0),  # end before start
    ],
)
def test_months_between(start, end, expected):
    assert months_between(start, end) == expected


@pytest.mark.parametrize("month", [1, 2, 7, 12, 13, 35, 36])
def test_month_end_is_the_last_day_counted_by_months_between(month):
    start = D(2024, 1, 17)
    assert months_between(start, month_end(start, month)) == month
    assert months_between(start, month_end(start, month) + datetime.timedelta(days=1)) == month + 1


def test_consortium_duration_and_due_dates():
    consortium = Consortium(start_date=D(2024, 1, 1), end_date=D(2026, 12, 31))
    assert consortium.duration_months == 36
    assert consortium.month_due_date(1) == D(2024, 1, 31)
    assert consortium.month_due_date(36) == consortium.end_date


def test_jobs_horizon_counts_years_from_the_start():
    consortium = Consortium(start_date=D(2024, 1, 17), end_date=D(2026, 12, 31))
    assert consortium.jobs_horizon_date == D(2029, 1, 17)
