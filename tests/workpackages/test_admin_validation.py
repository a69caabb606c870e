"""Every data invariant, submitted through the coordinators' admin forms as a browser would: the
form comes back with the exact message, and the database (rows and history) is left as it was.

Each admin first proves that its baseline submission saves, so that a refused case is refused for
the value under test and not for a missing field."""

from __future__ import annotations

import datetime
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from consortium.choices import ConsortiumRoleKind
from consortium.models import (
    Consortium,
    CostCategory,
    Membership,
    Organisation,
    Partner,
    ReportingPeriod,
)
from consortium.services import consortium_role_grant
from tests import factories
from tests.web import client_for as _client
from workpackages.jobs.models import JobRecord
from workpackages.money.models import BudgetLine, Effort, Expense
from workpackages.workplan.models import Deliverable, Milestone, Workpackage

pytestmark = pytest.mark.django_db

FormData = dict[str, str | list[str]]
Fixtures = Callable[[str], Any]
Values = Callable[[Fixtures], dict[str, Any]]
Message = str | Callable[[Fixtures], str]
# The test client's response: an HttpResponse carrying the request's context and templates.
Response = Any

INVALID_CHOICE = "Select a valid choice. That choice is not one of the available choices."
OTHER_CONSORTIUM = "This belongs to another consortium."
MONTH_37 = "Month 37 is outside the consortium's duration (1 to 36)."
AT_LEAST_0 = "Ensure this value is greater than or equal to 0."
AT_LEAST_1 = "Ensure this value is greater than or equal to 1."
AT_MOST_100 = "Ensure this value is less than or equal to 100."

# The consortium fixture runs from 1 January 2024 for 36 months; period 1 is January to June 2024.
START = datetime.date(2024, 1, 1)


class PageHung(Exception):
    """The admin did not answer within the deadline."""


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    # A validation that never returns would otherwise stall the whole suite (and eat memory).
    def expire(signum: int, frame: Any) -> None:
        raise PageHung(f"no response within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _FormParser(HTMLParser):
    """Collects the controls of the admin's `<form id="…_form">` the way a browser submits them."""

    SKIPPED_INPUTS = frozenset({"submit", "button", "file", "image", "reset"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pairs: list[tuple[str, str]] = []
        self.multiple: set[str] = set()
        self._in_form = False
        self._done = False
        self._select: tuple[str, bool] | None = None
        self._options: list[tuple[str, bool]] = []
        self._option: tuple[str | None, bool] | None = None
        self._option_text: list[str] = []
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self._in_form = not self._done and (a.get("id") or "").endswith("_form")
            return
        if not self._in_form or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in self.SKIPPED_INPUTS:
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            value = a.get("value")
            if value is None:
                value = "on" if kind in ("checkbox", "radio") else ""
            self.pairs.append((name, value))
        elif tag == "select" and name:
            self._select = (name, "multiple" in a)
            self._options = []
        elif tag == "option" and self._select is not None:
            self._close_option()
            self._option = (a.get("value"), "selected" in a)
            self._option_text = []
        elif tag == "textarea" and name:
            self._textarea = name
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option_text.append(data)
        elif self._textarea is not None:
            self._text.append(data)

    def _close_option(self) -> None:
        if self._option is not None:
            value, selected = self._option
            # An option without a value attribute submits its text.
            text = "".join(self._option_text).strip()
            self._options.append((text if value is None else value, selected))
            self._option = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form, self._done = False, True
        elif tag == "option":
            self._close_option()
        elif tag == "select" and self._select is not None:
            self._close_option()
            name, multiple = self._select
            chosen = [value for value, selected in self._options if selected]
            if multiple:
                self.multiple.add(name)
                self.pairs.extend((name, value) for value in chosen)
            elif chosen:
                # A browser keeps the last selected option of a single select…
                self.pairs.append((name, chosen[-1]))
            elif self._options:
                # …and with none selected, submits the first one.
                self.pairs.append((name, self._options[0][0]))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            # HTML drops the newline that immediately follows <textarea>.
            if text.startswith("\r\n"):
                text = text[2:]
            elif text.startswith("\n"):
                text = text[1:]
            self.pairs.append((self._textarea, text))
            self._textarea = None


def form_data(client: Client, url: str) -> FormData:
    """What a browser would post back, untouched, from the admin page at `url`."""
    response = client.get(url)
    assert response.status_code == 200, response
    parser = _FormParser()
    parser.feed(response.content.decode())
    parser.close()
    data: FormData = {name: [] for name in parser.multiple}
    for name, value in parser.pairs:
        current = data.get(name)
        if isinstance(current, list):
            current.append(value)
        elif current is not None:
            data[name] = [current, value]
        else:
            data[name] = value
    # The test client does not enforce CSRF.
    data.pop("csrfmiddlewaretoken", None)
    assert data, f"no form found on {url}"
    return data


def _as_posted(value: Any) -> str | list[str]:
    if isinstance(value, list | tuple):
        return [str(_as_posted(item)) for item in value]
    if isinstance(value, Model):
        return str(value.pk)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return "" if value is None else str(value)


def _url(model: type[Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _submit(client: Client, url: str, values: dict[str, Any]) -> Response:
    data = form_data(client, url)
    data.update({name: _as_posted(value) for name, value in values.items()})
    with _deadline(3):
        return client.post(url, data)


def _errors(response: Response) -> Any:
    """The form's and the inlines' errors, to explain a failed assertion."""
    context = getattr(response, "context", None)
    if not context or "adminform" not in context:
        return response.get("Location") or response.status_code
    return (
        context["adminform"].form.errors,
        [formset.formset.errors for formset in context.get("inline_admin_formsets", [])],
    )


def _assert_refused(response: Response, message: str) -> None:
    assert response.status_code == 200, _errors(response)
    assert escape(message) in response.content.decode(), _errors(response)


# Baselines: a valid submission of each add form, from the fixtures.


def _organisation(f: Fixtures) -> dict[str, Any]:
    return {
        "legal_name": "Condroz Cell Works SRL",
        "short_name": "Condroz Cell",
        "kind": "start_up",
        "enterprise_number": "0403.170.701",
        "vat_id": "",
        "city": "Ciney",
        "country": "BE",
        "website": "",
    }


def _partner(f: Fixtures) -> dict[str, Any]:
    # A coordinator may pick an organisation of their consortia or one they created themselves.
    organisation = factories.OrganisationFactory(created_by=f("coordinator"))
    return {
        "consortium": f("consortium"),
        "organisation": organisation,
        "number": 3,
        "role": "beneficiary",
        "default_funding_rate": "50.00",
        "jobs_commitment_direct": 2,
        "jobs_commitment_indirect": 0,
        "joined_on": START,
        "left_on": "",
        "status": "active",
    }


def _workpackage(f: Fixtures) -> dict[str, Any]:
    return {
        "consortium": f("consortium"),
        "number": 2,
        "title": "Potency assays",
        "objectives": "",
        "lead_partner": f("partner_a"),
        "start_month": 1,
        "end_month": 36,
    }


def _deliverable(f: Fixtures) -> dict[str, Any]:
    return {
        "workpackage": f("workpackage"),
        "number": 2,
        "title": "Potency assay validation report",
        "description": "",
        "lead_partner": f("partner_b"),
        "type": "R",
        "dissemination": "PU",
        "due_month": 36,
        "late_justification": "",
    }


def _milestone(f: Fixtures) -> dict[str, Any]:
    return {
        "number": 2,
        "title": "First GMP batch",
        "workpackages": [f("workpackage")],
        "lead_partner": f("partner_a"),
        "due_month": 24,
        "means_of_verification": "Batch record signed by the qualified person.",
    }


def _budget_line(f: Fixtures) -> dict[str, Any]:
    return {
        "partner": f("partner_a"),
        "workpackage": f("workpackage"),
        "category": f("operating"),
        "planned_amount": "1000.00",
        "funding_rate": "",
        "granted_amount": "",
    }


def _expense(f: Fixtures) -> dict[str, Any]:
    line = f("budget_line")
    return {
        "partner": line.partner,
        "workpackage": line.workpackage,
        "category": f("personnel"),
        "period": f("period"),
        "incurred_on": datetime.date(2024, 2, 1),
        "amount": "100.00",
        "description": "Technician, February",
        "invoice_reference": "PAY-2024-02",
    }


def _effort(f: Fixtures) -> dict[str, Any]:
    return {
        "partner": f("partner_a"),
        "workpackage": f("workpackage"),
        "period": f("period"),
        "planned_person_months": "2.00",
        "actual_person_months": "",
    }


def _job(f: Fixtures) -> dict[str, Any]:
    return {
        "partner": f("partner_a"),
        "workpackage": "",
        "position_title": "Bioprocess engineer",
        "category": "researcher",
        "contract_type": "permanent",
        "fte": "1",
        "start_date": datetime.date(2024, 4, 1),
        "end_date": "",
        "impact": "direct",
        "status": "forecast",
        "evidence_note": "",
    }


def _membership(f: Fixtures) -> dict[str, Any]:
    # The observer is already one of the coordinator's people; brand-new people are added
    # through the people page, which attaches them to a partner at once.
    return {
        "user": f("observer"),
        "partner": f("partner_b"),
        "role": "contact",
        "is_active": "on",
    }


def _cost_category(f: Fixtures) -> dict[str, Any]:
    return {
        "consortium": f("consortium"),
        "code": "travel",
        "name": "Travel",
        "kind": "actual",
        "flat_rate": "",
        "flat_rate_base": "",
        "position": 60,
    }


BASELINES: dict[type[Model], Callable[[Fixtures], dict[str, Any]]] = {
    Organisation: _organisation,
    Partner: _partner,
    Workpackage: _workpackage,
    Deliverable: _deliverable,
    Milestone: _milestone,
    BudgetLine: _budget_line,
    Expense: _expense,
    Effort: _effort,
    JobRecord: _job,
    Membership: _membership,
    CostCategory: _cost_category,
}


def _count(model: type[Model]) -> tuple[int, int]:
    return model._default_manager.count(), model.history.count()


def _add(
    request: pytest.FixtureRequest, user: Any, model: type[Model], values: Values
) -> tuple[Response, tuple[int, int], tuple[int, int]]:
    f = request.getfixturevalue
    # The rows a case relies on (the duplicate, the other consortium's row) exist before counting.
    changes = values(f)
    data = {**BASELINES[model](f), **changes}
    before = _count(model)
    response = _submit(_client(user), _url(model, "add"), data)
    return response, before, _count(model)


@pytest.mark.parametrize("model", BASELINES, ids=lambda m: m._meta.model_name)
def test_the_baseline_of_each_add_form_saves(
    request: pytest.FixtureRequest, coordinator: Any, model: type[Model]
) -> None:
    response, (rows, history), after = _add(request, coordinator, model, lambda f: {})
    assert response.status_code == 302, _errors(response)
    # A milestone's related workpackages are saved after it, as a second history row.
    assert after == (rows + 1, history + (2 if model is Milestone else 1))


def case(model: type[Model], values: Values, message: Message, name: str) -> Any:
    return pytest.param(model, values, message, id=name)


ADD_CASES = [
    case(
        Organisation,
        lambda f: {"enterprise_number": "0403.170.702"},
        "This enterprise number fails its check digits: please check it for typing errors.",
        "organisation-check-digits",
    ),
    case(
        Organisation,
        lambda f: {"enterprise_number": "12345"},
        "A Belgian enterprise number has 10 digits and starts with 0 or 1 (e.g. 0403.170.701).",
        "organisation-enterprise-number-length",
    ),
    case(
        Organisation,
        lambda f: {"enterprise_number": "", "vat_id": ""},
        "Give a Belgian enterprise number or, for a foreign organisation, its VAT id.",
        "organisation-no-identifier",
    ),
    case(
        Organisation,
        lambda f: {"enterprise_number": "", "country": "FR", "vat_id": "40303265045"},
        "A VAT id starts with the two-letter country code, e.g. FR40303265045.",
        "organisation-vat-id-format",
    ),
    case(
        Partner,
        lambda f: {"number": f("partner_a").number},
        "Another partner already has this number.",
        "partner-duplicate-number",
    ),
    case(
        Partner,
        lambda f: {"organisation": f("partner_a").organisation},
        "This organisation is already a partner of the consortium.",
        "partner-same-organisation",
    ),
    case(
        Partner,
        lambda f: {"default_funding_rate": "120"},
        AT_MOST_100,
        "partner-funding-rate-120",
    ),
    case(
        Partner,
        lambda f: {"left_on": START - datetime.timedelta(days=1), "status": "withdrawn"},
        "A partner cannot leave before it joined.",
        "partner-left-before-joined",
    ),
    case(
        Partner,
        lambda f: {"left_on": datetime.date(2025, 6, 30), "status": "active"},
        "An active partner has no leaving date; withdraw it instead.",
        "partner-active-with-left-on",
    ),
    case(
        Workpackage,
        lambda f: {"number": f("workpackage").number},
        "This consortium already has a workpackage with this number.",
        "workpackage-duplicate-number",
    ),
    case(
        Workpackage,
        lambda f: {"start_month": 0},
        "Month 0 is outside the consortium's duration (1 to 36).",
        "workpackage-start-month-0",
    ),
    case(Workpackage, lambda f: {"end_month": 37}, MONTH_37, "workpackage-end-month-37"),
    case(
        Workpackage,
        lambda f: {"start_month": 12, "end_month": 6},
        "A workpackage ends in or after its start month.",
        "workpackage-ends-before-start",
    ),
    case(
        Workpackage,
        lambda f: {"lead_partner": f("other_partner")},
        INVALID_CHOICE,
        "workpackage-lead-partner-other-consortium",
    ),
    case(Deliverable, lambda f: {"due_month": 37}, MONTH_37, "deliverable-due-month-37"),
    case(Deliverable, lambda f: {"due_month": 0}, AT_LEAST_1, "deliverable-due-month-0"),
    case(
        Deliverable,
        lambda f: {"number": f("deliverable").number},
        "This workpackage already has a deliverable with this number.",
        "deliverable-duplicate-number",
    ),
    case(
        Deliverable,
        lambda f: {"lead_partner": f("other_partner")},
        INVALID_CHOICE,
        "deliverable-lead-partner-other-consortium",
    ),
    case(
        Milestone,
        lambda f: {"number": f("milestone").number},
        "This consortium already has a milestone with this number.",
        "milestone-duplicate-number",
    ),
    case(Milestone, lambda f: {"due_month": 37}, MONTH_37, "milestone-due-month-37"),
    case(
        Milestone,
        lambda f: {"workpackages": [f("workpackage"), f("other_workpackage")]},
        lambda f: (
            f"Select a valid choice. {f('other_workpackage').pk} is not one of the available "
            "choices."
        ),
        "milestone-workpackage-other-consortium",
    ),
    case(BudgetLine, lambda f: {"planned_amount": "-1"}, AT_LEAST_0, "budget-line-planned-neg"),
    case(
        BudgetLine,
        lambda f: {"planned_amount": "1000.00", "granted_amount": "1000.01"},
        "The granted amount cannot exceed the planned amount.",
        "budget-line-granted-above-planned",
    ),
    case(BudgetLine, lambda f: {"funding_rate": "101"}, AT_MOST_100, "budget-line-rate-101"),
    case(
        BudgetLine,
        lambda f: {"category": f("budget_line").category},
        "This partner already has a budget line for this workpackage and heading.",
        "budget-line-duplicate",
    ),
    case(
        Expense,
        lambda f: {"amount": "0"},
        "An expense amount must be greater than zero.",
        "expense-amount-0",
    ),
    case(
        Expense,
        lambda f: {"amount": "-5"},
        "An expense amount must be greater than zero.",
        "expense-amount-negative",
    ),
    case(
        Expense,
        lambda f: {"incurred_on": datetime.date(2024, 7, 1)},
        "The date falls outside the reporting period P1 (01/2024 – 06/2024).",
        "expense-date-outside-period",
    ),
    case(
        Expense,
        lambda f: {"category": f("overheads")},
        "Flat-rate headings are computed, not declared: choose another heading.",
        "expense-flat-rate-heading",
    ),
    case(
        Expense,
        lambda f: {"category": f("operating")},
        "The partner has no budget line for this workpackage and heading.",
        "expense-no-budget-line",
    ),
    case(
        Expense,
        lambda f: {"workpackage": f("other_workpackage")},
        INVALID_CHOICE,
        "expense-workpackage-other-consortium",
    ),
    case(
        Effort,
        lambda f: {"planned_person_months": "-0.5"},
        AT_LEAST_0,
        "effort-negative-person-months",
    ),
    case(
        Effort,
        lambda f: {
            "period": factories.EffortFactory(
                partner=f("partner_a"), workpackage=f("workpackage")
            ).period
        },
        "Effort for this partner, workpackage and period is already recorded.",
        "effort-duplicate",
    ),
    case(
        JobRecord,
        lambda f: {"fte": "0"},
        "Ensure this value is greater than or equal to 0.01.",
        "job-fte-0",
    ),
    case(
        JobRecord,
        lambda f: {"fte": "1.01"},
        "Ensure this value is less than or equal to 1.",
        "job-fte-above-1",
    ),
    case(
        JobRecord,
        lambda f: {"end_date": datetime.date(2024, 3, 31)},
        "A job cannot end before it starts.",
        "job-ends-before-start",
    ),
    case(
        Membership,
        lambda f: {"user": f("partner_member")},
        lambda f: (
            f"{f('partner_member').get_full_name()} already works for another partner of this "
            "consortium, and a person works for one partner per consortium: ask the "
            "consortium's coordinators."
        ),
        "membership-second-partner",
    ),
    case(
        CostCategory,
        lambda f: {"code": "personnel"},
        "This consortium already has a cost category with this code.",
        "cost-category-duplicate-code",
    ),
    case(
        CostCategory,
        lambda f: {"kind": "flat_rate"},
        "A flat-rate heading needs its rate and base heading; other headings have neither.",
        "cost-category-flat-rate-incomplete",
    ),
]


@pytest.mark.parametrize(("model", "values", "message"), ADD_CASES)
def test_an_invalid_add_is_redisplayed_and_saves_nothing(
    request: pytest.FixtureRequest,
    coordinator: Any,
    model: type[Model],
    values: Values,
    message: Message,
) -> None:
    response, before, after = _add(request, coordinator, model, values)
    expected = message(request.getfixturevalue) if callable(message) else message
    _assert_refused(response, expected)
    assert after == before


@pytest.fixture
def two_consortia_coordinator(coordinator: Any, other_consortium: Consortium) -> Any:
    """A coordinator of both consortia: the scoped choices offer both, the models must refuse."""
    consortium_role_grant(
        consortium=other_consortium,
        user=coordinator,
        kind=ConsortiumRoleKind.COORDINATOR,
        granted_by=None,
    )
    return coordinator


MIXED_CASES = [
    case(
        Workpackage,
        lambda f: {"lead_partner": f("other_partner")},
        OTHER_CONSORTIUM,
        "workpackage-lead-partner",
    ),
    case(
        Deliverable,
        lambda f: {"lead_partner": f("other_partner")},
        OTHER_CONSORTIUM,
        "deliverable-lead-partner",
    ),
    case(
        Milestone,
        lambda f: {"workpackages": [f("workpackage"), f("other_workpackage")]},
        "The related workpackages must be in the lead partner's consortium.",
        "milestone-workpackages",
    ),
    case(
        BudgetLine,
        lambda f: {"workpackage": f("other_workpackage")},
        OTHER_CONSORTIUM,
        "budget-line-workpackage",
    ),
    case(
        Expense,
        lambda f: {"workpackage": f("other_workpackage")},
        OTHER_CONSORTIUM,
        "expense-workpackage",
    ),
    case(
        Effort,
        lambda f: {"period": f("other_consortium").periods.get(number=1)},
        OTHER_CONSORTIUM,
        "effort-period",
    ),
    case(
        JobRecord,
        lambda f: {"workpackage": f("other_workpackage")},
        OTHER_CONSORTIUM,
        "job-workpackage",
    ),
    case(
        CostCategory,
        lambda f: {
            "kind": "flat_rate",
            "flat_rate": "15",
            "flat_rate_base": f("other_consortium").cost_categories.get(code="personnel"),
        },
        "The base must be an actual-cost heading of the same consortium.",
        "cost-category-flat-rate-base",
    ),
]


@pytest.mark.parametrize(("model", "values", "message"), MIXED_CASES)
def test_a_row_mixing_two_consortia_is_refused_even_to_their_common_coordinator(
    request: pytest.FixtureRequest,
    two_consortia_coordinator: Any,
    model: type[Model],
    values: Values,
    message: Message,
) -> None:
    response, before, after = _add(request, two_consortia_coordinator, model, values)
    assert isinstance(message, str)
    _assert_refused(response, message)
    assert after == before


# Change forms: the row is re-read from the database, and the consortium's periods with it.


def _snapshot(instance: Model) -> tuple[Any, ...]:
    model = type(instance)
    consortium_id = instance.pk if model is Consortium else instance.consortium_id
    return (
        model._default_manager.filter(pk=instance.pk).values().get(),
        model.history.count(),
        list(ReportingPeriod.objects.filter(consortium_id=consortium_id).values()),
    )


def _change(
    request: pytest.FixtureRequest, fixture: str, values: Values
) -> tuple[Response, tuple[Any, ...], tuple[Any, ...]]:
    f = request.getfixturevalue
    instance = f(fixture)
    changes = values(f)
    client = _client(f("coordinator"))
    before = _snapshot(instance)
    response = _submit(client, _url(type(instance), "change", instance.pk), changes)
    return response, before, _snapshot(instance)


@pytest.mark.parametrize(
    ("fixture", "values"),
    [
        pytest.param("consortium", lambda f: {"name": "The renamed partnership"}, id="consortium"),
        pytest.param("expense", lambda f: {"amount": "1350.50"}, id="expense"),
    ],
)
def test_the_baseline_of_each_change_form_saves(
    request: pytest.FixtureRequest, fixture: str, values: Values
) -> None:
    response, (row, history, periods), (new_row, new_history, new_periods) = _change(
        request, fixture, values
    )
    assert response.status_code == 302, _errors(response)
    assert new_history == history + 1
    assert new_row != row and new_periods == periods


def _used_period_2(f: Fixtures) -> dict[str, Any]:
    factories.ExpenseFactory(line=f("budget_line"), period_number=2)
    return {"reporting_period_months": 12}


CHANGE_CASES = [
    pytest.param(
        "consortium",
        lambda f: {"start_date": START, "end_date": START - datetime.timedelta(days=1)},
        "The end date must be after the start date.",
        id="consortium-ends-before-start",
    ),
    pytest.param(
        "consortium",
        lambda f: {"public_funding_share": "101"},
        AT_MOST_100,
        id="consortium-public-share-101",
    ),
    pytest.param(
        "consortium",
        lambda f: {"public_funding_share": "-1"},
        AT_LEAST_0,
        id="consortium-public-share-negative",
    ),
    pytest.param(
        "consortium", lambda f: {"total_budget": "-1"}, AT_LEAST_0, id="consortium-budget-negative"
    ),
    pytest.param(
        "consortium",
        lambda f: {"reporting_period_months": 0},
        AT_LEAST_1,
        id="consortium-period-length-0",
    ),
    pytest.param(
        "consortium",
        lambda f: {"reporting_period_months": 13},
        "Ensure this value is less than or equal to 12.",
        id="consortium-period-length-13",
    ),
    pytest.param(
        "consortium",
        _used_period_2,
        "Period P2 (07/2024 – 12/2024) holds expenses or effort and cannot move: change the "
        "dates or the period length back, or move its records first.",
        id="consortium-period-length-moves-a-used-period",
    ),
    pytest.param(
        "expense",
        lambda f: {"amount": "-1"},
        "An expense amount must be greater than zero.",
        id="expense-amount-negative",
    ),
]


@pytest.mark.parametrize(("fixture", "values", "message"), CHANGE_CASES)
def test_an_invalid_change_is_redisplayed_and_changes_nothing(
    request: pytest.FixtureRequest, fixture: str, values: Values, message: str
) -> None:
    response, before, after = _change(request, fixture, values)
    _assert_refused(response, message)
    assert after == before


def test_a_coordinator_of_another_consortium_neither_sees_nor_picks_its_rows(
    other_coordinator: Any,
    other_consortium: Consortium,
    other_partner: Partner,
    workpackage: Workpackage,
    partner_a: Partner,
) -> None:
    client = _client(other_coordinator)
    assert client.get(_url(Workpackage, "change", workpackage.pk)).status_code == 404
    assert client.get(_url(Partner, "change", partner_a.pk)).status_code == 404

    before = _count(Workpackage)
    values = {
        "consortium": other_consortium,
        "number": 2,
        "title": "Borrowed lead",
        "lead_partner": partner_a,
        "start_month": 1,
        "end_month": 12,
    }
    response = _submit(client, _url(Workpackage, "add"), values)
    _assert_refused(response, INVALID_CHOICE)
    # Refused for the partner alone: the rest of the submission was valid.
    assert set(response.context["adminform"].form.errors) == {"lead_partner"}
    assert _count(Workpackage) == before

    values["lead_partner"] = other_partner
    assert _submit(client, _url(Workpackage, "add"), values).status_code == 302
    assert Workpackage.objects.get(consortium=other_consortium, number=2).lead_partner == (
        other_partner
    )


def test_the_form_parser_posts_back_what_the_page_shows(
    coordinator: Any, consortium: Consortium
) -> None:
    data = form_data(_client(coordinator), _url(Consortium, "change", consortium.pk))
    assert data["acronym"] == "PIT-TEST"
    assert data["total_budget"] == str(Decimal("81000000.00"))
    # The inlines' management forms travel with the form, as in a browser.
    assert data["cost_categories-TOTAL_FORMS"] == "5"
    assert data["roles-INITIAL_FORMS"] == "1"
    assert "csrfmiddlewaretoken" not in data
