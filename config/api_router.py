"""The routes of `/api/v1/`: one resource per consortium-owned model, plural and kebab-case."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from consortium.api import views as consortium
from workpackages.api import views as workpackages

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("consortia", workpackages.ConsortiumViewSet, basename="consortium")
router.register("organisations", consortium.OrganisationViewSet, basename="organisation")
router.register("partners", consortium.PartnerViewSet, basename="partner")
router.register("memberships", consortium.MembershipViewSet, basename="membership")
router.register("reporting-periods", consortium.ReportingPeriodViewSet, basename="reporting-period")
router.register("cost-categories", consortium.CostCategoryViewSet, basename="cost-category")
router.register("workpackages", workpackages.WorkpackageViewSet, basename="workpackage")
router.register("deliverables", workpackages.DeliverableViewSet, basename="deliverable")
router.register("milestones", workpackages.MilestoneViewSet, basename="milestone")
router.register("budget-lines", workpackages.BudgetLineViewSet, basename="budget-line")
router.register("expenses", workpackages.ExpenseViewSet, basename="expense")
router.register("effort", workpackages.EffortViewSet, basename="effort")
router.register("jobs", workpackages.JobRecordViewSet, basename="job")

app_name = "api"
urlpatterns = [
    path("auth/token/", consortium.TokenView.as_view(), name="auth-token"),
    *router.urls,
]
