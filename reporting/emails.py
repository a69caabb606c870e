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


def reminder_message(digest: ReminderDigest) -> EmailMultiAlternatives:
    """The day's deadlines of the user's partner, overdue first, with a one-click opt-out."""
    opt_out = absolute(reverse("reminders-opt-out", args=[opt_out_token(digest.user_id)]))
    items: list[dict[str, Any]] = [
        {**item, "due": datetime.date.fromisoformat(item["due_date"]), "late": -item["days"]}
        for item in digest.items
    ]
    context = {
        "overdue": [item for item in items if item["days"] < 0],
        "coming": [item for item in items if item["days"] >= 0],
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
