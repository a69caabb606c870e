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

from consortium.adminkit import badge, run_service, status_badge
from consortium.permissions import ReadOnlyTabularInline, ScopedModelAdmin
from reporting import tasks
from reporting.choices import DeliveryStatus, ReportStatus
from reporting.models import (
    Report,
    ReportDelivery,
    ReportDocument,
    ReportRecipient,
    ReportSchedule,
)
from reporting.rendering import CHART_CID
from reporting.schedules import schedule_when
from reporting.services import report_generate, report_release, report_schedule

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


class ReviewFilter(admin.SimpleListFilter):
    """Reports waiting for a coordinator to read and send them, or sent."""

    title = _("review")
    parameter_name = "review"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("waiting", _("To review")), ("sent", _("Sent for delivery"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Report]) -> QuerySet[Report]:
        if self.value() == "waiting":
            return queryset.filter(released_at__isnull=True)
        if self.value() == "sent":
            return queryset.filter(released_at__isnull=False)
        return queryset


class ReportForm(forms.ModelForm):
    """A report asked for by hand: its kind, consortium and period; the rest is the tasks' work.
    It waits in the archive for a coordinator to read and send it, unless they tick "send"."""

    send_when_generated = forms.BooleanField(
        label=_("Send it to its recipients as soon as it is generated, without review"),
        required=False,
    )

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
    list_filter = [ReviewFilter, "kind", "status", "consortium"]
    date_hierarchy = "period_end"
    list_select_related = ["consortium"]
    inlines = [DeliveryInline]
    actions = ["send_now", "regenerate"]
    readonly_fields = [
        "status_display",
        "documents_display",
        "generated_at",
        "released_at",
        "released_by",
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
        if obj is None:
            return [*KEY_FIELDS, "send_when_generated"]
        return [*KEY_FIELDS, *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if obj is None else [*KEY_FIELDS, *self.readonly_fields]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The change page is for reading and for the actions; nothing on it is edited by hand.
        return False

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, obj: Report) -> str:
        if obj.is_draft and obj.status == ReportStatus.GENERATED:
            return badge(gettext("To review"), "amber")
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
            release=form.cleaned_data.get("send_when_generated", False),
        )
        obj.pk = report.pk
        self._enqueue(request, [report.pk], sent=report.released_at is not None)

    def _enqueue(
        self,
        request: HttpRequest,
        report_ids: list[int],
        *,
        sent: bool = True,
        announce: bool = True,
    ) -> None:
        """Hand the reports to the queue once the request's changes are committed, and say
        whether the queue took them."""

        def hand_over() -> None:
            # Stop at the first refusal: the dispatcher hands the others over with it later.
            if all(tasks.enqueue_report(pk) for pk in report_ids):
                if not announce:
                    return
                if sent:
                    message = ngettext(
                        "%(count)s report is on its way to its recipients.",
                        "%(count)s reports are on their way to their recipients.",
                        len(report_ids),
                    )
                else:
                    message = ngettext(
                        "%(count)s report is being generated: read it here, then send it.",
                        "%(count)s reports are being generated: read them here, then send them.",
                        len(report_ids),
                    )
                self.message_user(request, message % {"count": len(report_ids)}, messages.SUCCESS)
            else:
                self.message_user(request, QUEUE_DOWN, messages.WARNING)

        transaction.on_commit(hand_over)

    @admin.action(description=_("Send the selected reports to their recipients"))
    def send_now(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        """A draft a coordinator has read goes to its recipients; a report sent already goes to
        those who have not had it yet. Nobody is mailed twice."""
        sent = []

        def send(report: Report) -> Report:
            report_release(report=report, user=request.user)
            sent.append(report.pk)
            return report

        run_service(
            self,
            request,
            queryset,
            send,
            lambda n: (
                ngettext(
                    "%(count)s report is on its way to its recipients.",
                    "%(count)s reports are on their way to their recipients.",
                    n,
                )
                % {"count": n}
            ),
        )
        if sent:
            self._enqueue(request, sent, announce=False)

    @admin.action(description=_("Regenerate the selected reports"))
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


@admin.register(ReportSchedule)
class ReportScheduleAdmin(ScopedModelAdmin):
    """Each consortium's reports: which it receives, and whether a coordinator reads each one
    before it goes. Every consortium has one of each kind; coordinators change theirs."""

    # "When" reads the installation's firings: on the change page, not once per row here.
    list_display = ["consortium", "kind", "enabled", "review_first", "days_after_period_end"]
    list_filter = ["consortium", "kind", "enabled", "review_first"]
    list_select_related = ["consortium"]
    fields = ["consortium", "kind", "enabled", "review_first", "days_after_period_end"]
    deletable = False  # Untick "enabled" instead: every consortium has one of each kind.

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["consortium", "kind", "when_display"] if obj else ["when_display"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*self.fields, "when_display"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # Created with the consortium, one of each kind.

    @admin.display(description=_("when"))
    def when_display(self, obj: ReportSchedule) -> str:
        return schedule_when(obj)


@admin.register(ReportRecipient)
class ReportRecipientAdmin(ScopedModelAdmin):
    list_display = [
        "email",
        "name",
        "consortium",
        "language",
        "progress_report",
        "jobs_report",
        "semester_report",
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
        "semester_report",
        "is_active",
    ]
    deletable = True  # An address, not a financial row: its history keeps who removed it.
