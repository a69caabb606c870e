"""The jobs pages: a partner's own job records against its commitment, declared, changed, realised
and withdrawn through the services, with the history naming the person."""

from __future__ import annotations

import datetime
import html
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consortium.models import Partner
from tests import factories
from tests.web import client_for
from workpackages.jobs.choices import JobImpact, JobStatus
from workpackages.jobs.models import JobRecord
from workpackages.jobs.services import job_withdraw

pytestmark = pytest.mark.django_db

REALISED_START = datetime.date(2025, 3, 1)


def job_data(wp: Any, **overrides: Any) -> dict[str, Any]:
    data = {
        "position_title": "GMP operator",
        "workpackage": wp.pk,
        "category": "production",
        "contract_type": "fixed_term",
        "impact": "direct",
        "fte": "0.80",
        "start_date": "2025-03-01",
        "end_date": "2026-02-28",
        "evidence_note": "Vacancy notice 2025-07",
        "status": "forecast",
    }
    data.update(overrides)
    return data


def edit_data(job: JobRecord, **overrides: Any) -> dict[str, Any]:
    data = {
        "position_title": job.position_title,
        "workpackage": job.workpackage_id or "",
        "category": job.category,
        "contract_type": job.contract_type,
        "impact": job.impact,
        "fte": str(job.fte),
        "start_date": job.start_date.isoformat(),
        "end_date": job.end_date.isoformat() if job.end_date else "",
        "evidence_note": job.evidence_note,
    }
    data.update(overrides)
    return data


def snapshot(job: JobRecord) -> tuple[Any, ...]:
    """The saved row and the number of its history rows."""
    job.refresh_from_db()
    return (
        job.position_title,
        job.impact,
        job.fte,
        job.start_date,
        job.end_date,
        job.status,
        job.history.count(),
    )


def make_jobs(partner: Partner, count: int, **fields: Any) -> None:
    JobRecord.objects.bulk_create(
        JobRecord(
            partner=partner,
            consortium_id=partner.consortium_id,
            position_title=f"Bulk technician {n}",
            category="technician",
            contract_type="permanent",
            fte=Decimal("1.00"),
            start_date=REALISED_START,
            impact="direct",
            **fields,
        )
        for n in range(count)
    )


# The list ---------------------------------------------------------------------------------------


def test_list_shows_only_the_partners_own_jobs(
    partner_member: Any, partner_b: Any, job: Any
) -> None:
    theirs: Any = factories.JobRecordFactory(
        partner=partner_b, position_title="Their bioprocess lead"
    )

    response = client_for(partner_member).get(reverse("job-list"))

    assert response.status_code == 200
    assert [row.pk for row in response.context["page_obj"]] == [job.pk]
    content = response.content.decode()
    assert job.position_title in content
    assert theirs.position_title not in content
    assert reverse("job-edit", args=[job.pk]) in content


def test_totals_against_the_commitment_equal_the_database_aggregates(
    partner_member: Any, partner_a: Any, partner_b: Any
) -> None:
    Partner.objects.filter(pk=partner_a.pk).update(
        jobs_commitment_direct=4, jobs_commitment_indirect=10
    )
    realised = {"status": JobStatus.REALISED, "start_date": REALISED_START}
    factories.JobRecordFactory(partner=partner_a, fte=Decimal("1.00"), **realised)
    factories.JobRecordFactory(partner=partner_a, fte=Decimal("0.50"), **realised)
    factories.JobRecordFactory(partner=partner_a, fte=Decimal("0.80"))  # forecast
    factories.JobRecordFactory(
        partner=partner_a, fte=Decimal("0.60"), impact=JobImpact.INDIRECT, **realised
    )
    withdrawn = factories.JobRecordFactory(partner=partner_a, **realised)
    job_withdraw(job=withdrawn, user=partner_member)
    factories.JobRecordFactory(partner=partner_b, **realised)  # another partner's

    response = client_for(partner_member).get(reverse("job-list"))

    rows = {row.impact: row for row in response.context["commitments"]}
    expected = {
        (r["impact"], r["status"]): (r["n"], r["fte"])
        for r in JobRecord.objects.filter(partner=partner_a)
        .exclude(status=JobStatus.WITHDRAWN)
        .order_by()
        .values("impact", "status")
        .annotate(n=Count("pk"), fte=Sum("fte"))
    }
    direct, indirect = rows[JobImpact.DIRECT], rows[JobImpact.INDIRECT]
    assert (direct.realised, direct.realised_fte) == expected[("direct", "realised")]
    assert (direct.forecast, direct.forecast_fte) == expected[("direct", "forecast")]
    assert (indirect.realised, indirect.realised_fte) == expected[("indirect", "realised")]
    assert (indirect.forecast, indirect.forecast_fte) == (0, Decimal(0))
    # The withdrawn job and partner B's job are left out: 2 direct realised, 1.50 FTE.
    assert (direct.realised, direct.realised_fte) == (2, Decimal("1.50"))
    assert (direct.committed, indirect.committed) == (4, 10)
    assert direct.progress == Decimal("50.0")
    assert direct.outlook == Decimal("75.0")
    content = response.content.decode()
    assert 'style="width: 50%"' in content
    assert 'style="width: 10%"' in content


def test_filters_narrow_the_list_and_a_bad_filter_shows_its_error(
    partner_member: Any, partner_a: Any
) -> None:
    direct: Any = factories.JobRecordFactory(partner=partner_a, position_title="Direct QC analyst")
    indirect = factories.JobRecordFactory(
        partner=partner_a, position_title="Indirect logistician", impact=JobImpact.INDIRECT
    )
    client = client_for(partner_member)

    response = client.get(reverse("job-list"), {"impact": "indirect"})
    assert [row.pk for row in response.context["page_obj"]] == [indirect.pk]
    assert direct.position_title not in response.content.decode()
    # The export links carry the filters.
    assert reverse("job-export", args=["xlsx"]) + "?impact=indirect" in response.content.decode()

    response = client.get(reverse("job-list"), {"status": "hired"})
    assert response.status_code == 200
    assert list(response.context["page_obj"]) == []
    assert response.context["filterset"].form.errors["status"]
    # The page's own partner and consortium are not filters the partner chooses.
    assert set(response.context["filterset"].form.fields) == {
        "workpackage",
        "status",
        "impact",
        "category",
        "contract_type",
    }


def test_list_is_paginated_and_its_query_count_does_not_grow(
    partner_member: Any, partner_a: Any
) -> None:
    client = client_for(partner_member)
    make_jobs(partner_a, 2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("job-list")).status_code == 200
    make_jobs(partner_a, 49)
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("job-list"))

    assert len(many) == len(few)
    assert len(response.context["page_obj"]) == 50
    second = client.get(reverse("job-list"), {"page": 2})
    assert len(second.context["page_obj"]) == 1


# Declaring and changing ----------------------------------------------------------------------


def test_declare_a_job_records_it_for_the_partner_with_its_author(
    partner_member: Any, partner_a: Any, workpackage: Any
) -> None:
    response = client_for(partner_member).post(reverse("job-add"), job_data(workpackage))

    assert response.status_code == 302
    job = JobRecord.objects.get(position_title="GMP operator")
    assert job.partner == partner_a
    assert job.workpackage == workpackage
    assert job.status == JobStatus.FORECAST
    assert job.fte == Decimal("0.80")
    created = job.history.get()
    assert created.history_type == "+"
    assert created.history_user == partner_member


def test_declare_a_realised_job(partner_member: Any, workpackage: Any) -> None:
    client_for(partner_member).post(
        reverse("job-add"), job_data(workpackage, status="realised", end_date="")
    )

    job = JobRecord.objects.get(position_title="GMP operator")
    assert job.status == JobStatus.REALISED
    assert job.end_date is None


def test_the_form_says_a_job_is_a_position_and_offers_the_consortiums_workpackages(
    partner_member: Any, workpackage: Any, other_workpackage: Any
) -> None:
    response = client_for(partner_member).get(reverse("job-add"))

    content = response.content.decode()
    assert "The position, not the person" in content
    assert "never enter the name of the person who holds it" in content
    choices = response.context["form"].fields["workpackage"].queryset
    assert list(choices) == [workpackage]
    assert f'value="{other_workpackage.pk}"' not in content


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"fte": "0"}, "fte", "FTE must be more than 0 and at most 1."),
        ({"fte": "1.5"}, "fte", "FTE must be more than 0 and at most 1."),
        ({"fte": "-0.5"}, "fte", "FTE must be more than 0 and at most 1."),
        (
            {"start_date": "2025-03-01", "end_date": "2025-02-01"},
            "end_date",
            "A job cannot end before it starts.",
        ),
        (
            {"status": "realised", "start_date": "2027-01-04", "end_date": ""},
            "start_date",
            "A job that starts in the future is still a forecast.",
        ),
        ({"status": "withdrawn"}, "status", "Select a valid choice."),
        ({"position_title": ""}, "position_title", "This field is required."),
    ],
)
def test_declaring_bad_values_saves_nothing_and_says_why(
    partner_member: Any, workpackage: Any, overrides: dict[str, str], field: str, message: str
) -> None:
    response = client_for(partner_member).post(
        reverse("job-add"), job_data(workpackage, **overrides)
    )

    assert response.status_code == 200
    assert not JobRecord.objects.exists()
    errors = response.context["form"].errors
    assert any(message in error for error in errors[field])
    assert message in response.content.decode()


def test_a_workpackage_of_another_consortium_is_refused(
    partner_member: Any, workpackage: Any, other_workpackage: Any
) -> None:
    response = client_for(partner_member).post(
        reverse("job-add"), job_data(workpackage, workpackage=other_workpackage.pk)
    )

    assert response.status_code == 200
    assert "workpackage" in response.context["form"].errors
    assert not JobRecord.objects.exists()


def test_edit_a_job_saves_the_change_with_its_author(
    partner_member: Any, job: Any, workpackage: Any
) -> None:
    response = client_for(partner_member).post(
        reverse("job-edit", args=[job.pk]),
        edit_data(job, position_title="Senior QC analyst", fte="0.50"),
    )

    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.position_title, job.fte) == ("Senior QC analyst", Decimal("0.50"))
    latest = job.history.first()
    assert latest.history_type == "~"
    assert latest.history_user == partner_member


def test_edit_with_bad_values_saves_nothing(partner_member: Any, job: Any) -> None:
    before = snapshot(job)
    response = client_for(partner_member).post(
        reverse("job-edit", args=[job.pk]),
        edit_data(job, fte="2", end_date="2020-01-01"),
    )

    assert response.status_code == 200
    assert "FTE must be more than 0 and at most 1." in response.content.decode()
    assert snapshot(job) == before


def test_a_realised_job_keeps_its_impact_and_start_date(
    partner_member: Any, partner_a: Any
) -> None:
    job = factories.JobRecordFactory(
        partner=partner_a, status=JobStatus.REALISED, start_date=REALISED_START
    )
    before = snapshot(job)
    client = client_for(partner_member)

    for change in ({"impact": "indirect"}, {"start_date": "2025-02-01"}):
        response = client.post(reverse("job-edit", args=[job.pk]), edit_data(job, **change))
        assert response.status_code == 200
        (field,) = change
        assert response.context["form"].errors[field] == [
            "A realised job keeps its partner, its impact and its start date."
        ]
        assert snapshot(job) == before


def test_a_withdrawn_job_is_not_editable(partner_member: Any, job: Any) -> None:
    job_withdraw(job=job, user=partner_member)
    before = snapshot(job)
    client = client_for(partner_member)

    response = client.get(reverse("job-edit", args=[job.pk]), follow=True)
    assert html.unescape(response.content.decode()).count(f"Cannot change {job}: it is withdrawn.")
    response = client.post(
        reverse("job-edit", args=[job.pk]), edit_data(job, position_title="Renamed")
    )
    assert response.status_code == 302
    assert snapshot(job) == before
    listed = client.get(reverse("job-list")).content.decode()
    assert reverse("job-edit", args=[job.pk]) not in listed


# Realising and withdrawing ------------------------------------------------------------------


def test_realise_a_forecast_job(partner_member: Any, job: Any) -> None:
    client = client_for(partner_member)
    assert client.get(reverse("job-realise", args=[job.pk])).status_code == 405

    response = client.post(reverse("job-realise", args=[job.pk]), follow=True)

    job.refresh_from_db()
    assert job.status == JobStatus.REALISED
    assert job.history.first().history_user == partner_member
    assert "now counts as realised" in response.content.decode()


def test_a_job_starting_in_the_future_cannot_be_realised(
    partner_member: Any, partner_a: Any
) -> None:
    job = factories.JobRecordFactory(
        partner=partner_a, start_date=timezone.localdate() + datetime.timedelta(days=30)
    )
    before = snapshot(job)

    response = client_for(partner_member).post(reverse("job-realise", args=[job.pk]), follow=True)

    assert "A job that starts in the future is still a forecast." in response.content.decode()
    assert snapshot(job) == before


def test_withdraw_asks_first_then_withdraws(partner_member: Any, job: Any) -> None:
    client = client_for(partner_member)

    confirm = client.get(reverse("job-withdraw", args=[job.pk]))
    assert confirm.status_code == 200
    job.refresh_from_db()
    assert job.status == JobStatus.FORECAST

    client.post(reverse("job-withdraw", args=[job.pk]))

    job.refresh_from_db()
    assert job.status == JobStatus.WITHDRAWN
    assert job.history.first().history_user == partner_member
    # Withdrawing twice is refused with a message, and changes nothing.
    before = snapshot(job)
    response = client.post(reverse("job-withdraw", args=[job.pk]), follow=True)
    assert "Cannot withdraw" in response.content.decode()
    assert snapshot(job) == before


def test_another_partners_job_is_not_found(partner_member: Any, partner_b: Any) -> None:
    theirs = factories.JobRecordFactory(partner=partner_b)
    before = snapshot(theirs)
    client = client_for(partner_member)

    assert client.get(reverse("job-edit", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("job-edit", args=[theirs.pk]), edit_data(theirs)).status_code == 404
    assert client.post(reverse("job-realise", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("job-withdraw", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("job-withdraw", args=[theirs.pk])).status_code == 404
    assert snapshot(theirs) == before


def test_anonymous_visitors_go_to_the_login_page(job: Any) -> None:
    for url in (
        reverse("job-list"),
        reverse("job-add"),
        reverse("job-edit", args=[job.pk]),
        reverse("job-realise", args=[job.pk]),
    ):
        response = Client().post(url) if "realise" in url else Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
