"""The work plan: workpackages, their participants, deliverables (with submissions and reviews), milestones."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from consortium.models import Consortium, Partner
from consortium.querysets import ScopedQuerySet
from workpackages.base import ConsortiumOwned
from workpackages.uploads import validate_sent_name
from workpackages.validators import (
    validate_deliverable_extension,
    validate_document_content,
    validate_upload_size,
)
from workpackages.workplan import choices
from workpackages.workplan.choices import DeliverableStatus


class Workpackage(ConsortiumOwned):
    """A workpackage (WP1…): in this partnership, a funded collaborative project with its own partners."""

    consortium = models.ForeignKey(
        Consortium,
        verbose_name=_("consortium"),
        on_delete=models.PROTECT,
        related_name="workpackages",
    )
    number = models.PositiveSmallIntegerField(_("number"), validators=[MinValueValidator(1)])
    title = models.CharField(_("title"), max_length=200)
    objectives = models.TextField(_("objectives"), blank=True)
    lead_partner = models.ForeignKey(
        Partner,
        verbose_name=_("lead partner"),
        on_delete=models.PROTECT,
        related_name="led_workpackages",
    )
    start_month = models.PositiveSmallIntegerField(
        _("start month"), validators=[MinValueValidator(1)]
    )
    end_month = models.PositiveSmallIntegerField(_("end month"), validators=[MinValueValidator(1)])
    participants: models.ManyToManyField[Partner, WorkpackageParticipant] = models.ManyToManyField(
        Partner,
        through="WorkpackageParticipant",
        verbose_name=_("participants"),
        related_name="workpackages",
    )

    objects = ScopedQuerySet.as_manager()
    history = HistoricalRecords(m2m_fields=[])

    same_consortium_fields = ("lead_partner",)

    class Meta:
        verbose_name = _("workpackage")
        verbose_name_plural = _("workpackages")
        ordering = ["consortium_id", "number"]
        constraints = [
            # Lets PostgreSQL check with composite foreign keys that related rows share the consortium.
            models.UniqueConstraint(fields=["id", "consortium"], name="workpackage_id_consortium"),
            models.UniqueConstraint(
                fields=["consortium", "number"],
                name="workpackage_unique_number",
                violation_error_message=_(
                    "This consortium already has a workpackage with this number."
                ),
            ),
            models.CheckConstraint(
                condition=Q(start_month__gte=1) & Q(end_month__gte=F("start_month")),
                name="workpackage_months_ordered",
                violation_error_message=_("A workpackage ends in or after its start month."),
            ),
        ]

    def __str__(self) -> str:
        return f"WP{self.number} {self.title}"

    @property
    def code(self) -> str:
        return f"WP{self.number}"

    def clean(self) -> None:
        super().clean()
        if self.consortium_id:
            self.consortium.validate_month(self.start_month, "start_month")
            self.consortium.validate_month(self.end_month, "end_month")


class WorkpackageParticipant(ConsortiumOwned):
    """A partner taking part in a workpackage, with the person-months it planned there."""

    workpackage = models.ForeignKey(
        Workpackage,
        verbose_name=_("workpackage"),
        on_delete=models.PROTECT,
        related_name="participations",
    )
    partner = models.ForeignKey(
        Partner,
        verbose_name=_("partner"),
        on_delete=models.PROTECT,
        related_name="participations",
    )
    planned_person_months = models.DecimalField(
        _("planned person-months"), max_digits=7, decimal_places=2, default=0
    )

    objects = ScopedQuerySet.as_manager()
    history = HistoricalRecords()

    consortium_source = "workpackage"
    same_consortium_fields = ("partner",)

    class Meta:
        verbose_name = _("workpackage participant")
        verbose_name_plural = _("workpackage participants")
        ordering = ["workpackage", "partner"]
        constraints = [
            models.UniqueConstraint(
                fields=["workpackage", "partner"],
                name="participant_unique_partner",
                violation_error_message=_("This partner already takes part in this workpackage."),
            ),
            models.CheckConstraint(
                condition=Q(planned_person_months__gte=0),
                name="participant_person_months_not_negative",
                violation_error_message=_("Person-months cannot be negative."),
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(partner)s in %(workpackage)s") % {
            "partner": self.partner,
            "workpackage": self.workpackage.code,
        }


class DueItem(ConsortiumOwned):
    """Something due at the end of a project month, whose date follows from the consortium's start."""

    due_month = models.PositiveSmallIntegerField(_("due month"), validators=[MinValueValidator(1)])
    due_date = models.DateField(_("due date"), editable=False, db_index=True)
    # The delay note of an open item past its due date (`delay_note_set`): when it is now
    # expected, and why it is late; the reports show it beside the lateness.
    expected_on = models.DateField(_("now expected on"), null=True, blank=True)
    delay_reason = models.TextField(_("reason for the delay"), blank=True)

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        if self.consortium_id and self.due_month:
            self.consortium.validate_month(self.due_month, "due_month")
            self.due_date = self.consortium.month_due_date(self.due_month)


# A deliverable is delivered once submitted or approved; until then (sent back included) it is
# open: its lead partner may still send a version, and it is late once its due date has passed.
DELIVERED = (DeliverableStatus.SUBMITTED, DeliverableStatus.APPROVED)
OPEN_DELIVERABLE = frozenset(DeliverableStatus) - frozenset(DELIVERED)


def open_deliverable(prefix: str = "") -> Q:
    """Deliverables not delivered yet; `prefix` reaches them through a relation."""
    return ~Q(**{f"{prefix}status__in": DELIVERED})


def overdue_deliverable(today: datetime.date, prefix: str = "") -> Q:
    """Open deliverables whose due date has passed."""
    return open_deliverable(prefix) & Q(**{f"{prefix}due_date__lt": today})


def late_deliverable(today: datetime.date, prefix: str = "") -> Q:
    """Late, as the dashboard, the progress report and the funder's pages count it: open past
    its due date (sent back for changes included), or first sent after its due date."""
    return overdue_deliverable(today, prefix) | Q(
        **{f"{prefix}first_submitted_at__date__gt": F(f"{prefix}due_date")}
    )


def sent_on_time_deliverable(today: datetime.date, prefix: str = "") -> Q:
    """Submitted or approved, first sent by its due date."""
    return ~open_deliverable(prefix) & ~late_deliverable(today, prefix)


def not_yet_due_deliverable(today: datetime.date, prefix: str = "") -> Q:
    """Open and not due yet (a version sent back for changes before its date included)."""
    return (
        open_deliverable(prefix)
        & Q(**{f"{prefix}due_date__gte": today})
        & ~late_deliverable(today, prefix)
    )


def overdue_milestone(today: datetime.date, prefix: str = "") -> Q:
    """Pending milestones whose due date has passed."""
    pending = choices.MilestoneStatus.PENDING
    return Q(**{f"{prefix}status": pending, f"{prefix}due_date__lt": today})


def due_soon_deliverable(today: datetime.date, days: int = 30, prefix: str = "") -> Q:
    """Open deliverables due from today to `days` ahead."""
    window = {
        f"{prefix}due_date__gte": today,
        f"{prefix}due_date__lte": today + datetime.timedelta(days=days),
    }
    return open_deliverable(prefix) & Q(**window)


class DeliverableQuerySet(ScopedQuerySet):
    # The lead partner's people send its versions; reviewing stays with the coordinators.
    owner_path = "lead_partner"

    def overdue(self, today: datetime.date | None = None) -> DeliverableQuerySet:
        """Due before today and neither submitted nor approved."""
        return self.filter(overdue_deliverable(today or timezone.localdate()))

    def due_soon(self, today: datetime.date | None = None, days: int = 30) -> DeliverableQuerySet:
        return self.filter(due_soon_deliverable(today or timezone.localdate(), days))


class Deliverable(DueItem):
    """A deliverable `D<wp>.<n>`: what a partner owes the funder by a project month."""

    workpackage = models.ForeignKey(
        Workpackage,
        verbose_name=_("workpackage"),
        on_delete=models.PROTECT,
        related_name="deliverables",
    )
    number = models.PositiveSmallIntegerField(
        _("number in the workpackage"), validators=[MinValueValidator(1)]
    )
    title = models.CharField(_("title"), max_length=250)
    description = models.TextField(_("description"), blank=True)
    lead_partner = models.ForeignKey(
        Partner,
        verbose_name=_("lead partner"),
        on_delete=models.PROTECT,
        related_name="led_deliverables",
    )
    type = models.CharField(_("type"), max_length=10, choices=choices.DeliverableType.choices)
    dissemination = models.CharField(
        _("dissemination level"), max_length=10, choices=choices.Dissemination.choices
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=choices.DeliverableStatus.choices,
        default=choices.DeliverableStatus.PLANNED,
        db_index=True,
    )
    first_submitted_at = models.DateTimeField(_("first submitted at"), null=True, blank=True)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    late_justification = models.TextField(
        _("late justification"),
        blank=True,
        help_text=_("Required when the deliverable is submitted after its due date."),
    )

    objects = DeliverableQuerySet.as_manager()
    history = HistoricalRecords()

    consortium_source = "workpackage"
    same_consortium_fields = ("lead_partner",)

    class Meta:
        verbose_name = _("deliverable")
        verbose_name_plural = _("deliverables")
        ordering = ["consortium_id", "workpackage__number", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["workpackage", "number"],
                name="deliverable_unique_number",
                violation_error_message=_(
                    "This workpackage already has a deliverable with this number."
                ),
            ),
            models.CheckConstraint(
                condition=Q(due_month__gte=1),
                name="deliverable_due_month_positive",
                violation_error_message=_("The due month starts at 1."),
            ),
        ]
        indexes = [models.Index(fields=["consortium", "status", "due_date"])]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    @property
    def code(self) -> str:
        return f"D{self.workpackage.number}.{self.number}"

    def days_late(self, today: datetime.date | None = None) -> int:
        """Days past the due date: until today while the deliverable is open (never sent, or sent
        back for changes), until its first submission once it is submitted or approved."""
        done = self.status in DELIVERED
        if done and self.first_submitted_at is not None:
            reference = timezone.localdate(self.first_submitted_at)
        else:
            reference = today or timezone.localdate()
        return max((reference - self.due_date).days, 0)


class DeliverableSubmission(models.Model):
    """One version of a deliverable sent by its lead partner for review."""

    deliverable = models.ForeignKey(
        Deliverable,
        verbose_name=_("deliverable"),
        on_delete=models.PROTECT,
        related_name="submissions",
    )
    version = models.PositiveSmallIntegerField(_("version"))
    file = models.FileField(
        _("file"),
        upload_to="deliverables/%Y/%m/",
        max_length=255,
        validators=[
            validate_sent_name,
            validate_deliverable_extension,
            validate_upload_size,
            validate_document_content,
        ],
    )
    note = models.TextField(_("note"), blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("submitted by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("submitted at"), default=timezone.now)

    class Meta:
        verbose_name = _("deliverable submission")
        verbose_name_plural = _("deliverable submissions")
        ordering = ["deliverable", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["deliverable", "version"],
                name="submission_unique_version",
                violation_error_message=_("This version already exists."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.deliverable.code} v{self.version}"


class DeliverableReview(models.Model):
    """A coordinator's decision on a submitted deliverable."""

    deliverable = models.ForeignKey(
        Deliverable,
        verbose_name=_("deliverable"),
        on_delete=models.PROTECT,
        related_name="reviews",
    )
    submission = models.ForeignKey(
        DeliverableSubmission,
        verbose_name=_("submission"),
        on_delete=models.PROTECT,
        null=True,
        related_name="reviews",
    )
    decision = models.CharField(
        _("decision"), max_length=20, choices=choices.ReviewDecision.choices
    )
    comment = models.TextField(_("comment"), blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewer"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), default=timezone.now)

    class Meta:
        verbose_name = _("deliverable review")
        verbose_name_plural = _("deliverable reviews")
        ordering = ["deliverable", "-reviewed_at"]

    def __str__(self) -> str:
        return f"{self.deliverable.code}: {self.get_decision_display()}"


class Milestone(DueItem):
    """A milestone `MS<n>`, numbered across the consortium, with how we will know it is reached."""

    number = models.PositiveSmallIntegerField(_("number"), validators=[MinValueValidator(1)])
    title = models.CharField(_("title"), max_length=250)
    workpackages = models.ManyToManyField(
        Workpackage, verbose_name=_("related workpackages"), related_name="milestones"
    )
    lead_partner = models.ForeignKey(
        Partner,
        verbose_name=_("lead partner"),
        on_delete=models.PROTECT,
        related_name="led_milestones",
    )
    means_of_verification = models.TextField(_("means of verification"))
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=choices.MilestoneStatus.choices,
        default=choices.MilestoneStatus.PENDING,
        db_index=True,
    )
    achieved_on = models.DateField(_("achieved on"), null=True, blank=True)
    evidence = models.TextField(
        _("evidence, or why it was missed"),
        blank=True,
        help_text=_("How the means of verification were met, or the reason it was missed."),
    )

    objects = ScopedQuerySet.as_manager()
    history = HistoricalRecords(m2m_fields=[workpackages])

    consortium_source = "lead_partner"
    same_consortium_fields = ("lead_partner",)

    class Meta:
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
        ordering = ["consortium_id", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["consortium", "number"],
                name="milestone_unique_number",
                violation_error_message=_(
                    "This consortium already has a milestone with this number."
                ),
            ),
            models.CheckConstraint(
                condition=Q(status="achieved", achieved_on__isnull=False)
                | (~Q(status="achieved") & Q(achieved_on__isnull=True)),
                name="milestone_achieved_has_date",
                violation_error_message=_(
                    "An achieved milestone has its achievement date, and only then."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    @property
    def code(self) -> str:
        return f"MS{self.number}"
