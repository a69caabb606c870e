"""Partner B's people reach none of partner A's expenses, evidence files, jobs or team through
any URL of the partner pages: every pattern is requested, with every id of A's rows, by GET and
by POST, and nothing of A's shows or changes."""

from __future__ import annotations

import io
import itertools
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, reverse

from consortium import urls as consortium_urls
from consortium.models import Membership
from consortium.services import calendar_feed_renew
from tests import factories
from tests.api.conftest import PDF
from tests.web import client_for
from workpackages import urls as workpackages_urls
from workpackages.jobs.models import JobRecord
from workpackages.money.models import Expense

pytestmark = pytest.mark.django_db

SECRETS = ("SECRET-A-EXPENSE", "SECRET-A-INV", "secret-a-evidence", "SECRET-A-JOB", "member-a")


@pytest.fixture
def a_rows(budget_line: Any, partner_a: Any, partner_member: Any) -> dict[str, Any]:
    expense = factories.ExpenseFactory(
        line=budget_line,
        amount=Decimal("777.00"),
        description="SECRET-A-EXPENSE",
        invoice_reference="SECRET-A-INV",
        evidence=ContentFile(PDF, name="secret-a-evidence.pdf"),
    )
    job = factories.JobRecordFactory(partner=partner_a, position_title="SECRET-A-JOB")
    membership = Membership.objects.get(user=partner_member)
    token = calendar_feed_renew(user=partner_member).calendar_token
    return {"expense": expense, "job": job, "membership": membership, "token": token}


def snapshot(partner: Any) -> list[Any]:
    """Partner A's rows and their history (B may well change its own rows on the way)."""
    return [
        list(Expense.objects.filter(partner=partner).order_by("pk").values()),
        list(JobRecord.objects.filter(partner=partner).order_by("pk").values()),
        list(Membership.objects.filter(partner=partner).order_by("pk").values()),
        Expense.history.filter(partner_id=partner.pk).count(),
        JobRecord.history.filter(partner_id=partner.pk).count(),
        Membership.history.filter(partner_id=partner.pk).count(),
    ]


def text_of(response: Any) -> str:
    if hasattr(response, "streaming_content"):
        body = b"".join(response.streaming_content)
    else:
        body = response.content
    if body.startswith(b"PK"):
        book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
        return " ".join(
            str(value)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
            for value in row
            if value is not None
        )
    return body.decode("utf-8", errors="replace")


def test_partner_b_reaches_nothing_of_partner_a(
    a_rows: dict[str, Any],
    other_partner_member: Any,
    budget_line_b: Any,
    period: Any,
    deliverable: Any,
) -> None:
    # Partner B has rows of its own, so that its lists and exports are not empty.
    factories.ExpenseFactory(line=budget_line_b, description="B's own expense")
    factories.JobRecordFactory(partner=budget_line_b.partner, position_title="B's own job")
    ids = [a_rows["expense"].pk, a_rows["job"].pk, a_rows["membership"].pk]
    values = {
        "pk": ids,
        "period_pk": [period.pk],
        "fmt": ["xlsx", "csv"],
        "token": [a_rows["token"]],
        "uidb64": ["MQ"],
    }
    before = snapshot(a_rows["expense"].partner)
    patterns: list[URLPattern] = [*consortium_urls.urlpatterns, *workpackages_urls.urlpatterns]
    requested = 0
    for pattern in patterns:
        names = sorted(pattern.pattern.regex.groupindex)
        # A new kind of URL argument needs its values here before the test passes.
        assert set(names) <= {*values, "token"}, f"{pattern.name}: no values for {names}"
        choices = [values[name] for name in names]
        for combination in itertools.product(*choices):
            kwargs = dict(zip(names, combination, strict=True))
            if pattern.name == "password_reset_confirm":
                kwargs["token"] = "set-password"  # noqa: S105  (a reset link's placeholder)
            url = reverse(pattern.name, kwargs=kwargs)
            for method in ("get", "post"):
                # A fresh session each time: signing out or switching must not hide later answers.
                client = client_for(other_partner_member)
                data = {
                    "description": "changed",
                    "amount": "1",
                    "role": "contributor",
                    "language": "en",
                    "membership": str(a_rows["membership"].pk),
                }
                response = (
                    getattr(client, method)(url, data) if method == "post" else client.get(url)
                )
                requested += 1
                assert response.status_code < 500, f"{method.upper()} {url}"
                body = text_of(response)
                for secret in SECRETS:
                    assert secret not in body, f"{method.upper()} {url} shows {secret}"
                owner = {"expense-": "expense", "job-": "job", "team-": "membership"}
                kind = next((v for k, v in owner.items() if (pattern.name or "").startswith(k)), "")
                # Ids of other tables may be B's own rows of this kind: only A's row is checked.
                if "pk" in kwargs and kind and kwargs["pk"] == a_rows[kind].pk:
                    # A's rows are absent for B (404); a write B's role doesn't allow at all
                    # is refused before any lookup (403), telling nothing either.
                    assert response.status_code in (403, 404, 405), f"{method.upper()} {url}"
    assert requested > 100
    # A's evidence file, by its address.
    assert client_for(other_partner_member).get(a_rows["expense"].evidence.url).status_code == 404
    assert snapshot(a_rows["expense"].partner) == before


def test_partner_b_ids_collide_with_nothing_of_a(
    a_rows: dict[str, Any], other_partner_member: Any
) -> None:
    """The pages of partner A's rows, requested by partner B, answer 404 one by one."""
    client = client_for(other_partner_member)
    expense, job, membership = a_rows["expense"], a_rows["job"], a_rows["membership"]
    for url in (
        reverse("expense-edit", args=[expense.pk]),
        reverse("expense-withdraw", args=[expense.pk]),
        reverse("job-edit", args=[job.pk]),
        reverse("job-realise", args=[job.pk]),
        reverse("job-withdraw", args=[job.pk]),
        reverse("team-member", args=[membership.pk]),
        expense.evidence.url,
    ):
        assert client.get(url).status_code in (404, 405), url
        assert client.post(url).status_code in (403, 404), url
