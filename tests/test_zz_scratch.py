import pytest
from decimal import Decimal
from django.core.exceptions import ValidationError
from tests import factories
from workpackages.models import BudgetLine, Deliverable, Expense
pytestmark = pytest.mark.django_db

def show(fn):
    try:
        fn()
    except ValidationError as e:
        print(getattr(e, "message_dict", None) or e.messages)
    else:
        print("NO ERROR")

def test_probe(consortium, partner_a, partner_b, workpackage, budget_line, expense, deliverable, milestone, job, coordinator, partner_member, other_partner, other_workpackage):
    print([ (p.number, p.start_date, p.end_date, p.statement_due_date) for p in consortium.periods.all()])
    print(list(consortium.cost_categories.values_list("code", "kind")))
    print(budget_line.funding_rate, budget_line.granted_amount, str(budget_line), str(deliverable), str(job), coordinator.is_staff, partner_member.is_staff)
    bl = BudgetLine(partner=partner_a, workpackage=workpackage, category=consortium.cost_categories.get(code="operating"), planned_amount=Decimal(10))
    show(bl.full_clean)
    d = Deliverable(workpackage=workpackage, number=5, title="x", lead_partner=partner_a, type="R", dissemination="PU", due_month=5)
    show(d.full_clean)
    show(lambda: factories.ConsortiumFactory(total_budget=Decimal(-1)))
    show(lambda: factories.ConsortiumFactory(end_date=consortium.start_date))
    show(lambda: factories.ConsortiumFactory(public_funding_share=Decimal(101)))
    show(lambda: factories.OrganisationFactory(enterprise_number=None, vat_id=""))
    show(lambda: factories.OrganisationFactory(enterprise_number="04031707011"))
    show(lambda: factories.OrganisationFactory(enterprise_number="BE 0403.170.702"))
    show(lambda: factories.PartnerFactory(consortium=consortium, number=1))
    show(lambda: factories.PartnerFactory(consortium=consortium, default_funding_rate=Decimal("100.01")))
    show(lambda: factories.JobRecordFactory(partner=partner_a, fte=Decimal("1.01")))
    show(lambda: factories.JobRecordFactory(partner=partner_a, fte=Decimal("0")))
    show(lambda: factories.DeliverableFactory(workpackage=workpackage, due_month=0))
    show(lambda: factories.DeliverableFactory(workpackage=workpackage, due_month=37))
    show(lambda: factories.BudgetLineFactory(partner=partner_a, workpackage=workpackage))
    show(lambda: factories.BudgetLineFactory(partner=partner_a, workpackage=workpackage, heading="operating", planned_amount=Decimal(-1)))
    show(lambda: factories.BudgetLineFactory(partner=partner_a, workpackage=other_workpackage, consortium=consortium))
    show(lambda: factories.ExpenseFactory(line=budget_line, amount=Decimal(0)))
    show(lambda: factories.MembershipFactory(partner=partner_b, user=partner_member))
