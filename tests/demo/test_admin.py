"""The coordinators' admin site on the demo partnership: who gets in, what each coordinator sees."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consortium.models import Consortium
from consortium.permissions import SuperuserOnlyAdmin
from consortium.services import consortium_role_grant
from tests.factories import UserFactory
from tests.web import client_for as _client
from workpackages.workplan.models import Deliverable

pytestmark = pytest.mark.django_db

User = get_user_model()


def _changelist_url(model: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _request_as(user: Any) -> Any:
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_second_consortium_coordinator_sees_no_demo_row(
    demo: Consortium, other_coordinator: Any
) -> None:
    demo_coordinator = User.objects.get(username="coordinator")
    other = _client(other_coordinator)
    checked = 0
    for model, model_admin in admin.site._registry.items():
        response = other.get(_changelist_url(model))
        if isinstance(model_admin, SuperuserOnlyAdmin):
            assert response.status_code == 403, model
            continue
        assert response.status_code == 200, model
        # What the demo's coordinator sees in this list is never in the other coordinator's.
        demo_rows = set(
            model_admin.get_queryset(_request_as(demo_coordinator)).values_list("pk", flat=True)
        )
        assert demo_rows, (
            f"the demo has no {model._meta.verbose_name_plural}: the check would be empty"
        )
        shown = set(response.context["cl"].queryset.values_list("pk", flat=True))
        assert not shown & demo_rows, model
        assert "PIT-ATMP" not in response.content.decode(), model
        checked += 1
    assert checked >= 15

    dashboard = other.get(reverse("admin:index"))
    assert dashboard.status_code == 200
    assert "PIT-ATMP" not in dashboard.content.decode()
    assert [d.consortium.acronym for d in dashboard.context["dashboards"]] != ["PIT-ATMP"]


def test_other_consortium_objects_answer_404(demo: Consortium, other_coordinator: Any) -> None:
    deliverable = Deliverable.objects.filter(consortium=demo).first()
    assert deliverable is not None
    url = reverse("admin:workpackages_deliverable_change", args=[deliverable.pk])
    assert _client(other_coordinator).get(url).status_code == 404
    assert _client(User.objects.get(username="coordinator")).get(url).status_code == 200


def test_demo_dashboard_shows_the_partnership(demo: Consortium) -> None:
    response = _client(User.objects.get(username="coordinator")).get(reverse("admin:index"))
    assert response.status_code == 200
    [board] = response.context["dashboards"]
    assert board.partners == 26
    assert board.workpackages == 12
    assert board.planned == demo.total_budget == 81_000_000
    assert board.jobs.direct_target == 470
    assert board.jobs.indirect_target == 1200
    assert board.deliverables_late >= 3
    assert board.overspent_lines >= 1
    html = response.content.decode()
    assert "81,000,000.00" in html
    assert "/ 470" in html and "/ 1200" in html


@pytest.mark.parametrize("username", ["observer", "partner1", "partner2"])
def test_partner_users_and_observers_never_get_into_the_admin(
    demo: Consortium, username: str
) -> None:
    response = _client(User.objects.get(username=username)).get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def _count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


def test_every_changelist_runs_the_same_queries_for_1_or_100_rows(
    demo: Consortium, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(User.objects.get(username="coordinator"))
    for model, model_admin in admin.site._registry.items():
        if isinstance(model_admin, SuperuserOnlyAdmin):
            continue
        url = _changelist_url(model)
        counts = []
        for per_page in (1, 100):
            monkeypatch.setattr(model_admin, "list_per_page", per_page)
            counts.append(_count_queries(client, url))
        assert counts[0] == counts[1], f"{model._meta.label}: {counts}"


def test_dashboard_queries_do_not_grow_with_the_partnership(
    demo: Consortium, workpackage: Any, budget_line: Any
) -> None:
    # A consortium of 2 partners and 1 line against the demo's 26 partners and 362 lines.
    demo_coordinator = _client(User.objects.get(username="coordinator"))
    small_coordinator = UserFactory(username="small-coordinator")
    consortium_role_grant(
        consortium=workpackage.consortium,
        user=small_coordinator,
        kind="coordinator",
        granted_by=None,
    )
    small = _client(User.objects.get(pk=small_coordinator.pk))
    assert _count_queries(small, reverse("admin:index")) == _count_queries(
        demo_coordinator, reverse("admin:index")
    )


def test_history_pages_of_other_consortia_answer_404_and_past_versions_are_read_only(
    demo: Consortium, other_coordinator: Any
) -> None:
    demo_coordinator = User.objects.get(username="coordinator")
    other, own = _client(other_coordinator), _client(demo_coordinator)
    checked = 0
    for model, model_admin in admin.site._registry.items():
        if not hasattr(model, "history") or isinstance(model_admin, SuperuserOnlyAdmin):
            continue
        row = model_admin.get_queryset(_request_as(demo_coordinator)).first()
        assert row is not None, model
        version = row.history.first()
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        history = reverse(f"{info}_history", args=[row.pk])
        version_url = reverse(f"{info}_simple_history", args=[row.pk, version.history_id])
        assert other.get(history).status_code == 404, model
        assert other.get(version_url).status_code == 404, model
        assert other.post(version_url, {}).status_code == 404, model
        assert own.get(history).status_code == 200, model
        assert own.get(version_url).status_code == 200, model
        assert own.post(version_url, {}).status_code == 403, model
        checked += 1
    assert checked >= 14


def test_people_of_other_consortia_cannot_be_picked(
    demo: Consortium, other_coordinator: Any
) -> None:
    target = User.objects.get(username="partner1")
    root = User.objects.create_superuser("root", "root@example.org", "a-long-passphrase-2026")
    consortium = other_coordinator.consortium_roles.get().consortium
    client = _client(other_coordinator)
    for user in (target, root):
        response = client.post(
            reverse("admin:consortium_consortiumrole_add"),
            {"user": user.pk, "consortium": consortium.pk, "kind": "observer", "is_active": "on"},
        )
        assert response.status_code == 200
        assert "Select a valid choice." in response.content.decode()
    assert not target.consortium_roles.exists() and not root.consortium_roles.exists()
