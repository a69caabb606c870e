"""Every business rule, tried through every door that reaches it: the admin's change and add forms,
its inlines and its actions, the API, the partner pages and the management commands.

A rule lives in one place (a service, a write rule, a model); each door only calls it. So each
door must refuse the same forbidden write with the same message, and leave the rows, their history
and every table's row count as they were.

`DOORS` lists every write path the application has, and the rules tried through each. The write
paths are read from the application itself (the API's schema, the admin's registry with its add
and change forms, inlines and actions, the partner pages' URL patterns, the project's commands): a
new one fails `test_every_write_path_is_in_the_table` until it is listed here with its rules, or
with why no business rule reaches it.
"""

from __future__ import annotations

import datetime
import html
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.files.base import ContentFile
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError
from django.db import connection
from django.forms.models import model_to_dict
from django.test import RequestFactory, override_settings
from django.urls import URLPattern, get_resolver, reverse

from consortium import invitations
from consortium import urls as consortium_urls
from consortium.api.errors import STATE_CONFLICTS
from consortium.choices import ConsortiumRoleKind, MembershipRole
from consortium.invitations import membership_invite
from consortium.models import Consortium, ConsortiumRole, Membership
from consortium.records import with_changes
from consortium.services import consortium_role_grant, membership_grant
from reporting import urls as reporting_urls
from reporting.choices import DeliveryStatus, ReportKind
from reporting.models import ReportDelivery
from reporting.services import report_schedule
from tests import factories
from tests.api.conftest import PDF, api_client
from tests.api.openapi import published_schema
from tests.api.world import base_fixtures
from tests.web import MULTIPART, client_for, multipart
from tests.workpackages.test_admin_validation import form_data
from workpackages import urls as workpackages_urls
from workpackages.jobs.choices import JobStatus
from workpackages.jobs.services import job_withdraw
from workpackages.money.models import Effort, Expense, Statement
from workpackages.money.services import budget_line_cancel, expense_accept, statement_submit
from workpackages.workplan.services import (
    consortium_schedule_conflicts,
    deliverable_submit,
    milestone_achieve,
)

pytestmark = pytest.mark.django_db

# Consortia, partners, the workpackage, people and budget lines of tests/conftest.py, built once for
# the module; each test builds the rest it needs on top of them.
globals().update(base_fixtures())

# --------------------------------------------------------------------------------------------
# The world a case acts on: the fixtures of tests/conftest.py, built on first use.
# --------------------------------------------------------------------------------------------


class World:
    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request

    def __getattr__(self, name: str) -> Any:
        return self._request.getfixturevalue(name)


@pytest.fixture
def world(request: pytest.FixtureRequest) -> World:
    return World(request)


# --------------------------------------------------------------------------------------------
# Doors: how each front end is driven, and the text it shows back.
# --------------------------------------------------------------------------------------------


def shown(response: Any) -> str:
    """What a person (or an integration) reads in an answer: a page's text or a JSON body."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Type", "").startswith("application/json"):
        return json.dumps(json.loads(content), ensure_ascii=False)
    return html.unescape(content.decode())


def admin_url(obj_or_model: Any, view: str, *args: Any) -> str:
    meta = obj_or_model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


def admin_change(actor: Any, obj: Any, **changes: Any) -> Any:
    """The admin's change form of `obj`, posted back with `changes` typed (or forged) in."""
    client = client_for(actor)
    url = admin_url(obj, "change", obj.pk)
    return client.post(url, {**form_data(client, url), **posted(changes)}, follow=True)


def admin_add(actor: Any, model: Any, **values: Any) -> Any:
    client = client_for(actor)
    url = admin_url(model, "add")
    return client.post(url, {**form_data(client, url), **posted(values)}, follow=True)


def admin_inline(actor: Any, parent: Any, prefix: str, row: int | None, **values: Any) -> Any:
    """The parent's change page posted back with inline row `row` changed, or a new row added
    (`row=None`) with `values`."""
    client = client_for(actor)
    url = admin_url(parent, "change", parent.pk)
    data = form_data(client, url)
    if row is None:
        row = int(str(data[f"{prefix}-TOTAL_FORMS"]))
        data[f"{prefix}-TOTAL_FORMS"] = str(row + 1)
    data.update({f"{prefix}-{row}-{name}": value for name, value in posted(values).items()})
    return client.post(url, data, follow=True)


def admin_action(user: Any, model: Any, action: str, rows: list[Any], **extra: Any) -> Any:
    return client_for(user).post(
        admin_url(model, "changelist"),
        {"action": action, "_selected_action": [row.pk for row in rows], **posted(extra)},
        follow=True,
    )


def admin_decision(user: Any, obj: Any, decision: str, **fields: Any) -> Any:
    """A decision's button on `obj`'s change page (DecisionsMixin), pressed with `fields`."""
    return client_for(user).post(
        admin_url(obj, "decide", obj.pk, decision), posted(fields), follow=True
    )


def api(user: Any, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
    client = api_client(user)
    return getattr(client, method.lower())(path, body, format=kwargs.pop("format", "json"))


def page(user: Any, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    client = client_for(user)
    if data is None:
        return client.get(path, follow=True)
    return client.post(path, posted(data), follow=True, **kwargs)


def command(*args: str) -> str:
    """A management command's output, or its refusal."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except CommandError as error:
        return f"{out.getvalue()}{err.getvalue()}{error}"
    return f"{out.getvalue()}{err.getvalue()}"


def posted(values: dict[str, Any]) -> dict[str, Any]:
    def one(value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [one(item) for item in value]
        if hasattr(value, "pk") and hasattr(value, "_meta"):
            return str(value.pk)
        if isinstance(value, datetime.date):
            return value.isoformat()
        if value is None:
            return ""
        if isinstance(value, bool):
            return "on" if value else ""
        return value if hasattr(value, "read") else str(value)

    return {name: one(value) for name, value in values.items()}


# --------------------------------------------------------------------------------------------
# What must not move when a door refuses.
# --------------------------------------------------------------------------------------------


def _counts() -> dict[str, int]:
    """The number of rows of every table of the application, history tables included, read in
    one query."""
    models = [
        model
        for app in ("consortium", "workpackages", "reporting")
        for model in apps.get_app_config(app).get_models()
    ]
    quote = connection.ops.quote_name
    # The application's own table names, quoted: nothing here comes from outside.
    counts = ", ".join(
        f"(SELECT COUNT(*) FROM {quote(model._meta.db_table)})"  # noqa: S608
        for model in models
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        row = cursor.fetchone()
    return {model._meta.label: count for model, count in zip(models, row, strict=True)}


def _state(rows: list[Any]) -> list[Any]:
    state = []
    for row in rows:
        fresh = type(row)._default_manager.get(pk=row.pk)
        history = fresh.history.count() if hasattr(fresh, "history") else None
        state.append((model_to_dict(fresh), history))
    return state


# --------------------------------------------------------------------------------------------
# The rules and their messages.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A business rule: the rows it guards, the state a case starts from, and its message."""

    setup: Callable[[World], dict[str, Any]]
    message: Callable[[World, dict[str, Any]], str]


def _submitted_expense(w: World) -> dict[str, Any]:
    return {"expense": w.submitted_expense, "rows": [w.submitted_expense]}


def _draft_expense(w: World) -> dict[str, Any]:
    return {"expense": w.expense, "rows": [w.expense]}


def _effort(w: World) -> dict[str, Any]:
    effort = factories.EffortFactory(
        partner=w.partner_a, workpackage=w.workpackage, actual_person_months=Decimal("4.00")
    )
    return {"effort": effort, "rows": [effort]}


def _effort_after_statement(w: World) -> dict[str, Any]:
    effort = _effort(w)["effort"]
    statement_submit(partner=w.partner_a, period=w.period, user=w.partner_member)
    return {"effort": effort, "rows": [effort]}


def _withdrawn_job(w: World) -> dict[str, Any]:
    job_withdraw(job=w.job, user=w.partner_member)
    return {"job": w.job, "rows": [w.job]}


def _cancelled_line(w: World) -> dict[str, Any]:
    line = factories.BudgetLineFactory(
        partner=w.partner_a, workpackage=w.workpackage, heading="operating"
    )
    budget_line_cancel(line=line, user=w.coordinator)
    return {"line": line, "rows": [line]}


def _line_with_expenses(w: World) -> dict[str, Any]:
    return {"line": w.budget_line, "rows": [w.budget_line, w.expense]}


def _last_contact(w: World) -> dict[str, Any]:
    # A coordinator who also works for partner A manages its team on the partner pages.
    membership_grant(
        partner=w.partner_a, user=w.coordinator, role=MembershipRole.FINANCE, granted_by=None
    )
    contact = factories.UserFactory(username="contact-a")
    membership = membership_grant(
        partner=w.partner_a, user=contact, role=MembershipRole.CONTACT, granted_by=None
    )
    return {"membership": membership, "contact": contact, "rows": [membership]}


def _last_coordinator(w: World) -> dict[str, Any]:
    role = ConsortiumRole.objects.get(user=w.coordinator)
    return {"role": role, "rows": [role]}


def _other_partners_person(w: World) -> dict[str, Any]:
    """partner B's member, whom partner A's team would take in: a person works for one partner
    per consortium. They once worked for A (access off), and A's contact has invited them back."""
    person = w.other_partner_member
    former = Membership.objects.create(
        partner=w.partner_a, user=person, role=MembershipRole.FINANCE, is_active=False
    )
    contact = factories.UserFactory(username="contact-of-a")
    membership_grant(
        partner=w.partner_a, user=contact, role=MembershipRole.CONTACT, granted_by=None
    )
    invitation = membership_invite(
        partner=w.partner_a, email="returning@example.org", role="finance", invited_by=contact
    )
    # The invitation went to an address the person then gave to their account.
    type(person).objects.filter(pk=person.pk).update(email="returning@example.org")
    person.refresh_from_db()
    key = invitation_key(invitation)
    return {
        "person": person,
        "former": former,
        "contact": contact,
        "key": key,
        "rows": [*Membership.objects.filter(user=person), invitation],
    }


def invitation_key(invitation: Any) -> str:
    """A fresh link's secret for `invitation`, as its email would carry it."""
    key = invitations._invitation_renew(invitation)
    invitation.save()
    return key


def _sent_deliverable(w: World) -> dict[str, Any]:
    """D1.1 sent by the coordinator themself, while the consortium has a second coordinator."""
    colleague = factories.UserFactory(username="second-coordinator")
    consortium_role_grant(
        consortium=w.consortium,
        user=colleague,
        kind=ConsortiumRoleKind.COORDINATOR,
        granted_by=None,
    )
    deliverable_submit(
        deliverable=w.deliverable,
        user=w.coordinator,
        file=ContentFile(PDF, name="d1-1.pdf"),
        late_justification="Sent by the coordinator for the lead partner.",
    )
    return {"deliverable": w.deliverable, "rows": [w.deliverable]}


def _submitted_deliverable(w: World) -> dict[str, Any]:
    deliverable_submit(
        deliverable=w.deliverable,
        user=w.partner_member,
        file=ContentFile(PDF, name="d1-1.pdf"),
        late_justification="The reagents came late.",
    )
    w.deliverable.refresh_from_db()
    return {"deliverable": w.deliverable, "rows": [w.deliverable]}


def _open_deliverable(w: World) -> dict[str, Any]:
    return {"deliverable": w.deliverable, "rows": [w.deliverable]}


def _open_deliverable_and_draft(w: World) -> dict[str, Any]:
    """A deliverable to send a version of, and a draft expense to attach an invoice to."""
    return {"deliverable": w.deliverable, "expense": w.expense, "rows": [w.deliverable, w.expense]}


def _nothing(w: World) -> dict[str, Any]:
    return {"rows": []}


def _statement_submitted(w: World) -> dict[str, Any]:
    statement_submit(partner=w.partner_a, period=w.period, user=w.partner_member)
    return {"rows": list(Statement.objects.all())}


def _no_participation(w: World) -> dict[str, Any]:
    """WP2, in which partner A takes no part."""
    workpackage = factories.WorkpackageFactory(
        consortium=w.consortium, number=2, lead_partner=w.partner_b
    )
    factories.WorkpackageParticipantFactory(workpackage=workpackage, partner=w.partner_b)
    return {"workpackage": workpackage, "rows": [workpackage]}


def _milestone(w: World) -> dict[str, Any]:
    return {"milestone": w.milestone, "rows": [w.milestone]}


def _overdue_items(w: World) -> dict[str, Any]:
    """The open deliverable and the pending milestone, both past their due dates."""
    return {
        "deliverable": w.deliverable,
        "milestone": w.milestone,
        "rows": [w.deliverable, w.milestone],
    }


def _decided_milestone(w: World) -> dict[str, Any]:
    milestone_achieve(
        milestone=w.milestone,
        user=w.coordinator,
        achieved_on=datetime.date(2025, 6, 1),
        evidence="Batch record signed.",
    )
    w.milestone.refresh_from_db()
    return {"milestone": w.milestone, "rows": [w.milestone]}


def _future_job(w: World) -> dict[str, Any]:
    job = factories.JobRecordFactory(
        partner=w.partner_a, workpackage=w.workpackage, start_date=datetime.date(2027, 3, 1)
    )
    return {"job": job, "rows": [job]}


def _periods_in_use(w: World) -> dict[str, Any]:
    return {"rows": [*w.consortium.periods.all(), w.consortium, w.expense]}


def _shared_organisation(w: World) -> dict[str, Any]:
    organisation = w.partner_a.organisation
    factories.PartnerFactory(consortium=w.other_consortium, organisation=organisation)
    return {"organisation": organisation, "rows": [organisation]}


def _used_heading(w: World) -> dict[str, Any]:
    heading = w.budget_line.category
    return {"heading": heading, "rows": [heading]}


def _sent_report(w: World) -> dict[str, Any]:
    report = report_schedule(
        release=True,
        kind=ReportKind.PROGRESS,
        consortium=w.consortium,
        period_start=datetime.date(2026, 11, 16),
        period_end=datetime.date(2026, 11, 22),
        user=w.coordinator,
    )
    ReportDelivery.objects.filter(report=report).update(status=DeliveryStatus.SENT)
    return {"report": report, "rows": [report]}


def _bare_operating_expense(w: World) -> dict[str, Any]:
    """A draft operating cost of partner A without its file, the heading requiring one."""
    heading = w.operating
    heading.evidence_required = True
    heading.save(update_fields=["evidence_required"])
    line = factories.BudgetLineFactory(
        partner=w.partner_a, workpackage=w.workpackage, heading="operating"
    )
    expense = factories.ExpenseFactory(line=line, description="Cryovials")
    return {"expense": expense, "rows": [expense, heading]}


def _webhook(w: World) -> dict[str, Any]:
    subscription = factories.WebhookSubscriptionFactory(consortium=w.consortium)
    return {"subscription": subscription, "rows": [subscription]}


def _waiting_delivery(w: World) -> dict[str, Any]:
    delivery = factories.WebhookDeliveryFactory(event__subscription__consortium=w.consortium)
    return {"delivery": delivery, "rows": [delivery, delivery.subscription]}


RULES: dict[str, Rule] = {
    # A submitted or decided row is the record it was judged on.
    "a decided expense is kept": Rule(
        _submitted_expense,
        lambda w, s: f"Cannot change {s['expense']}: it is submitted.",
    ),
    "a withdrawn job is kept": Rule(
        _withdrawn_job, lambda w, s: f"Cannot change {s['job']}: it is withdrawn."
    ),
    "a cancelled budget line is kept": Rule(
        _cancelled_line, lambda w, s: f"Cannot change {s['line']}: it is cancelled."
    ),
    # Fixed fields.
    "a record stays with its partner": Rule(
        _draft_expense,
        lambda w, s: "A record stays with its partner: withdraw it and add a new one.",
    ),
    "effort stays with its partner": Rule(
        _effort, lambda w, s: "A record stays with its partner: withdraw it and add a new one."
    ),
    "a submitted deliverable keeps its due month": Rule(
        _submitted_deliverable,
        lambda w, s: "The deliverable has been submitted: this no longer changes.",
    ),
    # Who decides what.
    "partners withdraw drafts only": Rule(
        _submitted_expense,
        lambda w, s: (
            f"{s['expense']} has been submitted: the coordinators decide on it now. Ask them to "
            "withdraw it if it was sent by mistake."
        ),
    ),
    "who sent a version doesn't approve it": Rule(
        _sent_deliverable,
        lambda w, s: (
            f"You sent this version of {s['deliverable']} yourself: another coordinator of the "
            "consortium approves it."
        ),
    ),
    "only a submitted deliverable is reviewed": Rule(
        _open_deliverable,
        lambda w, s: f"Cannot approve {s['deliverable']}: it is planned.",
    ),
    # Dates and places.
    "a job starts within the programme": Rule(
        lambda w: {"job": w.job, "rows": [w.job]},
        lambda w, s: (
            "A job created by the partnership starts between its start, 01/01/2024, and the end "
            "of its jobs horizon, 31/12/2028."
        ),
    ),
    "an expense is dated today at the latest": Rule(
        _nothing,
        lambda w, s: "An expense is declared once it is incurred: the date is after today.",
    ),
    "money and effort go to the partner's workpackages": Rule(
        _no_participation,
        lambda w, s: (
            "P1 BioWin takes no part in WP2: the coordinators add it to the workpackage's "
            "participants first."
        ),
    ),
    "a submitted statement locks its period's lines": Rule(
        _statement_submitted,
        lambda w, s: (
            f"The expense statement of {w.period} has been submitted: its lines are locked. "
            "Choose another period or ask the coordinators."
        ),
    ),
    "a submitted statement locks its period's effort": Rule(
        _effort_after_statement,
        lambda w, s: (
            f"The statement of {w.period} has been submitted: its actual person-months no "
            "longer change. Ask the coordinators."
        ),
    ),
    "a line with expenses stays": Rule(
        _line_with_expenses,
        lambda w, s: f"Cannot cancel {s['line']}: expenses are recorded against it.",
    ),
    "a milestone is achieved by today": Rule(
        _milestone, lambda w, s: "A milestone cannot be achieved in the future."
    ),
    "a milestone's evidence is described": Rule(
        _milestone, lambda w, s: "Describe the evidence that the milestone is reached."
    ),
    "a missed milestone says why": Rule(
        _milestone, lambda w, s: "Say why the milestone was missed: the funder reads it."
    ),
    "only a pending milestone is missed": Rule(
        _decided_milestone,
        lambda w, s: f"Cannot mark {s['milestone']} as missed: it is achieved.",
    ),
    "a decided milestone is kept": Rule(
        _decided_milestone, lambda w, s: f"Cannot change {s['milestone']}: it is achieved."
    ),
    "a deliverable worked on is kept": Rule(
        _submitted_deliverable,
        lambda w, s: f"{s['deliverable']} has been worked on: it is kept for the record.",
    ),
    "a decided milestone is not deleted": Rule(
        _decided_milestone,
        lambda w, s: f"{s['milestone']} has been decided on: it is kept for the record.",
    ),
    "a late deliverable is justified": Rule(
        _open_deliverable,
        lambda w, s: "This deliverable was due on 2024-12-31: explain the delay before submitting.",
    ),
    "a delay note expects a later date": Rule(
        _overdue_items, lambda w, s: "The new expected date is after today."
    ),
    "a delay note says why": Rule(
        _overdue_items, lambda w, s: "Say why it is late: the coordinators and the funder read it."
    ),
    "a file keeps the name it was sent with": Rule(
        _open_deliverable_and_draft,
        lambda w, s: (
            "The file name contains a folder or a path separator (a slash or a backslash): "
            "rename the file, for example report.pdf, and send it again."
        ),
    ),
    "sending a deliverable back says what must change": Rule(
        _submitted_deliverable,
        lambda w, s: "Say what must change before sending the deliverable back.",
    ),
    "only a planned deliverable is started": Rule(
        _submitted_deliverable,
        lambda w, s: f"Cannot start {s['deliverable']}: it is submitted.",
    ),
    "only a submitted expense is accepted": Rule(
        _draft_expense, lambda w, s: f"Cannot accept {s['expense']}: it is draft."
    ),
    "only a submitted expense is rejected": Rule(
        _draft_expense, lambda w, s: f"Cannot reject {s['expense']}: it is draft."
    ),
    "a rejection gives its reason": Rule(
        _submitted_expense, lambda w, s: "Give the reason for rejecting the expense."
    ),
    "a decided expense is not withdrawn": Rule(
        lambda w: {
            "expense": expense_accept(
                expense=w.submitted_expense, user=w.coordinator, accepted_amount=None
            ),
            "rows": [w.submitted_expense],
        },
        lambda w, s: f"Cannot withdraw {s['expense']}: it is accepted.",
    ),
    "only a draft expense is submitted": Rule(
        _submitted_expense, lambda w, s: f"Cannot submit {s['expense']}: it is submitted."
    ),
    "a job is realised once it has started": Rule(
        _future_job, lambda w, s: "A job that starts in the future is still a forecast."
    ),
    "only a live job is withdrawn": Rule(
        _withdrawn_job, lambda w, s: f"Cannot withdraw {s['job']}: it is withdrawn."
    ),
    "a statement follows its period's end": Rule(
        _nothing,
        lambda w, s: (
            f"The statement for {w.consortium.periods.get(number=6)} can be submitted once the "
            "period has ended, after 2026-12-31."
        ),
    ),
    "a period with records doesn't move": Rule(
        _periods_in_use,
        lambda w, s: (
            f"Period {w.period} holds expenses or effort and cannot move: change the dates or "
            "the period length back, or move its records first."
        ),
    ),
    "work stays within the consortium's months": Rule(
        lambda w: {"rows": [w.consortium, w.deliverable]},
        lambda w, s: consortium_schedule_conflicts(
            consortium=with_changes(w.consortium, {"end_date": SHORTENED})
        )[0],
    ),
    "due months lie within the consortium": Rule(
        _nothing, lambda w, s: "Month 40 is outside the consortium's duration (1 to 36)."
    ),
    "an organisation shared with another consortium is read-only here": Rule(
        _shared_organisation,
        lambda w, s: (
            "This organisation also takes part in a consortium you don't coordinate: its "
            "details change with the agreement of its coordinators, ask a superuser."
        ),
    ),
    "a heading's rule is frozen once used": Rule(
        _used_heading,
        lambda w, s: (
            "Budget lines use this heading: its kind and flat rate can no longer change, or past "
            "consumption would be rewritten. Add a new heading instead."
        ),
    ),
    "a partner keeps its consortium and organisation": Rule(
        lambda w: {"partner": w.partner_a, "rows": [w.partner_a]},
        lambda w, s: (
            "A partner keeps its consortium and its organisation: withdraw it and add another."
        ),
    ),
    "a participation keeps its partner": Rule(
        lambda w: {
            "other": factories.PartnerFactory(consortium=w.consortium),
            "rows": list(w.workpackage.participations.all()),
        },
        lambda w, s: "A participation keeps its workpackage and its partner.",
    ),
    "a sent report keeps its documents": Rule(
        _sent_report,
        lambda w, s: (
            "This report has gone to some of its recipients already: its documents are kept as "
            "they were sent."
        ),
    ),
    # People.
    "a partner keeps an active contact": Rule(
        _last_contact,
        lambda w, s: (
            f"{s['contact'].get_full_name()} is the last active partner contact of P1 BioWin: "
            "make another member partner contact first."
        ),
    ),
    "a consortium keeps a coordinator": Rule(
        _last_coordinator,
        lambda w, s: (
            f"{w.coordinator.get_full_name()} is the last coordinator of PIT-TEST: make someone "
            "else coordinator first."
        ),
    ),
    "an email address changes only through its owner": Rule(
        lambda w: {"person": w.partner_member, "rows": [w.partner_member]},
        lambda w, s: (
            "Only the person themself, confirming from the new address, or a superuser changes "
            "an email address."
        ),
    ),
    "a heading that requires evidence gets it": Rule(
        _bare_operating_expense,
        lambda w, s: (
            f"The expense “{s['expense'].description}” ({s['expense']}) has no evidence file: "
            "expenses of the heading “Operating costs” are sent with their invoice or receipt. "
            "Attach it first."
        ),
    ),
    "a person works for one partner per consortium": Rule(
        _other_partners_person,
        lambda w, s: (
            f"{s['person'].get_full_name()} already works for another partner of this "
            "consortium, and a person works for one partner per consortium: ask the "
            "consortium's coordinators."
        ),
    ),
    # Webhooks.
    "a webhook goes to the public internet": Rule(
        _webhook,
        lambda w, s: (
            "10.0.0.8 leads to a private, local or reserved address: webhooks go to "
            "addresses on the public internet only."
        ),
    ),
    "only a delivered or failed delivery is sent again": Rule(
        _waiting_delivery,
        lambda w, s: (
            "This delivery is waiting for its next attempt already: it is sent again only once "
            "it is delivered or has failed."
        ),
    ),
}


# --------------------------------------------------------------------------------------------
# The cases: each rule through each door that reaches it.
# --------------------------------------------------------------------------------------------

Attempt = Callable[[World, dict[str, Any]], Any]
# The fixtures every case may lean on, made before the counts are taken.
WARM = (
    "coordinator",
    "partner_member",
    "other_partner_member",
    "budget_line",
    "budget_line_b",
    "period",
    "operating",
    "job",
    "deliverable",
    "milestone",
)
FUTURE = datetime.date(2026, 11, 30)  # after the suite's frozen today, within period P6
SHORTENED: datetime.date = datetime.date(
    2024, 11, 30
)  # an end date that leaves the work plan's later months out
CASES: dict[tuple[str, str], Attempt] = {}


def case(rule: str, door: str) -> Callable[[Attempt], Attempt]:
    def register(attempt: Attempt) -> Attempt:
        assert rule in RULES, rule
        CASES[rule, door] = attempt
        return attempt

    return register


def _forged(actor: Any, obj: Any, **changes: Any) -> Any:
    """The change page of a row whose fields the admin shows read-only, then a post with values
    forged into it: the page says why, and the forged post is refused (403) or changes nothing."""
    client = client_for(actor)
    url = admin_url(obj, "change", obj.pk)
    shown_page = client.get(url)
    assert shown_page.status_code == 200
    editable = "adminform" in shown_page.context and shown_page.context["adminform"].form.fields
    data = form_data(client, url) if editable else {}
    forged = client.post(url, {**data, **posted(changes)})
    assert forged.status_code in {302, 403}, forged.status_code
    return shown_page


def _expense_body(w: World, **values: Any) -> dict[str, Any]:
    line = w.budget_line
    return {
        "partner": line.partner_id,
        "workpackage": line.workpackage_id,
        "category": line.category_id,
        "incurred_on": w.period.start_date + datetime.timedelta(days=20),
        "amount": "480.00",
        "description": "Pipette tips",
        **values,
    }


def _json(values: dict[str, Any]) -> dict[str, Any]:
    return {
        name: (value.pk if hasattr(value, "_meta") else value.isoformat())
        if hasattr(value, "_meta") or isinstance(value, datetime.date)
        else value
        for name, value in values.items()
    }


def _expense_page(w: World, **values: Any) -> Any:
    body = _expense_body(w, **values)
    body.pop("partner")
    return page(w.partner_member, reverse("expense-add"), body)


def _expense_import(w: World, **values: Any) -> Any:
    body = _expense_body(w, **values)
    workpackage = body["workpackage"]
    number = workpackage.number if hasattr(workpackage, "number") else w.workpackage.number
    csv = (
        "date;workpackage;category;amount;description\r\n"
        f"{body['incurred_on'].isoformat()};WP{number};personnel;480,00;Pipette tips\r\n"
    )
    upload = ContentFile(csv.encode(), name="expenses.csv")
    return page(w.partner_member, reverse("expense-import"), {"file": upload})


def _expense_admin(w: World, **values: Any) -> Any:
    return admin_add(w.coordinator, Expense, **_expense_body(w, **values))


def _job_body(w: World, **values: Any) -> dict[str, Any]:
    return {
        "partner": w.partner_a,
        "position_title": "QC analyst",
        "category": "quality",
        "contract_type": "permanent",
        "impact": "direct",
        "fte": "1.00",
        "start_date": datetime.date(1900, 1, 1),
        **values,
    }


# A decided expense is kept.
@case("a decided expense is kept", "admin change workpackages.expense")
def _(w: World, s: dict[str, Any]) -> Any:
    return _forged(w.coordinator, s["expense"], description="Changed afterwards")


@case("a decided expense is kept", "API PATCH /api/v1/expenses/{id}/")
def _(w: World, s: dict[str, Any]) -> Any:
    path = f"/api/v1/expenses/{s['expense'].pk}/"
    return api(w.partner_member, "PATCH", path, {"description": "Changed afterwards"})


@case("a decided expense is kept", "API PUT /api/v1/expenses/{id}/")
def _(w: World, s: dict[str, Any]) -> Any:
    path = f"/api/v1/expenses/{s['expense'].pk}/"
    body = _json(_expense_body(w, description="Changed afterwards"))
    return api(w.partner_member, "PUT", path, body)


@case("a decided expense is kept", "page expense-edit")
def _(w: World, s: dict[str, Any]) -> Any:
    body = _expense_body(w, description="Changed afterwards")
    body.pop("partner")
    return page(w.partner_member, reverse("expense-edit", args=[s["expense"].pk]), body)


# A withdrawn job is kept.
@case("a withdrawn job is kept", "admin change workpackages.jobrecord")
def _(w: World, s: dict[str, Any]) -> Any:
    return _forged(w.coordinator, s["job"], position_title="Renamed")


@case("a withdrawn job is kept", "API PATCH /api/v1/jobs/{id}/")
def _(w: World, s: dict[str, Any]) -> Any:
    return api(w.partner_member, "PATCH", f"/api/v1/jobs/{s['job'].pk}/", {"fte": "0.50"})


@case("a withdrawn job is kept", "API PUT /api/v1/jobs/{id}/")
def _(w: World, s: dict[str, Any]) -> Any:
    body = _json(_job_body(w, start_date=s["job"].start_date, position_title="Renamed"))
    return api(w.partner_member, "PUT", f"/api/v1/jobs/{s['job'].pk}/", body)


@case("a withdrawn job is kept", "page job-edit")
def _(w: World, s: dict[str, Any]) -> Any:
    body = _job_body(w, start_date=s["job"].start_date, position_title="Renamed")
    body.pop("partner")
    return page(w.partner_member, reverse("job-edit", args=[s["job"].pk]), body)


# A cancelled budget line is kept.
@case("a cancelled budget line is kept", "admin change workpackages.budgetline")
def _(w: World, s: dict[str, Any]) -> Any:
    return _forged(w.coordinator, s["line"], planned_amount="1.00")


@case("a cancelled budget line is kept", "admin inline consortium.partner workpackages.budgetline")
def _(w: World, s: dict[str, Any]) -> Any:
    client = client_for(w.coordinator)
    url = admin_url(w.partner_a, "change", w.partner_a.pk)
    data = form_data(client, url)
    row = next(
        key.split("-")[1]
        for key, value in data.items()
        if key.startswith("budget_lines-") and key.endswith("-id") and value == str(s["line"].pk)
    )
    data[f"budget_lines-{row}-planned_amount"] = "1.00"
    return client.post(url, data, follow=True)


@case("a cancelled budget line is kept", "API PATCH /api/v1/budget-lines/{id}/")
def _(w: World, s: dict[str, Any]) -> Any:
    path = f"/api/v1/budget-lines/{s['line'].pk}/"
    return api(w.coordinator, "PATCH", path, {"planned_amount": "1.00"})


@case("a cancelled budget line is kept", "API PUT /api/v1/budget-lines/{id}/")
def _(w: World, s: dict[str, Any]) -> Any:
    line = s["line"]
    body = {
        "partner": line.partner_id,
        "workpackage": line.workpackage_id,
        "category": line.category_id,
        "planned_amount": "1.00",
    }
    return api(w.coordinator, "PUT", f"/api/v1/budget-lines/{line.pk}/", body)


# A record stays with its partner.
@case("a record stays with its partner", "admin change workpackages.expense")
def _(w: World, s: dict[str, Any]) -> Any:
    return _forged(w.coordinator, s["expense"], partner=w.partner_b)


@case("a record stays with its partner", "API PATCH /api/v1/expenses/{id}/")
def _(w: World, s: dict[str, Any]) -> Any:
    w.budget_line_b  # noqa: B018  (partner B has a line there too)
    path = f"/api/v1/expenses/{s['expense'].pk}/"
    return api(w.coordinator, "PATCH", path, {"partner": w.partner_b.pk})


@case("effort stays with its partner", "admin change workpackages.effort")
def _(w: World, s: dict[str, Any]) -> Any:
    return _forged(w.coordinator, s["effort"], partner=w.partner_b)


@case("effort stays with its partner", "API PATCH /api/v1/effort/{id}/")
def _(w: World, s: dict[str, Any]) -> Any:
    path = f"/api/v1/effort/{s['effort'].pk}/"
    return api(w.coordinator, "PATCH", path, {"partner": w.partner_b.pk})


@case("effort stays with its partner", "API PUT /api/v1/effort/{id}/")
def _(w: World, s: dict[str, Any]) -> Any:
    effort = s["effort"]
    body = {
        "partner": w.partner_b.pk,
        "workpackage": effort.workpackage_id,
        "period": effort.period_id,
        "planned_person_months": str(effort.planned_person_months),
    }
    return api(w.coordinator, "PUT", f"/api/v1/effort/{effort.pk}/", body)


# A submitted deliverable keeps what it was judged on.
@case("a submitted deliverable keeps its due month", "admin change workpackages.deliverable")
def _(w: World, s: dict[str, Any]) -> Any:
    return _forged(w.coordinator, s["deliverable"], due_month=30)


@case(
    "a submitted deliverable keeps its due month",
    "admin inline workpackages.workpackage workpackages.deliverable",
)
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_inline(w.coordinator, w.workpackage, "deliverables", 0, due_month=30)


# Who decides what.
@case("partners withdraw drafts only", "API POST /api/v1/expenses/{id}/withdraw/")
def _(w: World, s: dict[str, Any]) -> Any:
    return api(w.partner_member, "POST", f"/api/v1/expenses/{s['expense'].pk}/withdraw/")


@case("partners withdraw drafts only", "page expense-withdraw")
def _(w: World, s: dict[str, Any]) -> Any:
    return page(w.partner_member, reverse("expense-withdraw", args=[s["expense"].pk]), {})


@case("who sent a version doesn't approve it", "admin action workpackages.deliverable approve")
def _(w: World, s: dict[str, Any]) -> Any:
    deliverable = s["deliverable"]
    return admin_action(w.coordinator, deliverable, "approve", [deliverable], apply="1", comment="")


@case("who sent a version doesn't approve it", "admin decision workpackages.deliverable approve")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_decision(w.coordinator, s["deliverable"], "approve")


@case("who sent a version doesn't approve it", "API POST /api/v1/deliverables/{id}/approve/")
def _(w: World, s: dict[str, Any]) -> Any:
    return api(w.coordinator, "POST", f"/api/v1/deliverables/{s['deliverable'].pk}/approve/", {})


@case("only a submitted deliverable is reviewed", "admin action workpackages.deliverable approve")
def _(w: World, s: dict[str, Any]) -> Any:
    deliverable = s["deliverable"]
    return admin_action(w.coordinator, deliverable, "approve", [deliverable], apply="1", comment="")


@case("only a submitted deliverable is reviewed", "admin decision workpackages.deliverable approve")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_decision(w.coordinator, s["deliverable"], "approve", **{"approve-comment": "OK."})


@case("only a submitted deliverable is reviewed", "API POST /api/v1/deliverables/{id}/approve/")
def _(w: World, s: dict[str, Any]) -> Any:
    return api(w.coordinator, "POST", f"/api/v1/deliverables/{s['deliverable'].pk}/approve/", {})


# A job starts within the programme.
@case("a job starts within the programme", "API POST /api/v1/jobs/")
def _(w: World, s: dict[str, Any]) -> Any:
    return api(w.partner_member, "POST", "/api/v1/jobs/", _json(_job_body(w)))


@case("a job starts within the programme", "API PATCH /api/v1/jobs/{id}/")
def _(w: World, s: dict[str, Any]) -> Any:
    return api(w.partner_member, "PATCH", f"/api/v1/jobs/{w.job.pk}/", {"start_date": "1900-01-01"})


@case("a job starts within the programme", "API PUT /api/v1/jobs/{id}/")
def _(w: World, s: dict[str, Any]) -> Any:
    return api(w.partner_member, "PUT", f"/api/v1/jobs/{w.job.pk}/", _json(_job_body(w)))


@case("a job starts within the programme", "page job-add")
def _(w: World, s: dict[str, Any]) -> Any:
    body = _job_body(w, status=JobStatus.FORECAST)
    body.pop("partner")
    return page(w.partner_member, reverse("job-add"), body)


@case("a job starts within the programme", "page job-edit")
def _(w: World, s: dict[str, Any]) -> Any:
    body = _job_body(w)
    body.pop("partner")
    return page(w.partner_member, reverse("job-edit", args=[w.job.pk]), body)


@case("a job starts within the programme", "admin add workpackages.jobrecord")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_add(w.coordinator, w.job, **_job_body(w))


@case("a job starts within the programme", "admin change workpackages.jobrecord")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_change(w.coordinator, w.job, start_date=datetime.date(1900, 1, 1))


# An expense is declared once incurred.
@case("an expense is dated today at the latest", "API POST /api/v1/expenses/")
def _(w: World, s: dict[str, Any]) -> Any:
    return api(
        w.partner_member, "POST", "/api/v1/expenses/", _json(_expense_body(w, incurred_on=FUTURE))
    )


@case("an expense is dated today at the latest", "page expense-add")
def _(w: World, s: dict[str, Any]) -> Any:
    return _expense_page(w, incurred_on=FUTURE)


@case("an expense is dated today at the latest", "page expense-import")
def _(w: World, s: dict[str, Any]) -> Any:
    return _expense_import(w, incurred_on=FUTURE)


@case("an expense is dated today at the latest", "admin add workpackages.expense")
def _(w: World, s: dict[str, Any]) -> Any:
    return _expense_admin(w, incurred_on=FUTURE)


# Money and effort go to the workpackages a partner takes part in.
@case("money and effort go to the partner's workpackages", "API POST /api/v1/expenses/")
def _(w: World, s: dict[str, Any]) -> Any:
    body = _json(_expense_body(w, workpackage=s["workpackage"]))
    return api(w.partner_member, "POST", "/api/v1/expenses/", body)


@case("money and effort go to the partner's workpackages", "API POST /api/v1/effort/")
def _(w: World, s: dict[str, Any]) -> Any:
    body = {
        "partner": w.partner_a.pk,
        "workpackage": s["workpackage"].pk,
        "period": w.period.pk,
        "actual_person_months": "2.00",
    }
    return api(w.partner_member, "POST", "/api/v1/effort/", body)


@case("money and effort go to the partner's workpackages", "API POST /api/v1/budget-lines/")
def _(w: World, s: dict[str, Any]) -> Any:
    body = {
        "partner": w.partner_a.pk,
        "workpackage": s["workpackage"].pk,
        "category": w.operating.pk,
        "planned_amount": "5000.00",
    }
    return api(w.coordinator, "POST", "/api/v1/budget-lines/", body)


@case("money and effort go to the partner's workpackages", "page expense-add")
def _(w: World, s: dict[str, Any]) -> Any:
    return _expense_page(w, workpackage=s["workpackage"])


@case("money and effort go to the partner's workpackages", "page expense-import")
def _(w: World, s: dict[str, Any]) -> Any:
    return _expense_import(w, workpackage=s["workpackage"])


@case("money and effort go to the partner's workpackages", "admin add workpackages.expense")
def _(w: World, s: dict[str, Any]) -> Any:
    return _expense_admin(w, workpackage=s["workpackage"])


@case("money and effort go to the partner's workpackages", "admin add workpackages.effort")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_add(
        w.coordinator,
        Effort,
        partner=w.partner_a,
        workpackage=s["workpackage"],
        period=w.period,
        planned_person_months="2.00",
    )


@case("money and effort go to the partner's workpackages", "admin add workpackages.budgetline")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_add(
        w.coordinator,
        w.budget_line,
        partner=w.partner_a,
        workpackage=s["workpackage"],
        category=w.operating,
        planned_amount="5000.00",
    )


@case(
    "money and effort go to the partner's workpackages",
    "admin inline consortium.partner workpackages.budgetline",
)
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_inline(
        w.coordinator,
        w.partner_a,
        "budget_lines",
        None,
        workpackage=s["workpackage"],
        category=w.operating,
        planned_amount="5000.00",
    )


# A submitted statement locks its period.
@case("a submitted statement locks its period's lines", "API POST /api/v1/expenses/")
def _(w: World, s: dict[str, Any]) -> Any:
    return api(w.partner_member, "POST", "/api/v1/expenses/", _json(_expense_body(w)))


@case("a submitted statement locks its period's lines", "page expense-add")
def _(w: World, s: dict[str, Any]) -> Any:
    return _expense_page(w)


@case("a submitted statement locks its period's lines", "page expense-import")
def _(w: World, s: dict[str, Any]) -> Any:
    return _expense_import(w)


@case("a submitted statement locks its period's lines", "admin add workpackages.expense")
def _(w: World, s: dict[str, Any]) -> Any:
    return _expense_admin(w)


@case("a submitted statement locks its period's effort", "API PATCH /api/v1/effort/{id}/")
def _(w: World, s: dict[str, Any]) -> Any:
    path = f"/api/v1/effort/{s['effort'].pk}/"
    return api(w.partner_member, "PATCH", path, {"actual_person_months": "9.00"})


@case("a submitted statement locks its period's effort", "API PUT /api/v1/effort/{id}/")
def _(w: World, s: dict[str, Any]) -> Any:
    effort = s["effort"]
    body = {
        "partner": effort.partner_id,
        "workpackage": effort.workpackage_id,
        "period": effort.period_id,
        "planned_person_months": str(effort.planned_person_months),
        "actual_person_months": "9.00",
    }
    return api(w.partner_member, "PUT", f"/api/v1/effort/{effort.pk}/", body)


@case("a submitted statement locks its period's effort", "page effort-period")
def _(w: World, s: dict[str, Any]) -> Any:
    effort = s["effort"]
    path = reverse("effort-period", args=[effort.period_id])
    field = f"p{effort.period_id}-wp_{effort.workpackage_id}"
    return page(w.partner_member, path, {field: "9.00"})


@case("a line with expenses stays", "admin action workpackages.budgetline cancel")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_action(w.coordinator, s["line"], "cancel", [s["line"]])


@case("a line with expenses stays", "API POST /api/v1/budget-lines/{id}/cancel/")
def _(w: World, s: dict[str, Any]) -> Any:
    return api(w.coordinator, "POST", f"/api/v1/budget-lines/{s['line'].pk}/cancel/")


@case("a milestone is achieved by today", "admin action workpackages.milestone achieve")
def _(w: World, s: dict[str, Any]) -> Any:
    milestone = s["milestone"]
    return admin_action(
        w.coordinator,
        milestone,
        "achieve",
        [milestone],
        apply="1",
        achieved_on=FUTURE,
        evidence="Batch released.",
    )


@case("a milestone is achieved by today", "API POST /api/v1/milestones/{id}/achieve/")
def _(w: World, s: dict[str, Any]) -> Any:
    path = f"/api/v1/milestones/{s['milestone'].pk}/achieve/"
    return api(w.coordinator, "POST", path, {"achieved_on": FUTURE.isoformat(), "evidence": "x"})


# People.
@case("a partner keeps an active contact", "page team-deactivate")
def _(w: World, s: dict[str, Any]) -> Any:
    return page(w.coordinator, reverse("team-deactivate", args=[s["membership"].pk]), {})


@case("a partner keeps an active contact", "page team-role")
def _(w: World, s: dict[str, Any]) -> Any:
    path = reverse("team-role", args=[s["membership"].pk])
    return page(w.coordinator, path, {"role": MembershipRole.FINANCE})


@case("a partner keeps an active contact", "admin change consortium.membership")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_change(w.coordinator, s["membership"], is_active=False)


@case("a partner keeps an active contact", "admin inline consortium.partner consortium.membership")
def _(w: World, s: dict[str, Any]) -> Any:
    client = client_for(w.coordinator)
    url = admin_url(w.partner_a, "change", w.partner_a.pk)
    data = form_data(client, url)
    row = next(
        key.split("-")[1]
        for key, value in data.items()
        if key.startswith("memberships-")
        and key.endswith("-id")
        and value == str(s["membership"].pk)
    )
    data.pop(f"memberships-{row}-is_active", None)
    return client.post(url, data, follow=True)


@case("a partner keeps an active contact", "admin inline auth.user consortium.membership")
def _(w: World, s: dict[str, Any]) -> Any:
    client = client_for(w.coordinator)
    url = admin_url(s["contact"], "change", s["contact"].pk)
    data = form_data(client, url)
    data.pop("memberships-0-is_active", None)
    return client.post(url, data, follow=True)


@case("a consortium keeps a coordinator", "admin change consortium.consortiumrole")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_change(w.coordinator, s["role"], kind=ConsortiumRoleKind.OBSERVER)


@case(
    "a consortium keeps a coordinator",
    "admin inline consortium.consortium consortium.consortiumrole",
)
def _(w: World, s: dict[str, Any]) -> Any:
    client = client_for(w.coordinator)
    url = admin_url(w.consortium, "change", w.consortium.pk)
    data = form_data(client, url)
    data.pop("roles-0-is_active", None)
    return client.post(url, data, follow=True)


@case("a consortium keeps a coordinator", "admin inline auth.user consortium.consortiumrole")
def _(w: World, s: dict[str, Any]) -> Any:
    client = client_for(w.coordinator)
    url = admin_url(w.coordinator, "change", w.coordinator.pk)
    data = form_data(client, url)
    data["consortium_roles-0-kind"] = ConsortiumRoleKind.OBSERVER
    return client.post(url, data, follow=True)


@case("a person works for one partner per consortium", "admin add consortium.membership")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_add(
        w.coordinator,
        Membership,
        user=s["person"],
        partner=w.partner_a,
        role="finance",
        is_active=True,
    )


@case(
    "a person works for one partner per consortium",
    "admin inline consortium.partner consortium.membership",
)
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_inline(
        w.coordinator,
        w.partner_a,
        "memberships",
        None,
        user=s["person"],
        role="finance",
        is_active=True,
    )


@case(
    "a person works for one partner per consortium", "admin inline auth.user consortium.membership"
)
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_inline(
        w.coordinator,
        s["person"],
        "memberships",
        None,
        partner=w.partner_a,
        role="finance",
        is_active=True,
    )


# The state of a decision.
@case("a milestone's evidence is described", "admin action workpackages.milestone achieve")
def _(w: World, s: dict[str, Any]) -> Any:
    milestone = s["milestone"]
    return admin_action(
        w.coordinator,
        milestone,
        "achieve",
        [milestone],
        apply="1",
        achieved_on=datetime.date(2025, 6, 1),
        evidence=" ",
    )


@case("a milestone's evidence is described", "API POST /api/v1/milestones/{id}/achieve/")
def _(w: World, s: dict[str, Any]) -> Any:
    path = f"/api/v1/milestones/{s['milestone'].pk}/achieve/"
    return api(w.coordinator, "POST", path, {"achieved_on": "2025-06-01", "evidence": " "})


@case("only a pending milestone is missed", "admin action workpackages.milestone miss")
def _(w: World, s: dict[str, Any]) -> Any:
    milestone = s["milestone"]
    return admin_action(
        w.coordinator, milestone, "miss", [milestone], apply="1", reason="The site closed."
    )


@case("a missed milestone says why", "admin action workpackages.milestone miss")
def _(w: World, s: dict[str, Any]) -> Any:
    milestone = s["milestone"]
    return admin_action(w.coordinator, milestone, "miss", [milestone], apply="1", reason=" ")


@case("a decided milestone is kept", "admin change workpackages.milestone")
def _(w: World, s: dict[str, Any]) -> Any:
    return _forged(w.coordinator, s["milestone"], title="Renamed")


@case("a decided milestone is not deleted", "admin delete workpackages.milestone")
def _(w: World, s: dict[str, Any]) -> Any:
    milestone = s["milestone"]
    return client_for(w.coordinator).post(
        admin_url(milestone, "delete", milestone.pk), {"post": "yes"}, follow=True
    )


@case("a decided milestone is not deleted", "admin action workpackages.milestone delete_selected")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_action(w.coordinator, s["milestone"], "delete_selected", [s["milestone"]])


@case("a deliverable worked on is kept", "admin delete workpackages.deliverable")
def _(w: World, s: dict[str, Any]) -> Any:
    deliverable = s["deliverable"]
    return client_for(w.coordinator).post(
        admin_url(deliverable, "delete", deliverable.pk), {"post": "yes"}, follow=True
    )


@case("a deliverable worked on is kept", "admin action workpackages.deliverable delete_selected")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_action(w.coordinator, s["deliverable"], "delete_selected", [s["deliverable"]])


def _send_version(w: World, user: Any, path: str, name: str, **fields: Any) -> Any:
    body = multipart({"note": "For review", **fields}, "file", name, PDF)
    client = client_for(user) if not path.startswith("/api/") else api_client(user)
    return client.post(path, body, content_type=MULTIPART, follow=not path.startswith("/api/"))


@case("a late deliverable is justified", "page deliverable-detail")
def _(w: World, s: dict[str, Any]) -> Any:
    path = reverse("deliverable-detail", args=[s["deliverable"].pk])
    return _send_version(w, w.partner_member, path, "report.pdf")


DELAY_DOORS = {
    "admin action workpackages.deliverable delay_note": "deliverable",
    "admin action workpackages.milestone delay_note": "milestone",
    "page deliverable-delay": "deliverable",
    "page milestone-delay": "milestone",
}


def _delay_note(door: str, expected_on: Any, reason: str) -> Attempt:
    def attempt(w: World, s: dict[str, Any]) -> Any:
        item = s[DELAY_DOORS[door]]
        if door.startswith("admin"):
            return admin_action(
                w.coordinator,
                item,
                "delay_note",
                [item],
                apply="1",
                expected_on=expected_on,
                reason=reason,
            )
        path = reverse(door.removeprefix("page "), args=[item.pk])
        return page(w.partner_member, path, {"expected_on": expected_on, "reason": reason})

    return attempt


for _door in DELAY_DOORS:
    case("a delay note expects a later date", _door)(
        _delay_note(_door, datetime.date(2026, 11, 25), "The cell line failed QC.")
    )
    case("a delay note says why", _door)(_delay_note(_door, FUTURE, "  "))


@case("a late deliverable is justified", "API POST /api/v1/deliverables/{id}/submit/")
def _(w: World, s: dict[str, Any]) -> Any:
    path = f"/api/v1/deliverables/{s['deliverable'].pk}/submit/"
    return _send_version(w, w.partner_member, path, "report.pdf")


@case("a file keeps the name it was sent with", "page deliverable-detail")
def _(w: World, s: dict[str, Any]) -> Any:
    path = reverse("deliverable-detail", args=[s["deliverable"].pk])
    return _send_version(w, w.partner_member, path, "../report.pdf", late_justification="Late.")


@case("a file keeps the name it was sent with", "API POST /api/v1/deliverables/{id}/submit/")
def _(w: World, s: dict[str, Any]) -> Any:
    path = f"/api/v1/deliverables/{s['deliverable'].pk}/submit/"
    return _send_version(w, w.partner_member, path, "../report.pdf", late_justification="Late.")


def _expense_fields(w: World) -> dict[str, Any]:
    body = posted(_expense_body(w, incurred_on=datetime.date(2024, 1, 20)))
    body.pop("partner")
    return body


@case("a file keeps the name it was sent with", "page expense-add")
def _(w: World, s: dict[str, Any]) -> Any:
    body = multipart(_expense_fields(w), "evidence", "../invoice.pdf", PDF)
    return client_for(w.partner_member).post(
        reverse("expense-add"), body, content_type=MULTIPART, follow=True
    )


@case("a file keeps the name it was sent with", "API PUT /api/v1/expenses/{id}/evidence/")
def _(w: World, s: dict[str, Any]) -> Any:
    body = multipart({}, "evidence", "../invoice.pdf", PDF)
    path = f"/api/v1/expenses/{s['expense'].pk}/evidence/"
    return api_client(w.partner_member).put(path, body, content_type=MULTIPART)


@case("a file keeps the name it was sent with", "admin add workpackages.expense")
def _(w: World, s: dict[str, Any]) -> Any:
    client = client_for(w.coordinator)
    url = admin_url(Expense, "add")
    fields = {
        **{k: v for k, v in form_data(client, url).items() if isinstance(v, str)},
        **_expense_fields(w),
        "partner": str(w.partner_a.pk),
    }
    body = multipart(fields, "evidence", "../invoice.pdf", PDF)
    return client.post(url, body, content_type=MULTIPART, follow=True)


@case(
    "sending a deliverable back says what must change",
    "admin action workpackages.deliverable request_changes",
)
def _(w: World, s: dict[str, Any]) -> Any:
    deliverable = s["deliverable"]
    return admin_action(
        w.coordinator, deliverable, "request_changes", [deliverable], apply="1", comment=" "
    )


@case(
    "sending a deliverable back says what must change",
    "API POST /api/v1/deliverables/{id}/request-changes/",
)
def _(w: World, s: dict[str, Any]) -> Any:
    path = f"/api/v1/deliverables/{s['deliverable'].pk}/request-changes/"
    return api(w.coordinator, "POST", path, {"comment": " "})


@case("only a planned deliverable is started", "admin action workpackages.deliverable start")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_action(w.coordinator, s["deliverable"], "start", [s["deliverable"]])


@case("only a submitted expense is accepted", "admin action workpackages.expense accept")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_action(w.coordinator, s["expense"], "accept", [s["expense"]])


@case("only a submitted expense is accepted", "admin action workpackages.expense accept_partially")
def _(w: World, s: dict[str, Any]) -> Any:
    expense = s["expense"]
    prefix = f"expense-{expense.pk}"
    return admin_action(
        w.coordinator,
        expense,
        "accept_partially",
        [expense],
        apply="1",
        **{f"{prefix}-accepted_amount": "100.00", f"{prefix}-comment": "Capped."},
    )


@case("only a submitted expense is accepted", "API POST /api/v1/expenses/{id}/accept/")
def _(w: World, s: dict[str, Any]) -> Any:
    path = f"/api/v1/expenses/{s['expense'].pk}/accept/"
    return api(w.coordinator, "POST", path, {"in_full": True})


@case("only a submitted expense is rejected", "admin action workpackages.expense reject")
def _(w: World, s: dict[str, Any]) -> Any:
    expense = s["expense"]
    return admin_action(w.coordinator, expense, "reject", [expense], apply="1", comment="No.")


@case("only a submitted expense is rejected", "API POST /api/v1/expenses/{id}/reject/")
def _(w: World, s: dict[str, Any]) -> Any:
    path = f"/api/v1/expenses/{s['expense'].pk}/reject/"
    return api(w.coordinator, "POST", path, {"comment": "No."})


@case("a rejection gives its reason", "admin action workpackages.expense reject")
def _(w: World, s: dict[str, Any]) -> Any:
    expense = s["expense"]
    return admin_action(w.coordinator, expense, "reject", [expense], apply="1", comment=" ")


@case("a rejection gives its reason", "API POST /api/v1/expenses/{id}/reject/")
def _(w: World, s: dict[str, Any]) -> Any:
    return api(
        w.coordinator, "POST", f"/api/v1/expenses/{s['expense'].pk}/reject/", {"comment": " "}
    )


@case("only a draft expense is submitted", "API POST /api/v1/expenses/{id}/submit/")
def _(w: World, s: dict[str, Any]) -> Any:
    return api(w.partner_member, "POST", f"/api/v1/expenses/{s['expense'].pk}/submit/")


@case("a job is realised once it has started", "admin action workpackages.jobrecord realise")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_action(w.coordinator, s["job"], "realise", [s["job"]])


@case("a job is realised once it has started", "API POST /api/v1/jobs/{id}/realise/")
def _(w: World, s: dict[str, Any]) -> Any:
    return api(w.partner_member, "POST", f"/api/v1/jobs/{s['job'].pk}/realise/")


@case("a job is realised once it has started", "page job-realise")
def _(w: World, s: dict[str, Any]) -> Any:
    return page(w.partner_member, reverse("job-realise", args=[s["job"].pk]), {})


@case("only a live job is withdrawn", "admin action workpackages.jobrecord withdraw")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_action(w.coordinator, s["job"], "withdraw", [s["job"]])


@case("only a live job is withdrawn", "API POST /api/v1/jobs/{id}/withdraw/")
def _(w: World, s: dict[str, Any]) -> Any:
    return api(w.partner_member, "POST", f"/api/v1/jobs/{s['job'].pk}/withdraw/")


@case("only a live job is withdrawn", "page job-withdraw")
def _(w: World, s: dict[str, Any]) -> Any:
    return page(w.partner_member, reverse("job-withdraw", args=[s["job"].pk]), {})


@case("a statement follows its period's end", "page expense-statement")
def _(w: World, s: dict[str, Any]) -> Any:
    running = w.consortium.periods.get(number=6)
    return page(w.partner_member, reverse("expense-statement", args=[running.pk]), {})


@case("a decided expense is not withdrawn", "admin action workpackages.expense withdraw")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_action(w.coordinator, s["expense"], "withdraw", [s["expense"]])


@case("a decided expense is not withdrawn", "API POST /api/v1/expenses/{id}/withdraw/")
def _(w: World, s: dict[str, Any]) -> Any:
    return api(w.coordinator, "POST", f"/api/v1/expenses/{s['expense'].pk}/withdraw/")


@case("a decided expense is not withdrawn", "page expense-withdraw")
def _(w: World, s: dict[str, Any]) -> Any:
    return page(w.partner_member, reverse("expense-withdraw", args=[s["expense"].pk]), {})


# The decisions of a row's change page (DecisionsMixin): the services of the list's actions.
@case(
    "sending a deliverable back says what must change",
    "admin decision workpackages.deliverable request_changes",
)
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_decision(
        w.coordinator, s["deliverable"], "request_changes", **{"request_changes-comment": " "}
    )


@case("only a submitted expense is accepted", "admin decision workpackages.expense accept")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_decision(w.coordinator, s["expense"], "accept")


@case(
    "only a submitted expense is accepted", "admin decision workpackages.expense accept_partially"
)
def _(w: World, s: dict[str, Any]) -> Any:
    prefix = f"expense-{s['expense'].pk}"
    return admin_decision(
        w.coordinator,
        s["expense"],
        "accept_partially",
        **{f"{prefix}-accepted_amount": "100.00", f"{prefix}-comment": "Capped."},
    )


@case("only a submitted expense is rejected", "admin decision workpackages.expense reject")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_decision(w.coordinator, s["expense"], "reject", **{"reject-comment": "No."})


@case("a rejection gives its reason", "admin decision workpackages.expense reject")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_decision(w.coordinator, s["expense"], "reject", **{"reject-comment": " "})


@case("a milestone is achieved by today", "admin decision workpackages.milestone achieve")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_decision(
        w.coordinator,
        s["milestone"],
        "achieve",
        **{"achieve-achieved_on": FUTURE, "achieve-evidence": "Batch released."},
    )


@case("a milestone's evidence is described", "admin decision workpackages.milestone achieve")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_decision(
        w.coordinator,
        s["milestone"],
        "achieve",
        **{"achieve-achieved_on": datetime.date(2025, 6, 1), "achieve-evidence": " "},
    )


@case("only a pending milestone is missed", "admin decision workpackages.milestone miss")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_decision(w.coordinator, s["milestone"], "miss", **{"miss-reason": "Closed."})


@case("a missed milestone says why", "admin decision workpackages.milestone miss")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_decision(w.coordinator, s["milestone"], "miss", **{"miss-reason": " "})


@case("a job is realised once it has started", "admin decision workpackages.jobrecord realise")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_decision(w.coordinator, s["job"], "realise")


@case("only a live job is withdrawn", "admin decision workpackages.jobrecord withdraw")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_decision(w.coordinator, s["job"], "withdraw")


# Evidence a heading requires: every door that sends a line to the coordinators.
@case("a heading that requires evidence gets it", "API POST /api/v1/expenses/{id}/submit/")
def _(w: World, s: dict[str, Any]) -> Any:
    return api(w.partner_member, "POST", f"/api/v1/expenses/{s['expense'].pk}/submit/")


@case("a heading that requires evidence gets it", "page expense-statement")
def _(w: World, s: dict[str, Any]) -> Any:
    return page(w.partner_member, reverse("expense-statement", args=[w.period.pk]), {})


# The consortium's set-up.
@case("a period with records doesn't move", "admin change consortium.consortium")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_change(w.coordinator, w.consortium, start_date=datetime.date(2024, 2, 1))


@case("a period with records doesn't move", "admin action consortium.consortium regenerate_periods")
def _(w: World, s: dict[str, Any]) -> Any:
    # The dates as a change the periods never followed (a database restored, a script) left them.
    Consortium.objects.filter(pk=w.consortium.pk).update(start_date=datetime.date(2024, 2, 1))
    try:
        return admin_action(w.coordinator, w.consortium, "regenerate_periods", [w.consortium])
    finally:
        Consortium.objects.filter(pk=w.consortium.pk).update(start_date=datetime.date(2024, 1, 1))


@case("work stays within the consortium's months", "admin change consortium.consortium")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_change(w.coordinator, w.consortium, end_date=SHORTENED)


@case("due months lie within the consortium", "admin add workpackages.deliverable")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_add(
        w.coordinator,
        w.deliverable,
        workpackage=w.workpackage,
        number=9,
        title="Late plan",
        lead_partner=w.partner_a,
        type="R",
        dissemination="PU",
        due_month=40,
    )


@case("due months lie within the consortium", "admin change workpackages.deliverable")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_change(w.coordinator, w.deliverable, due_month=40)


@case(
    "due months lie within the consortium",
    "admin inline workpackages.workpackage workpackages.deliverable",
)
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_inline(w.coordinator, w.workpackage, "deliverables", 0, due_month=40)


@case("due months lie within the consortium", "admin add workpackages.milestone")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_add(
        w.coordinator,
        w.milestone,
        number=9,
        title="Late milestone",
        workpackages=[w.workpackage],
        lead_partner=w.partner_a,
        due_month=40,
        means_of_verification="Minutes.",
    )


@case("due months lie within the consortium", "admin change workpackages.milestone")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_change(w.coordinator, w.milestone, due_month=40)


@case("due months lie within the consortium", "admin add workpackages.workpackage")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_add(
        w.coordinator,
        w.workpackage,
        consortium=w.consortium,
        number=9,
        title="Late WP",
        lead_partner=w.partner_a,
        start_month=1,
        end_month=40,
    )


@case("due months lie within the consortium", "admin change workpackages.workpackage")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_change(w.coordinator, w.workpackage, end_month=40)


@case(
    "an organisation shared with another consortium is read-only here",
    "admin change consortium.organisation",
)
def _(w: World, s: dict[str, Any]) -> Any:
    return _forged(w.coordinator, s["organisation"], short_name="Renamed")


@case("a heading's rule is frozen once used", "admin change consortium.costcategory")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_change(
        w.coordinator, s["heading"], kind="flat_rate", flat_rate="10.00", flat_rate_base=w.operating
    )


@case(
    "a heading's rule is frozen once used",
    "admin inline consortium.consortium consortium.costcategory",
)
def _(w: World, s: dict[str, Any]) -> Any:
    client = client_for(w.coordinator)
    url = admin_url(w.consortium, "change", w.consortium.pk)
    data = form_data(client, url)
    row = next(
        key.split("-")[1]
        for key, value in data.items()
        if key.startswith("cost_categories-")
        and key.endswith("-id")
        and value == str(s["heading"].pk)
    )
    data.update(
        {
            f"cost_categories-{row}-kind": "flat_rate",
            f"cost_categories-{row}-flat_rate": "10.00",
            f"cost_categories-{row}-flat_rate_base": str(w.operating.pk),
        }
    )
    return client.post(url, data, follow=True)


@case("a partner keeps its consortium and organisation", "admin change consortium.partner")
def _(w: World, s: dict[str, Any]) -> Any:
    return _forged(w.coordinator, w.partner_a, organisation=w.partner_b.organisation)


@case(
    "a participation keeps its partner",
    "admin inline workpackages.workpackage workpackages.workpackageparticipant",
)
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_inline(w.coordinator, w.workpackage, "participations", 0, partner=s["other"])


@case("a sent report keeps its documents", "admin action reporting.report regenerate")
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_action(w.coordinator, s["report"], "regenerate", [s["report"]])


@case("a person works for one partner per consortium", "page team-reactivate")
def _(w: World, s: dict[str, Any]) -> Any:
    return page(s["contact"], reverse("team-reactivate", args=[s["former"].pk]), {})


@case("a person works for one partner per consortium", "page invitation-accept")
def _(w: World, s: dict[str, Any]) -> Any:
    return page(s["person"], reverse("invitation-accept", args=[s["key"]]), {})


@case("an email address changes only through its owner", "admin change auth.user")
def _(w: World, s: dict[str, Any]) -> Any:
    return _forged(w.coordinator, s["person"], email="mallory@evil.example")


# An installation without the allowance the suite's own receivers need.
PUBLIC_ONLY = override_settings(WEBHOOKS_ALLOW_PRIVATE_ADDRESSES=False)
PRIVATE_HOOK = "https://10.0.0.8/hooks"


@case("a webhook goes to the public internet", "admin add consortium.webhooksubscription")
def _(w: World, s: dict[str, Any]) -> Any:
    with PUBLIC_ONLY:
        return admin_add(
            w.coordinator,
            s["subscription"],
            consortium=w.consortium,
            url=PRIVATE_HOOK,
            events=["expense.accepted"],
            is_active=True,
        )


@case("a webhook goes to the public internet", "admin change consortium.webhooksubscription")
def _(w: World, s: dict[str, Any]) -> Any:
    with PUBLIC_ONLY:
        return admin_change(w.coordinator, s["subscription"], url=PRIVATE_HOOK)


@case(
    "only a delivered or failed delivery is sent again",
    "admin action consortium.webhookdelivery redeliver",
)
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_action(w.coordinator, s["delivery"], "redeliver", [s["delivery"]])


@case(
    "only a delivered or failed delivery is sent again",
    "admin decision consortium.webhookdelivery redeliver",
)
def _(w: World, s: dict[str, Any]) -> Any:
    return admin_decision(w.coordinator, s["delivery"], "redeliver")


# --------------------------------------------------------------------------------------------
# The test of each case.
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "door"), sorted(CASES), ids=[f"{r} | {d}" for r, d in sorted(CASES)]
)
def test_the_door_refuses_with_the_rule_s_message_and_changes_nothing(
    world: World, rule: str, door: str
) -> None:
    for name in WARM:
        getattr(world, name)
    for person in (world.coordinator, world.partner_member, world.other_partner_member):
        api_client(person)  # Their API tokens, issued before the counts are taken.
    setup = RULES[rule].setup(world)
    message = RULES[rule].message(world, setup)
    counts, rows = _counts(), _state(setup["rows"])

    answer = CASES[rule, door](world, setup)

    assert message in shown(answer), (door, answer.status_code)
    if door.startswith("API"):
        # Bad input is a 400; a step the row's state forbids (decided, locked, sent) a 409.
        conflict = {error["code"] for error in answer.json()["errors"]} <= STATE_CONFLICTS
        assert answer.status_code == (409 if conflict else 400), answer.content
    assert _counts() == counts
    assert _state(setup["rows"]) == rows


# --------------------------------------------------------------------------------------------
# Every write path of the application, read from the application itself.
# --------------------------------------------------------------------------------------------

# The partner pages' URL names that only read (a GET page, an export, the calendar feed). Every
# other URL name of the partner pages writes, and must be in DOORS.
PAGES_THAT_READ = {
    "funder",
    "funder-overview",
    "statements",
    "funder-jobs-chart",
    "funder-budget-chart",
    "funder-report",
    "login",
    "logout",
    "password_change_done",
    "password_reset_done",
    "password_reset_complete",
    "team",
    "team-member",
    "dashboard",
    "workplan",
    "workplan-deliverables",
    "workplan-milestones",
    "expense-list",
    "expense-import-template",
    "job-list",
    "expense-export",
    "job-export",
    "calendar",
    "calendar-feed",
    "invitation",
    "effort",
}


def api_doors() -> set[str]:
    schema = published_schema()
    return {
        f"API {method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method in operations
        if method.upper() in {"POST", "PUT", "PATCH", "DELETE"}
    }


def admin_doors(coordinator: Any) -> set[str]:
    """What the admin lets a coordinator write: add and change forms, inlines, actions, deletes."""
    request = RequestFactory().get("/admin/")
    request.user = coordinator
    doors = set()
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_module_permission(request):
            continue
        label = model._meta.label_lower
        if model_admin.has_add_permission(request):
            doors.add(f"admin add {label}")
        if model_admin.has_change_permission(request):
            doors.add(f"admin change {label}")
        if model_admin.has_delete_permission(request):
            doors.add(f"admin delete {label}")
        some_row = model_admin.get_queryset(request).first()
        for inline in model_admin.get_inline_instances(request, some_row):
            if inline.has_add_permission(request, None) or inline.has_change_permission(request):
                doors.add(f"admin inline {label} {inline.model._meta.label_lower}")
        for name in model_admin.get_actions(request):
            doors.add(f"admin action {label} {name}")
        for decision in getattr(model_admin, "decisions", ()):
            doors.add(f"admin decision {label} {decision.name}")
    return doors


def page_doors() -> set[str]:
    """The partner pages (and the reminders' opt-out link) that write."""
    names = set()

    def walk(patterns: list[Any]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                names.add(pattern.name)
            else:
                walk(pattern.url_patterns)

    walk(
        [
            *consortium_urls.urlpatterns,
            *workpackages_urls.urlpatterns,
            *reporting_urls.urlpatterns,
        ]
    )
    walk([p for p in get_resolver().url_patterns if isinstance(p, URLPattern)])
    return {
        f"page {name}" for name in names - PAGES_THAT_READ - {"media", "api-schema", "api-docs"}
    }


def command_doors() -> set[str]:
    project = {"consortium", "workpackages", "reporting"}
    return {f"command {name}" for name, app in get_commands().items() if app in project}


# Write paths that no business rule of the table reaches, and why. Every other write path of the
# application is a door of at least one case above.
WITHOUT_RULE: dict[str, str] = {
    "API POST /api/v1/auth/token/": "signs in: tests/api/test_tokens.py, test_login_throttling.py",
    "API DELETE /api/v1/auth/token/": "revokes the caller's own tokens: tests/api/test_tokens.py",
    "API POST /api/v1/auth/tokens/": (
        "the person's own integration tokens: tests/api/test_integration_tokens.py"
    ),
    "API POST /api/v1/auth/tokens/{id}/revoke/": (
        "the person's own integration tokens: tests/api/test_integration_tokens.py"
    ),
    "admin add auth.user": "a new person joins one of the coordinator's partners (membership_grant)",
    "admin add consortium.consortiumrole": "grants a role (consortium_role_grant); one per person",
    "admin add consortium.costcategory": "a new heading: field validation only",
    "admin add consortium.organisation": "a new organisation: its identifiers' validation",
    "admin add consortium.partner": "a new partner: field validation only",
    "admin add reporting.report": "drafts a period's report (report_schedule), once per key",
    "admin change reporting.reportschedule": "which reports, reviewed or not: field validation; "
    "its consortium and kind stay (write rule)",
    "admin add reporting.reportrecipient": "an address: field validation only",
    "admin change reporting.reportrecipient": "an address: field validation only",
    "admin delete reporting.reportrecipient": "an address, not a record: its history keeps it",
    "admin action reporting.reportrecipient delete_selected": "an address, not a record",
    "admin action reporting.report send_now": "sends a read report (report_release), once per person",
    "admin inline auth.user consortium.profile": "the person's language and reminders",
    "command seed_demo": "builds the demo through the services: tests/workpackages/test_seed_demo.py",
    "command generate_scale": "synthetic consortia for `make bench`, inserted in bulk beside the "
    "demo, never a person's write: tests/workpackages/test_generate_scale.py",
    "command send_report": "makes and sends a report; a sent one keeps its documents and goes on",
    "command backup": "reads the database and the media: tests/operations/test_backup.py",
    "command restore": "an operator puts a whole archive back: tests/operations/test_backup.py",
    "page api-not-found": "an address the API does not have: a JSON 404 to every method",
    "page calendar-renew": "the person's own calendar feed",
    "page calendar-revoke": "the person's own calendar feed",
    "page language": "the person's own language",
    "page portal-switch": "which of the person's partners the pages show",
    "page password_change": "the person's own password: tests/portal/test_accounts.py",
    "page password_reset": "sends a reset link: tests/portal/test_accounts.py",
    "page password_reset_confirm": "the person's own password: tests/portal/test_accounts.py",
    "page reminders-opt-out": "the reader's own reminders: tests/reporting/test_reminders.py",
    "page statements-period": (
        "coordinators reopen a statement (statement_reopen): test_statement_reopen.py"
    ),
    "page notification-settings": (
        "the person's own notifications: tests/consortium/test_notification_settings.py"
    ),
    "page notifications-opt-out": (
        "the reader's own notifications: tests/consortium/test_notification_settings.py"
    ),
    "page email_change": "the person's own address: tests/portal/test_email_change.py",
    "page email_change_confirm": "the person's own address: tests/portal/test_email_change.py",
    "page team-invite": "an invitation changes nothing until accepted: test_team_invitations.py",
    "page team-invitation-resend": "the team's own invitations: test_team_invitations.py",
    "page team-invitation-cancel": "the team's own invitations: test_team_invitations.py",
    "page invitation-decline": "the invitee's own answer: test_team_invitations.py",
    "page team-resend": "an invitation email again, nothing changes: tests/portal/test_team.py",
    "page second-factor": "the person's own two-step sign-in: tests/portal/test_second_factor.py",
    "page second-factor-verify": "the sign-in's code step: tests/portal/test_second_factor.py",
    "page integration-tokens": (
        "the person's own integration tokens: tests/portal/test_integration_tokens_page.py"
    ),
    "page integration-token-revoke": (
        "the person's own integration tokens: tests/portal/test_integration_tokens_page.py"
    ),
    "admin action auth.user second_factor_reset": (
        "who resets whom (may_reset): tests/portal/test_second_factor.py"
    ),
    "command second_factor_reset": "an operator's reset: tests/portal/test_second_factor.py",
    "admin action consortium.webhooksubscription rotate_secret": (
        "a new signing secret, nothing else changes: tests/webhooks/test_admin.py"
    ),
}


def test_every_write_path_is_in_the_table(coordinator: Any) -> None:
    """Each write path of the application is a door of a case above, or is listed, with why, in
    WITHOUT_RULE: a new endpoint, admin form, inline, action, page or command fails here until
    someone decides which rules it must refuse like every other door."""
    found = api_doors() | admin_doors(coordinator) | page_doors() | command_doors()
    tried = {door for _rule, door in CASES}
    assert not tried & set(WITHOUT_RULE), "a door with cases is not a door without rules"
    assert found - tried - set(WITHOUT_RULE) == set(), "write paths missing from the table"
    assert (tried | set(WITHOUT_RULE)) - found == set(), "doors the application no longer has"
