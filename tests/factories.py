"""Factories that save through `full_clean()`, so a factory-made row passed the same validation as
a row entered in production. Pass the parent a row hangs from (the workpackage, the partner, the
budget line): the consortium and the other derived fields follow from it."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db.models import Max, Model
from django.utils import timezone

from consortium import choices as consortium_choices
from consortium.accounts import api_token_issue, user_email_set
from consortium.invitations import membership_invite
from consortium.models import (
    ApiToken,
    Consortium,
    ConsortiumRole,
    CostCategory,
    EmailAddressChange,
    IntegrationToken,
    Invitation,
    Membership,
    Notification,
    NotificationDigest,
    NotificationKind,
    Organisation,
    Partner,
    Profile,
    ReportingPeriod,
    SecondFactorChange,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from consortium.records import record_delete
from consortium.services import (
    consortium_role_grant,
    cost_categories_seed,
    integration_token_issue,
    membership_grant,
    reporting_periods_generate,
)
from consortium.webhooks import webhook_subscribe
from reporting.choices import ReportKind
from reporting.models import (
    Heartbeat,
    ReminderDigest,
    Report,
    ReportDelivery,
    ReportDocument,
    ReportRecipient,
    ReportSchedule,
)
from reporting.reminders import reminders_plan
from reporting.services import report_generate, report_schedule
from workpackages.jobs.choices import ContractType, JobCategory, JobImpact, JobStatus
from workpackages.jobs.models import JobRecord
from workpackages.jobs.services import job_realise
from workpackages.money.models import BudgetLine, Effort, Expense, Statement
from workpackages.money.services import statement_submit
from workpackages.overview.changes import Tombstone
from workpackages.workplan.choices import DeliverableType, Dissemination
from workpackages.workplan.models import (
    Deliverable,
    DeliverableReview,
    DeliverableSubmission,
    Milestone,
    Workpackage,
    WorkpackageParticipant,
)
from workpackages.workplan.services import (
    deliverable_approve,
    deliverable_request_changes,
    deliverable_submit,
)

PASSWORD = "correct-horse-battery"  # noqa: S105  (every test user logs in with it)


def enterprise_number(n: int) -> str:
    """A valid Belgian enterprise number, different for each `n` (below a million)."""
    first8 = f"09{n:06d}"
    return f"{first8}{97 - int(first8) % 97:02d}"


def next_number(queryset: Any) -> int:
    """The first free number after the highest one used in `queryset`."""
    return (queryset.aggregate(last=Max("number"))["last"] or 0) + 1


class ValidatedModelFactory(factory.django.DjangoModelFactory):
    """Creates rows the way services do: model validation first, then save."""

    class Meta:
        abstract = True
        skip_postgeneration_save = True

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        instance = model_class(*args, **kwargs)
        # `full_clean()`, except that a relation given as a saved row (as the factories give them)
        # is not looked up again to see whether it exists: one query per relation per row, for
        # thousands of rows. Everything else is validated as `full_clean()` does.
        given = {
            field.name
            for field in instance._meta.concrete_fields
            if field.is_relation
            and isinstance(kwargs.get(field.name), Model)
            and kwargs[field.name].pk is not None
        }
        errors: dict[str, Any] = {}
        for step in (lambda: instance.clean_fields(exclude=given), instance.clean):
            try:
                step()
            except ValidationError as error:
                errors = error.update_error_dict(errors)
        for step in (instance.validate_unique, instance.validate_constraints):
            try:
                step(exclude=set(errors))
            except ValidationError as error:
                errors = error.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)
        instance.save()
        return instance


class UserFactory(factory.django.DjangoModelFactory):
    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password(PASSWORD)

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True


class OrganisationFactory(ValidatedModelFactory):
    legal_name = factory.Sequence(lambda n: f"Organisation {n} SA")
    short_name = factory.Sequence(lambda n: f"Org{n}")
    kind = consortium_choices.OrganisationKind.SME
    enterprise_number = factory.Sequence(enterprise_number)
    city = "Namur"

    class Meta:
        model = Organisation


class ConsortiumFactory(ValidatedModelFactory):
    """A 36-month consortium with its six reporting periods and the Walloon cost headings."""

    name = factory.Sequence(lambda n: f"Partnership {n}")
    acronym = factory.Sequence(lambda n: f"PIT{n}")
    funder = "SPW Économie Emploi Recherche"
    start_date = datetime.date(2024, 1, 1)
    end_date = datetime.date(2026, 12, 31)
    total_budget = Decimal("81000000.00")
    public_funding_share = Decimal("60.00")
    direct_jobs_target = 470
    indirect_jobs_target = 1200

    class Meta:
        model = Consortium

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Consortium:
        consortium = super()._create(model_class, *args, **kwargs)
        reporting_periods_generate(consortium=consortium)
        cost_categories_seed(consortium=consortium)
        return consortium


class PartnerFactory(ValidatedModelFactory):
    consortium = factory.SubFactory(ConsortiumFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    number = factory.LazyAttribute(lambda o: next_number(o.consortium.partners))
    role = consortium_choices.PartnerRole.BENEFICIARY
    default_funding_rate = Decimal("50.00")
    joined_on = factory.SelfAttribute("consortium.start_date")

    class Meta:
        model = Partner


class MembershipFactory(ValidatedModelFactory):
    user = factory.SubFactory(UserFactory)
    partner = factory.SubFactory(PartnerFactory)
    role = consortium_choices.MembershipRole.CONTACT

    class Meta:
        model = Membership


class ConsortiumRoleFactory(ValidatedModelFactory):
    user = factory.SubFactory(UserFactory)
    consortium = factory.SubFactory(ConsortiumFactory)
    kind = consortium_choices.ConsortiumRoleKind.COORDINATOR

    class Meta:
        model = ConsortiumRole


class WorkpackageFactory(ValidatedModelFactory):
    consortium = factory.SubFactory(ConsortiumFactory)
    number = factory.LazyAttribute(lambda o: next_number(o.consortium.workpackages))
    title = factory.Sequence(lambda n: f"Cell-therapy process {n}")
    lead_partner = factory.SubFactory(
        PartnerFactory, consortium=factory.SelfAttribute("..consortium")
    )
    start_month = 1
    end_month = factory.LazyAttribute(lambda o: o.consortium.duration_months)

    class Meta:
        model = Workpackage


class WorkpackageParticipantFactory(ValidatedModelFactory):
    workpackage = factory.SubFactory(WorkpackageFactory)
    consortium = factory.SelfAttribute("workpackage.consortium")
    partner = factory.SubFactory(
        PartnerFactory, consortium=factory.SelfAttribute("..workpackage.consortium")
    )
    planned_person_months = Decimal("12.00")

    class Meta:
        model = WorkpackageParticipant


class DeliverableFactory(ValidatedModelFactory):
    workpackage = factory.SubFactory(WorkpackageFactory)
    consortium = factory.SelfAttribute("workpackage.consortium")
    number = factory.LazyAttribute(lambda o: next_number(o.workpackage.deliverables))
    title = factory.Sequence(lambda n: f"Process validation report {n}")
    lead_partner = factory.SelfAttribute("workpackage.lead_partner")
    type = DeliverableType.R
    dissemination = Dissemination.PU
    due_month = 12
    due_date = factory.LazyAttribute(lambda o: o.consortium.month_due_date(o.due_month))

    class Meta:
        model = Deliverable


class MilestoneFactory(ValidatedModelFactory):
    lead_partner = factory.SubFactory(PartnerFactory)
    consortium = factory.SelfAttribute("lead_partner.consortium")
    number = factory.LazyAttribute(
        lambda o: next_number(Milestone.objects.filter(consortium=o.consortium))
    )
    title = factory.Sequence(lambda n: f"GMP batch released {n}")
    means_of_verification = "Batch record signed by the qualified person."
    due_month = 18
    due_date = factory.LazyAttribute(lambda o: o.consortium.month_due_date(o.due_month))

    class Meta:
        model = Milestone

    @factory.post_generation
    def workpackages(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.workpackages.set(extracted)


class PartnerOwnedFactory(ValidatedModelFactory):
    """A row private to a partner, in a workpackage of the partner's consortium; the partner takes
    part in that workpackage (money and effort go nowhere else)."""

    partner = factory.SubFactory(PartnerFactory)
    consortium = factory.SelfAttribute("partner.consortium")
    workpackage = factory.SubFactory(
        WorkpackageFactory,
        consortium=factory.SelfAttribute("..partner.consortium"),
        lead_partner=factory.SelfAttribute("..partner"),
    )

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        partner, workpackage = kwargs.get("partner"), kwargs.get("workpackage")
        # Across consortia, the row's own validation says what is wrong.
        if (
            partner is not None
            and workpackage is not None
            and partner.consortium_id == workpackage.consortium_id
        ):
            WorkpackageParticipant.objects.get_or_create(partner=partner, workpackage=workpackage)
        return super()._create(model_class, *args, **kwargs)


class BudgetLineFactory(PartnerOwnedFactory):
    category = factory.LazyAttribute(
        lambda o: CostCategory.objects.get(consortium=o.consortium, code=o.heading)
    )
    planned_amount = Decimal("100000.00")

    class Meta:
        model = BudgetLine

    class Params:
        heading = "personnel"


class ExpenseFactory(ValidatedModelFactory):
    """A draft expense on `line`, dated in the consortium's first reporting period."""

    partner = factory.SelfAttribute("line.partner")
    consortium = factory.SelfAttribute("line.consortium")
    workpackage = factory.SelfAttribute("line.workpackage")
    category = factory.SelfAttribute("line.category")
    period = factory.LazyAttribute(lambda o: o.consortium.periods.get(number=o.period_number))
    incurred_on = factory.LazyAttribute(lambda o: o.period.start_date + datetime.timedelta(days=14))
    amount = Decimal("1200.00")
    description = factory.Sequence(lambda n: f"Culture media, order {n}")
    invoice_reference = factory.Sequence(lambda n: f"INV-{n:05d}")

    class Meta:
        model = Expense

    class Params:
        line = factory.SubFactory(BudgetLineFactory)
        period_number = 1


class EffortFactory(PartnerOwnedFactory):
    period = factory.LazyAttribute(lambda o: o.consortium.periods.get(number=o.period_number))
    planned_person_months = Decimal("6.00")

    class Meta:
        model = Effort

    class Params:
        period_number = 1


class JobRecordFactory(ValidatedModelFactory):
    partner = factory.SubFactory(PartnerFactory)
    consortium = factory.SelfAttribute("partner.consortium")
    workpackage = None
    position_title = factory.Sequence(lambda n: f"QC analyst {n}")
    category = JobCategory.QUALITY
    contract_type = ContractType.PERMANENT
    fte = Decimal("1.00")
    start_date = factory.LazyAttribute(
        lambda o: o.consortium.start_date + datetime.timedelta(days=90)
    )
    impact = JobImpact.DIRECT
    status = JobStatus.FORECAST

    class Meta:
        model = JobRecord


# Rows a service makes -----------------------------------------------------------------------------
# These rows come from a step of a workflow (a submission, a review, a statement, a report); their
# factories take that step through its service, as a user would, and answer the row it made.


class ServiceMadeFactory(factory.Factory):
    """Declares the arguments of a service; `made` calls it and answers the row it made."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        # Each subclass's `made(**its declarations)` calls the service.
        return cls.made(**kwargs)

    @classmethod
    def _build(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{model_class.__name__} rows are made by a service: create one")


def coordinator_of(consortium: Consortium) -> Any:
    """A new coordinator of `consortium`, granted as in production."""
    user = UserFactory()
    consortium_role_grant(
        consortium=consortium,
        user=user,
        kind=consortium_choices.ConsortiumRoleKind.COORDINATOR,
        granted_by=None,
    )
    return user


def member_of(partner: Partner, role: str = consortium_choices.MembershipRole.CONTACT) -> Any:
    """A new person of `partner`'s team, granted as in production."""
    user = UserFactory()
    membership_grant(partner=partner, user=user, role=role, granted_by=None)
    return user


class ProfileFactory(ValidatedModelFactory):
    user = factory.SubFactory(UserFactory)
    language = "fr"

    class Meta:
        model = Profile


class CostCategoryFactory(ValidatedModelFactory):
    """A heading of the consortium's own, beside the Walloon ones every consortium is seeded with."""

    consortium = factory.SubFactory(ConsortiumFactory)
    code = factory.Sequence(lambda n: f"heading-{n}")
    name = factory.Sequence(lambda n: f"Heading {n}")
    position = factory.Sequence(lambda n: 100 + n)

    class Meta:
        model = CostCategory


class ReportingPeriodFactory(ServiceMadeFactory):
    """A reporting period: the consortium's dates generate them, this answers the n-th."""

    consortium = factory.SubFactory(ConsortiumFactory)
    number = 1

    class Meta:
        model = ReportingPeriod

    @classmethod
    def made(cls, *, consortium: Consortium, number: int) -> ReportingPeriod:
        return consortium.periods.get(number=number)


class InvitationFactory(ServiceMadeFactory):
    """An invitation to a partner's team, sent by one of its contacts."""

    partner = factory.SubFactory(PartnerFactory)
    email = factory.Sequence(lambda n: f"invited{n}@example.org")
    role = consortium_choices.MembershipRole.CONTRIBUTOR

    class Meta:
        model = Invitation

    @classmethod
    def made(cls, *, partner: Partner, email: str, role: str) -> Invitation:
        return membership_invite(
            partner=partner, email=email, role=role, invited_by=member_of(partner)
        )


class EmailAddressChangeFactory(ServiceMadeFactory):
    """A person's address changed by a superuser, recorded as every change of address is."""

    user = factory.SubFactory(UserFactory)
    new_email = factory.Sequence(lambda n: f"new{n}@example.org")

    class Meta:
        model = EmailAddressChange

    @classmethod
    def made(cls, *, user: Any, new_email: str) -> EmailAddressChange:
        root = UserFactory(is_superuser=True, is_staff=True)
        return user_email_set(user=user, email=new_email, changed_by=root)


class ApiTokenFactory(ServiceMadeFactory):
    user = factory.SubFactory(UserFactory)

    class Meta:
        model = ApiToken

    @classmethod
    def made(cls, *, user: Any) -> ApiToken:
        return api_token_issue(user=user)


class IntegrationTokenFactory(ServiceMadeFactory):
    """A token a person created for one of their integrations (its secret is not kept)."""

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Integration {n}")
    expires_in_days = 90
    read_only = False

    class Meta:
        model = IntegrationToken

    @classmethod
    def made(
        cls, *, user: Any, name: str, expires_in_days: int, read_only: bool
    ) -> IntegrationToken:
        token, _secret = integration_token_issue(
            user=user, name=name, expires_in_days=expires_in_days, read_only=read_only
        )
        return token


# A PDF the upload checks accept.
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


class DeliverableSubmissionFactory(ServiceMadeFactory):
    """A version of a deliverable, sent by a person of its lead partner before its due date."""

    deliverable = factory.SubFactory(DeliverableFactory)
    note = ""

    class Meta:
        model = DeliverableSubmission

    @classmethod
    def made(cls, *, deliverable: Deliverable, note: str) -> DeliverableSubmission:
        return deliverable_submit(
            deliverable=deliverable,
            user=member_of(deliverable.lead_partner),
            file=ContentFile(PDF, name="deliverable.pdf"),
            note=note,
            now=timezone.make_aware(
                datetime.datetime.combine(deliverable.consortium.start_date, datetime.time(10))
            ),
        )


class DeliverableReviewFactory(ServiceMadeFactory):
    """A coordinator's review of a submitted version: approved unless `approve=False`."""

    submission = factory.SubFactory(DeliverableSubmissionFactory)
    approve = True
    comment = "Thank you."

    class Meta:
        model = DeliverableReview

    @classmethod
    def made(cls, *, submission: DeliverableSubmission, approve: bool, comment: str) -> Any:
        deliverable = submission.deliverable
        reviewer = coordinator_of(deliverable.consortium)
        if approve:
            deliverable_approve(deliverable=deliverable, user=reviewer)
        else:
            deliverable_request_changes(deliverable=deliverable, user=reviewer, comment=comment)
        return deliverable.reviews.latest("reviewed_at")


class StatementFactory(ServiceMadeFactory):
    """A partner's statement of its expenses for an ended period (the first, with one line)."""

    line = factory.SubFactory(BudgetLineFactory)

    class Meta:
        model = Statement

    @classmethod
    def made(cls, *, line: BudgetLine) -> Statement:
        expense = ExpenseFactory(line=line)
        return statement_submit(
            partner=line.partner, period=expense.period, user=member_of(line.partner)
        )


class ReportRecipientFactory(ValidatedModelFactory):
    consortium = factory.SubFactory(ConsortiumFactory)
    email = factory.Sequence(lambda n: f"officer{n}@example.org")
    name = factory.Faker("name")

    class Meta:
        model = ReportRecipient


class ReportScheduleFactory(ServiceMadeFactory):
    """A consortium's schedule of one report: made with the consortium, one of each kind."""

    consortium = factory.SubFactory(ConsortiumFactory)
    kind = ReportKind.SEMESTER

    class Meta:
        model = ReportSchedule

    @classmethod
    def made(cls, *, consortium: Consortium, kind: str) -> ReportSchedule:
        return ReportSchedule.objects.get(consortium=consortium, kind=kind)


class ReportFactory(ServiceMadeFactory):
    """A progress report of a week of the consortium, scheduled as beat or "send now" does."""

    consortium = factory.SubFactory(ConsortiumFactory)
    kind = ReportKind.PROGRESS
    period_start = datetime.date(2025, 3, 3)
    period_end = datetime.date(2025, 3, 9)

    class Meta:
        model = Report

    @classmethod
    def made(cls, **key: Any) -> Report:
        return report_schedule(release=True, **key)


class ReportDeliveryFactory(ServiceMadeFactory):
    """The delivery of a scheduled report to one of its consortium's recipients."""

    recipient = factory.SubFactory(ReportRecipientFactory)

    class Meta:
        model = ReportDelivery

    @classmethod
    def made(cls, *, recipient: ReportRecipient) -> ReportDelivery:
        report = ReportFactory(consortium=recipient.consortium)
        return report.deliveries.get(email=recipient.email)


class ReportDocumentFactory(ServiceMadeFactory):
    """A generated report's documents in one language (HTML, text, PDF, XLSX and chart)."""

    report = factory.SubFactory(ReportFactory)
    language = "en"

    class Meta:
        model = ReportDocument

    @classmethod
    def made(cls, *, report: Report, language: str) -> ReportDocument:
        report_generate(**report.key)
        return report.documents.get(language=language)


class ReminderDigestFactory(ServiceMadeFactory):
    """The daily digest of a person of a deliverable's lead partner, a week before it is due."""

    deliverable = factory.SubFactory(DeliverableFactory)

    class Meta:
        model = ReminderDigest

    @classmethod
    def made(cls, *, deliverable: Deliverable) -> ReminderDigest:
        person = member_of(deliverable.lead_partner)
        reminders_plan(day=deliverable.due_date - datetime.timedelta(days=7))
        return ReminderDigest.objects.get(user=person)


class SecondFactorChangeFactory(factory.django.DjangoModelFactory):
    """A person turned two-step sign-in on themselves."""

    user = factory.SubFactory(UserFactory)
    event = consortium_choices.SecondFactorEvent.TURNED_ON
    old_state = consortium_choices.SecondFactorState.OFF
    new_state = consortium_choices.SecondFactorState.ON
    changed_by = factory.SelfAttribute("user")

    class Meta:
        model = SecondFactorChange


class HeartbeatFactory(factory.django.DjangoModelFactory):
    """The outbox's sweep, run a minute ago."""

    name = factory.Sequence(lambda n: f"work-{n}")
    beat_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(minutes=1))

    class Meta:
        model = Heartbeat


class NotificationFactory(ServiceMadeFactory):
    """A partner person told that a coordinator rejected their partner's expense."""

    expense = factory.SubFactory(ExpenseFactory)

    class Meta:
        model = Notification

    @classmethod
    def made(cls, *, expense: Expense) -> Notification:
        from workpackages.money.services import expense_reject, expense_submit

        person = member_of(expense.partner)
        expense_submit(expense=expense, user=person)
        expense_reject(
            expense=expense, user=coordinator_of(expense.consortium), comment="No invoice."
        )
        return Notification.objects.get(user=person, kind=NotificationKind.EXPENSE_REJECTED)


class NotificationDigestFactory(ServiceMadeFactory):
    """Today's digest of a person with a notification waiting."""

    notification = factory.SubFactory(NotificationFactory)

    class Meta:
        model = NotificationDigest

    @classmethod
    def made(cls, *, notification: Notification) -> NotificationDigest:
        from reporting.notifications import notifications_plan

        notifications_plan(day=timezone.localdate())
        return NotificationDigest.objects.get(user_id=notification.user_id)


class WebhookSubscriptionFactory(ServiceMadeFactory):
    """An address a new coordinator of the consortium subscribed to its jobs and expenses."""

    consortium = factory.SubFactory(ConsortiumFactory)
    url = factory.Sequence(lambda n: f"http://127.0.0.1:9/hooks/{n}")
    events = factory.LazyFunction(lambda: ["expense.accepted", "job.realised"])
    description = factory.Sequence(lambda n: f"ERP {n}")

    class Meta:
        model = WebhookSubscription

    @classmethod
    def made(
        cls, *, consortium: Consortium, url: str, events: list[str], description: str
    ) -> WebhookSubscription:
        return webhook_subscribe(
            consortium=consortium,
            url=url,
            events=events,
            description=description,
            user=coordinator_of(consortium),
        )


class WebhookEventFactory(ServiceMadeFactory):
    """A job of the subscription's consortium realised, the event its subscription receives."""

    subscription = factory.SubFactory(WebhookSubscriptionFactory)

    class Meta:
        model = WebhookEvent

    @classmethod
    def made(cls, *, subscription: WebhookSubscription) -> WebhookEvent:
        job = JobRecordFactory(partner=PartnerFactory(consortium=subscription.consortium))
        job_realise(job=job, user=coordinator_of(subscription.consortium))
        return WebhookEvent.objects.get(type="job.realised", data__id=job.pk)


class WebhookDeliveryFactory(ServiceMadeFactory):
    """The delivery of a realised job's event to the subscription listening to it."""

    event = factory.SubFactory(WebhookEventFactory)

    class Meta:
        model = WebhookDelivery

    @classmethod
    def made(cls, *, event: WebhookEvent) -> WebhookDelivery:
        return event.deliveries.get()


class TombstoneFactory(ServiceMadeFactory):
    """What a planned deliverable deleted by a coordinator leaves behind."""

    deliverable = factory.SubFactory(DeliverableFactory)

    class Meta:
        model = Tombstone

    @classmethod
    def made(cls, *, deliverable: Deliverable) -> Tombstone:
        pk = deliverable.pk
        record_delete(instance=deliverable, user=coordinator_of(deliverable.consortium))
        return Tombstone.objects.get(kind="deliverable", object_id=pk)
