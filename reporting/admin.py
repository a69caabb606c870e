"""The report archive in the coordinators' admin: each report with its documents to download, its
recipients and their delivery log; "regenerate" and "send now"; the extra recipients."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from consortium.adminkit import run_service, status_badge
from consortium.permissions import ReadOnlyTabularInline, ScopedModelAdmin
from reporting import tasks
from reporting.choices import DeliveryStatus, ReportStatus
from reporting.models import Report, ReportDelivery, ReportDocument, ReportRecipient
from reporting.outbox import report_resend
from reporting.rendering import CHART_CID
from reporting.services import report_generate, report_schedule

# Reports and deliveries share their status values: pending, (generated,) sent, failed.
STATUS_TONES: dict[str, str] = {
    ReportStatus.PENDING: "grey",
    ReportStatus.GENERATED: "blue",
    ReportStatus.SENT: "green",
    ReportStatus.FAILED: "red",
    DeliveryStatus.CANCELLED: "grey",
}
KEY_FIELDS = ["kind", "consortium", "period_start", "period_end"]
QUEUE_DOWN = _(
    "The task queue (Redis) does not answer. Nothing is lost: the report waits in the archive "
    "and goes out by itself within minutes of the queue coming back."
)


class DeliveryInline(ReadOnlyTabularInline):
    model = ReportDelivery
    verbose_name = _("recipient")
    verbose_name_plural = _("recipients and delivery log")
    fields = ["email", "language", "status_display", "attempts", "last_error", "sent_at"]
    readonly_fields = ["email", "language", "status_display", "attempts", "last_error", "sent_at"]
    show_change_link = False

    @admin.display(description=_("status"))
    def status_display(self, obj: ReportDelivery) -> str:
        return status_badge(obj, STATUS_TONES)


class ReportForm(forms.ModelForm):
    """A report asked for by hand: its kind, consortium and period; the rest is the tasks' work."""

    class Meta:
        model = Report
        fields = KEY_FIELDS


@admin.register(Report)
class ReportAdmin(ScopedModelAdmin):
    form = ReportForm
    list_display = [
        "__str__",
        "kind",
        "consortium",
        "period_start",
        "period_end",
        "status_display",
        "recipients_display",
        "generated_at",
        "sent_at",
    ]
    list_filter = ["kind", "status", "consortium"]
    date_hierarchy = "period_end"
    list_select_related = ["consortium"]
    inlines = [DeliveryInline]
    actions = ["send_now", "regenerate"]
    readonly_fields = [
        "status_display",
        "documents_display",
        "generated_at",
        "queued_at",
        "sent_at",
        "error",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Report]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_deliveries=Count("deliveries"),
                n_sent=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.SENT)),
                n_failed=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
            )
        )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return KEY_FIELDS if obj is None else [*KEY_FIELDS, *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if obj is None else [*KEY_FIELDS, *self.readonly_fields]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The change page is for reading and for the actions; nothing on it is edited by hand.
        return False

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, obj: Report) -> str:
        label = status_badge(obj, STATUS_TONES)
        if obj.status == ReportStatus.FAILED and obj.error:
            return format_html("{} <small>{}</small>", label, obj.error[:200])
        return label

    @admin.display(description=_("recipients"))
    def recipients_display(self, obj: Report) -> str:
        text = gettext("%(sent)s of %(total)s sent") % {
            "sent": obj.n_sent,  # type: ignore[attr-defined]
            "total": obj.n_deliveries,  # type: ignore[attr-defined]
        }
        if obj.n_failed:  # type: ignore[attr-defined]
            failed = ngettext("%(count)s failed", "%(count)s failed", obj.n_failed) % {  # type: ignore[attr-defined]
                "count": obj.n_failed  # type: ignore[attr-defined]
            }
            return format_html('{} · <strong class="cm-text-red">{}</strong>', text, failed)
        return text

    @admin.display(description=_("documents"))
    def documents_display(self, obj: Report) -> str:
        documents = obj.documents.all()
        if not documents:
            return "–"
        return format_html_join(
            mark_safe("<br>"),
            '{}: <a href="{}" target="_blank" rel="noopener">{}</a> · <a href="{}">PDF</a> · '
            '<a href="{}">XLSX</a>',
            (
                (
                    document.get_language_display(),
                    reverse("admin:reporting_report_document", args=[obj.pk, document.language]),
                    gettext("read"),
                    document.pdf.url,
                    document.xlsx.url,
                )
                for document in documents
            ),
        )

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:report_id>/document/<str:language>/",
                self.admin_site.admin_view(self.document_view),
                name="reporting_report_document",
            ),
            *super().get_urls(),
        ]

    def document_view(self, request: HttpRequest, report_id: int, language: str) -> HttpResponse:
        """The report as its recipients read it, the chart served from the archive."""
        document = (
            ReportDocument.objects.filter(
                report__in=self.get_queryset(request), report_id=report_id, language=language
            )
            .select_related("report")
            .first()
        )
        if document is None:
            raise Http404
        html = document.html
        if document.chart:
            html = html.replace(f'src="cid:{CHART_CID}"', f'src="{document.chart.url}"')
        response = HttpResponse(html)
        response["Content-Security-Policy"] = (
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
        )
        return response

    def save_model(self, request: HttpRequest, obj: Report, form: Any, change: bool) -> None:
        if change:
            raise PermissionDenied
        report = report_schedule(
            kind=obj.kind,
            consortium=obj.consortium,
            period_start=obj.period_start,
            period_end=obj.period_end,
            user=request.user,
        )
        obj.pk = report.pk
        self._enqueue(request, [report.pk])

    def _enqueue(self, request: HttpRequest, report_ids: list[int]) -> None:
        """Hand the reports to the queue once the request's changes are committed, and say
        whether the queue took them."""

        def hand_over() -> None:
            # Stop at the first refusal: the dispatcher hands the others over with it later.
            if all(tasks.enqueue_report(pk) for pk in report_ids):
                self.message_user(
                    request,
                    ngettext(
                        "%(count)s report is on its way to its recipients.",
                        "%(count)s reports are on their way to their recipients.",
                        len(report_ids),
                    )
                    % {"count": len(report_ids)},
                    messages.SUCCESS,
                )
            else:
                self.message_user(request, QUEUE_DOWN, messages.WARNING)

        transaction.on_commit(hand_over)

    @admin.action(description=_("Send the selected reports now"))
    def send_now(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        """Recipients without the report get it; those who have it are not mailed again."""
        reports = list(queryset)
        for report in reports:
            report_resend(report=report, user=request.user)
        self._enqueue(request, [report.pk for report in reports])

    @admin.action(description=_("Regenerate the selected reports from today's data"))
    def regenerate(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        run_service(
            self,
            request,
            queryset.select_related("consortium"),
            lambda report: report_generate(**report.key, user=request.user),
            lambda n: (
                ngettext("%(count)s report regenerated.", "%(count)s reports regenerated.", n)
                % {"count": n}
            ),
        )


@admin.register(ReportRecipient)
class ReportRecipientAdmin(ScopedModelAdmin):
    list_display = [
        "email",
        "name",
        "consortium",
        "language",
        "progress_report",
        "jobs_report",
        "is_active",
    ]
    list_filter = ["consortium", "language", "is_active"]
    search_fields = ["email", "name"]
    list_select_related = ["consortium"]
    fields = [
        "consortium",
        "email",
        "name",
        "language",
        "progress_report",
        "jobs_report",
        "is_active",
    ]
    deletable = True  # An address, not a financial row: its history keeps who removed it.
