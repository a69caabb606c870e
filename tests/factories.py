"""Factories that save through `full_clean()`, so a factory-made row passed the same validation as
a row entered in production. Pass the parent a row hangs from (the workpackage, the partner, the
budget line): the consortium and the other derived fields follow from it."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.db.models import Max

from consortium import choices as consortium_choices
from consortium.models import (
    Consortium,
    ConsortiumRole,
    CostCategory,
    Membership,
    Organisation,
    Partner,
)
from consortium.services import cost_categories_seed, reporting_periods_generate
from workpackages.jobs.choices import ContractType, JobCategory, JobImpact, JobStatus
from workpackages.jobs.models import JobRecord
from workpackages.money.models import BudgetLine, Effort, Expense
from workpackages.workplan.choices import DeliverableType, Dissemination
from workpackages.workplan.models import Deliverable, Milestone, Workpackage, WorkpackageParticipant

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
        instance.full_clean()
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
