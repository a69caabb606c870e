"""Project-month arithmetic: month 1 is the month that starts on the consortium's start date."""

import calendar
import datetime


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` later, clamped to the end of shorter months (31 Jan + 1 = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return datetime.date(year, month + 1, min(day.day, last))


def month_end(start: datetime.date, month: int) -> datetime.date:
    """The last day of project month `month` (Horizon Europe's due-date convention)."""
    return add_months(start, month) - datetime.timedelta(days=1)


def months_between(start: datetime.date, end: datetime.date) -> int:
    """How many project months run from `start` through `end` inclusive (a partial month counts)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if add_months(start, months) <= end:
        months += 1
    return max(months, 0)
