"""The emails the reporting app sends: a report to one recipient, a digest of deadlines to one
partner user. Each is built in its recipient's language."""

from __future__ import annotations

import datetime
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.message import SafeMIMEText
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext

from consortium.tasks import SEND_ERRORS as SEND_ERRORS  # one list for every email the app sends

if TYPE_CHECKING:
    from reporting.models import ReminderDigest, ReportDelivery

# What sending may meet and is worth trying again: the SMTP server refusing, the network failing.
OPT_OUT_SALT = "reporting.reminders-opt-out"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _report_body(text: str, html: str, chart: bytes | None) -> MIMEBase:
    """multipart/related: the text and HTML alternatives, and the chart the HTML shows by its
    Content-ID, so that mail clients display it inline rather than as an attachment."""
    alternative = MIMEMultipart("alternative")
    alternative.attach(SafeMIMEText(text, "plain", "utf-8"))
    alternative.attach(SafeMIMEText(html, "html", "utf-8"))
    if chart is None:
        return alternative
    related = MIMEMultipart("related")
    related.attach(alternative)
    image = MIMEImage(chart, "png")
    image.add_header("Content-ID", "<chart>")
    image.add_header("Content-Disposition", "inline", filename="chart.png")
    related.attach(image)
    return related


def report_message(delivery: ReportDelivery) -> EmailMessage:
    """The report in the recipient's language, with its XLSX and PDF attached."""
    report = delivery.report
    documents = report.documents.order_by("pk")
    # An address whose language the app no longer ships reads the first one generated.
    document = documents.filter(language=delivery.language).first() or documents.first()
    if document is None:
        raise ValueError(f"{report} has no document to send")
    with translation.override(delivery.language):
        subject = gettext("[%(acronym)s] %(kind)s, %(start)s – %(end)s") % {
            "acronym": report.consortium.acronym,
            "kind": report.get_kind_display(),
            "start": date_format(report.period_start, "SHORT_DATE_FORMAT"),
            "end": date_format(report.period_end, "SHORT_DATE_FORMAT"),
        }
    # An empty body: the text and HTML travel inside the multipart/related part below.
    message = EmailMessage(subject=subject, body="", to=[delivery.email])
    chart = document.chart.read() if document.chart else None
    if document.chart:
        document.chart.close()
    message.attach(_report_body(document.text, document.html, chart))
    for field, mimetype in ((document.pdf, "application/pdf"), (document.xlsx, XLSX)):
        with field.open("rb") as handle:
            message.attach(field.name.rsplit("/", 1)[-1], handle.read(), mimetype)
    message.extra_headers["Auto-Submitted"] = "auto-generated"
    return message


def opt_out_token(user_id: int) -> str:
    return signing.dumps(user_id, salt=OPT_OUT_SALT)


def opt_out_user_id(token: str) -> int | None:
    try:
        value = signing.loads(token, salt=OPT_OUT_SALT)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None


# The kinds of deadline a digest lists, in the order of its sections (`reporting/reminders.py`).
REMINDER_KINDS = ("deliverable", "milestone", "statement")


def _reminder_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item as the digest's templates read it: its kind (a deliverable when it names none),
    its dates as dates, and how late it is."""
    dates = {
        name: datetime.date.fromisoformat(item[key])
        for name, key in (("due", "due_date"), ("start", "start"), ("end", "end"))
        if item.get(key)
    }
    return {**item, "kind": item.get("kind", "deliverable"), "late": -item["days"], **dates}


def reminder_sections(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The digest's sections: the overdue deadlines first, then those due soon, each by kind."""
    read = [_reminder_item(item) for item in items]
    sections = []
    for overdue in (True, False):
        for kind in REMINDER_KINDS:
            chosen = [i for i in read if i["kind"] == kind and (i["days"] < 0) == overdue]
            if chosen:
                sections.append({"kind": kind, "overdue": overdue, "items": chosen})
    return sections


def reminder_message(digest: ReminderDigest) -> EmailMultiAlternatives:
    """The day's deadlines of the user's partner (deliverables, milestones, expense statements),
    overdue first, with a one-click opt-out."""
    opt_out = absolute(reverse("reminders-opt-out", args=[opt_out_token(digest.user_id)]))
    items = digest.items
    context = {
        "sections": reminder_sections(items),
        "opt_out": opt_out,
        "site": absolute("/"),
        "LANGUAGE_CODE": digest.language,
    }
    with translation.override(digest.language):
        subject = ngettext(
            "%(count)s deadline of your partner to watch",
            "%(count)s deadlines of your partner to watch",
            len(items),
        ) % {"count": len(items)}
        text = render_to_string("reporting/reminder_digest.txt", context)
        html = render_to_string("reporting/reminder_digest.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[digest.email])
    message.attach_alternative(html, "text/html")
    message.extra_headers.update(
        {
            "Auto-Submitted": "auto-generated",
            "List-Unsubscribe": f"<{opt_out}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    )
    return message


# The daily digest of workflow notifications (reporting/notifications.py) ------------------------


def _notification_link(item: dict[str, Any]) -> str:
    """Where the reader looks at what an item is about: the partner pages for a partner's team,
    the admin for coordinators."""
    from django.urls import NoReverseMatch

    kind = item.get("kind")
    try:
        if kind == "changes_requested":
            return absolute(reverse("deliverable-detail", args=[item["deliverable"]]))
        if kind in {"expense_rejected", "expense_partly_accepted"}:
            return absolute(reverse("expense-list"))
        if kind == "statement_reopened":
            return absolute(reverse("expense-statement", args=[item["period"]]))
        if kind == "deliverable_submitted":
            return absolute(
                reverse("admin:workpackages_deliverable_change", args=[item["deliverable"]])
            )
        if kind == "statement_submitted":
            query = f"?partner__id__exact={item['partner_id']}&period__id__exact={item['period']}"
            return absolute(reverse("admin:workpackages_expense_changelist") + query)
    except (KeyError, NoReverseMatch):
        pass
    return absolute("/")


def _notification_entry(item: dict[str, Any]) -> dict[str, Any]:
    """An item with its dates and amounts written the reader's way (call in their language)."""
    from decimal import Decimal

    from django.utils.formats import number_format

    def day(value: str | None) -> str:
        return date_format(datetime.date.fromisoformat(value), "SHORT_DATE_FORMAT") if value else ""

    def money(value: str | None) -> str:
        if value is None:
            return ""
        return number_format(Decimal(value), 2, use_l10n=True, force_grouping=True)

    return {
        **item,
        "link": _notification_link(item),
        "incurred": day(item.get("incurred_on")),
        "start": day(item.get("period_start")),
        "end": day(item.get("period_end")),
        "amount_shown": money(item.get("amount")),
        "accepted_shown": money(item.get("accepted_amount")),
        "total_shown": money(item.get("total")),
    }


def notification_message(digest: Any, *, items: list[dict[str, Any]]) -> EmailMultiAlternatives:
    """The day's notifications of one person, grouped by kind, in the reader's language, with
    the page where they choose what they receive and a one-click link that stops them all."""
    from consortium.models import NotificationKind
    from consortium.notifications import opt_out_token as notifications_token

    opt_out = absolute(reverse("notifications-opt-out", args=[notifications_token(digest.user_id)]))
    with translation.override(digest.language):
        groups = []
        for kind, label in NotificationKind.choices:
            entries = [_notification_entry(item) for item in items if item.get("kind") == kind]
            if entries:
                groups.append({"kind": kind, "label": str(label), "items": entries})
        context = {
            "groups": groups,
            "settings_url": absolute(reverse("notification-settings")),
            "opt_out": opt_out,
            "site": absolute("/"),
            "LANGUAGE_CODE": digest.language,
        }
        subject = ngettext(
            "%(count)s update on your consortium's work today",
            "%(count)s updates on your consortium's work today",
            len(items),
        ) % {"count": len(items)}
        text = render_to_string("reporting/notification_digest.txt", context)
        html = render_to_string("reporting/notification_digest.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[digest.email])
    message.attach_alternative(html, "text/html")
    message.extra_headers.update(
        {
            "Auto-Submitted": "auto-generated",
            "Content-Language": digest.language,
            "List-Unsubscribe": f"<{opt_out}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    )
    return message
