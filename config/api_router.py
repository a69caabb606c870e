"""The routes of `/api/v1/`: one resource per consortium-owned model, plural and kebab-case."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from consortium.api import views as consortium
from reporting import api as reporting
from workpackages.jobs import api as jobs
from workpackages.money import api as money
from workpackages.overview import api as overview
from workpackages.workplan import api as workplan

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("consortia", overview.ConsortiumViewSet, basename="consortium")
router.register("organisations", consortium.OrganisationViewSet, basename="organisation")
router.register("partners", consortium.PartnerViewSet, basename="partner")
router.register("memberships", consortium.MembershipViewSet, basename="membership")
router.register("reporting-periods", consortium.ReportingPeriodViewSet, basename="reporting-period")
router.register("cost-categories", consortium.CostCategoryViewSet, basename="cost-category")
router.register("workpackages", workplan.WorkpackageViewSet, basename="workpackage")
router.register("deliverables", workplan.DeliverableViewSet, basename="deliverable")
router.register("milestones", workplan.MilestoneViewSet, basename="milestone")
router.register("budget-lines", money.BudgetLineViewSet, basename="budget-line")
router.register("expenses", money.ExpenseViewSet, basename="expense")
router.register("effort", money.EffortViewSet, basename="effort")
router.register("jobs", jobs.JobRecordViewSet, basename="job")
router.register("reports", reporting.ReportViewSet, basename="report")
router.register("changes", overview.ChangesViewSet, basename="change")
router.register("auth/tokens", consortium.IntegrationTokenViewSet, basename="integration-token")

app_name = "api"
urlpatterns = [
    path("auth/token/", consortium.TokenView.as_view(), name="auth-token"),
    *router.urls,
]
