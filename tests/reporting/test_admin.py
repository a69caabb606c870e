"""The report archive in the coordinators' admin: the list with each report's status and how many
recipients have it, a failed delivery and its error, the documents read in the browser and
downloaded (to coordinators and observers of the consortium only), "regenerate", a report asked
for by hand, and the extra recipients' form."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from reporting.choices import DeliveryStatus, ReportKind, ReportStatus
from reporting.models import Report, ReportDelivery, ReportDocument, ReportRecipient
from reporting.outbox import delivery_send
from reporting.services import report_schedule
from tests.reporting.conftest import OFFICER, SmtpServer, add_recipient
from tests.web import client_for as _client

pytestmark = pytest.mark.django_db

CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"


@pytest.fixture
def report(generated_report: Report) -> Report:
    return generated_report


def _change_url(report: Report) -> str:
    return reverse("admin:reporting_report_change", args=[report.pk])


def _document_url(report: Report, language: str) -> str:
    return reverse("admin:reporting_report_document", args=[report.pk, language])


def _changelist(model: str = "report") -> str:
    return reverse(f"admin:reporting_{model}_changelist")


# The archive's list and a report's page --------------------------------------------------------


def test_the_list_shows_each_reports_status_and_how_many_recipients_have_it(
    consortium: Any, report: Report, coordinator: Any, smtp: SmtpServer
) -> None:
    assert delivery_send(delivery_id=report.deliveries.get(email=coordinator.email).pk)
    smtp.stop()
    failed = report.deliveries.get(email=OFFICER)
    delivery_send(delivery_id=failed.pk, final=True)
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.FAILED and failed.last_error
    # A report still to generate, with its two recipients planned.
    report_schedule(
        release=True,
        kind=ReportKind.JOBS,
        consortium=consortium,
        period_start=datetime.date(2025, 6, 1),
        period_end=datetime.date(2025, 6, 30),
    )
    client = _client(coordinator)

    response = client.get(_changelist())
    assert response.status_code == 200
    shown = {
        (row.kind, row.status, row.n_sent, row.n_failed, row.n_deliveries)
        for row in response.context["cl"].result_list
    }
    assert shown == {
        (ReportKind.PROGRESS, ReportStatus.FAILED, 1, 1, 2),
        (ReportKind.JOBS, ReportStatus.PENDING, 0, 0, 2),
    }
    html = response.content.decode()
    assert '<span class="cm-badge cm-red">Failed</span>' in html
    assert '<span class="cm-badge cm-grey">Pending</span>' in html
    assert "1 of 2 sent" in html and "1 failed" in html
    assert "0 of 2 sent" in html

    page = client.get(_change_url(report))
    assert page.status_code == 200
    html = page.content.decode()
    assert OFFICER in html and coordinator.email in html
    assert "Failed" in html and "Sent" in html
    assert failed.last_error in html


def test_a_reports_documents_are_read_and_downloaded_by_its_consortiums_readers_only(
    report: Report,
    coordinator: Any,
    observer: Any,
    partner_member: Any,
    other_coordinator: Any,
) -> None:
    client = _client(coordinator)
    english = report.documents.get(language="en")
    page = client.get(_change_url(report)).content.decode()
    for document in report.documents.all():
        assert _document_url(report, document.language) in page
        assert f'href="{document.pdf.url}"' in page
        assert f'href="{document.xlsx.url}"' in page

    response = client.get(_document_url(report, "en"))
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == CSP
    html = response.content.decode()
    assert english.chart.url.startswith("/media/reports/")
    assert f'src="{english.chart.url}"' in html and "cid:" not in html
    assert "The GMP audit moved." in html
    chart = client.get(english.chart.url)
    assert chart.status_code == 200
    assert b"".join(chart.streaming_content).startswith(b"\x89PNG")

    french = client.get(_document_url(report, "fr"))
    assert french.status_code == 200 and "Livrables" in french.content.decode()
    assert client.get(_document_url(report, "de")).status_code == 404

    # Another consortium's coordinator: as if the report did not exist.
    other = _client(other_coordinator)
    assert other.get(_change_url(report)).status_code == 404
    assert other.get(_document_url(report, "en")).status_code == 404
    assert report.pk not in {row.pk for row in other.get(_changelist()).context["cl"].result_list}

    # The PDF and XLSX links: to the consortium's coordinators and observers only.
    document = report.documents.get(language="fr")
    for url in (document.pdf.url, document.xlsx.url):
        for reader, status in (
            (_client(coordinator), 200),
            (_client(observer), 200),
            (_client(partner_member), 404),
            (_client(other_coordinator), 404),
            (Client(), 404),
        ):
            response = reader.get(url)
            assert response.status_code == status, (url, reader)
            if status == 200:
                content = b"".join(response.streaming_content)
                assert content.startswith(b"%PDF" if url.endswith(".pdf") else b"PK")
                assert response["Content-Disposition"].startswith("attachment")
    # The observer reads the files but not the admin.
    assert _client(observer).get(_document_url(report, "fr")).status_code == 302


def test_regenerate_refreshes_the_report_from_todays_data(
    report: Report, coordinator: Any, django_capture_on_commit_callbacks: Any
) -> None:
    before = report.generated_at
    assert before is not None
    old_pdf = Path(report.documents.get(language="en").pdf.path)
    with django_capture_on_commit_callbacks(execute=True):
        response = _client(coordinator).post(
            _changelist(), {"action": "regenerate", "_selected_action": [report.pk]}, follow=True
        )
    assert response.status_code == 200
    assert "1 report regenerated." in response.content.decode()
    report.refresh_from_db()
    assert report.generated_at is not None and report.generated_at > before
    assert report.history.first().history_user == coordinator
    assert Report.objects.count() == 1 and ReportDocument.objects.count() == 2
    # The new PDF has a name of its own; the old one went once the new one was committed.
    new_pdf = Path(report.documents.get(language="en").pdf.path)
    assert new_pdf != old_pdf and new_pdf.exists() and not old_pdf.exists()


def test_a_report_sent_to_someone_keeps_its_documents(report: Report, coordinator: Any) -> None:
    delivery = report.deliveries.first()
    assert delivery is not None
    ReportDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.SENT)
    before = report.generated_at
    pdf = report.documents.get(language="en").pdf.name
    response = _client(coordinator).post(
        _changelist(), {"action": "regenerate", "_selected_action": [report.pk]}, follow=True
    )
    assert "its documents are kept as they were sent" in response.content.decode()
    report.refresh_from_db()
    assert report.generated_at == before
    assert report.documents.get(language="en").pdf.name == pdf


# A report asked for by hand --------------------------------------------------------------------


def _report_form(consortium: Any, **changes: Any) -> dict[str, Any]:
    return {
        "kind": ReportKind.PROGRESS,
        "consortium": consortium.pk,
        "period_start": "2025-01-01",
        "period_end": "2025-06-30",
        **changes,
    }


def test_a_period_ending_before_it_starts_is_refused_and_nothing_is_created(
    consortium: Any, coordinator: Any
) -> None:
    response = _client(coordinator).post(
        reverse("admin:reporting_report_add"),
        _report_form(consortium, period_start="2025-06-30", period_end="2025-01-01"),
    )
    assert response.status_code == 200
    assert "A report&#x27;s period cannot end before it starts." in response.content.decode()
    assert not Report.objects.exists()


def test_a_report_cannot_be_asked_for_another_consortium(
    consortium: Any, other_consortium: Any, coordinator: Any
) -> None:
    client = _client(coordinator)
    form = client.get(reverse("admin:reporting_report_add")).context["adminform"].form
    assert list(form.fields["consortium"].queryset) == [consortium]
    response = client.post(reverse("admin:reporting_report_add"), _report_form(other_consortium))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Report.objects.exists()


# Extra recipients ------------------------------------------------------------------------------


def _recipient_form(consortium: Any, **changes: Any) -> dict[str, Any]:
    return {
        "consortium": consortium.pk,
        "email": OFFICER,
        "name": "Region's officer",
        "language": "fr",
        "progress_report": "on",
        "jobs_report": "on",
        "is_active": "on",
        **changes,
    }


def test_a_recipient_is_added_with_its_history(consortium: Any, coordinator: Any) -> None:
    response = _client(coordinator).post(
        reverse("admin:reporting_reportrecipient_add"), _recipient_form(consortium)
    )
    assert response.status_code == 302
    recipient = ReportRecipient.objects.get()
    assert (recipient.consortium, recipient.email, recipient.language) == (
        consortium,
        OFFICER,
        "fr",
    )
    assert recipient.history.get().history_user == coordinator


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"email": "officer-at-region"}, "Enter a valid email address."),
        ({"email": ""}, "This field is required."),
        ({"language": "de"}, "Select a valid choice."),
    ],
)
def test_a_recipient_with_bad_input_is_refused_and_nothing_is_created(
    consortium: Any, coordinator: Any, changes: dict[str, str], message: str
) -> None:
    response = _client(coordinator).post(
        reverse("admin:reporting_reportrecipient_add"), _recipient_form(consortium, **changes)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ReportRecipient.objects.exists()


def test_an_address_already_receiving_the_reports_is_refused(
    consortium: Any, other_consortium: Any, coordinator: Any
) -> None:
    existing = add_recipient(consortium, OFFICER)
    # The same address for another consortium is another recipient.
    add_recipient(other_consortium, OFFICER)
    response = _client(coordinator).post(
        reverse("admin:reporting_reportrecipient_add"), _recipient_form(consortium)
    )
    assert response.status_code == 200
    assert "This address already receives this consortium&#x27;s reports." in (
        response.content.decode()
    )
    assert ReportRecipient.objects.filter(consortium=consortium).get() == existing
    assert existing.history.count() == 1


def test_another_consortium_cannot_be_chosen_for_a_recipient(
    consortium: Any, other_consortium: Any, coordinator: Any, other_coordinator: Any
) -> None:
    client = _client(coordinator)
    add = reverse("admin:reporting_reportrecipient_add")
    assert list(client.get(add).context["adminform"].form.fields["consortium"].queryset) == [
        consortium
    ]
    response = client.post(add, _recipient_form(other_consortium))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ReportRecipient.objects.exists()
    # Nor can another consortium's coordinator open PIT-TEST's recipients.
    recipient = add_recipient(consortium, OFFICER)
    change = reverse("admin:reporting_reportrecipient_change", args=[recipient.pk])
    assert _client(other_coordinator).get(change).status_code == 404
    assert client.get(change).status_code == 200
