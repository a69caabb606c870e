"""Every partner page answers a signed-in partner member."""

from typing import Any

import pytest
from django.urls import reverse

from tests.web import client_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "name", ["dashboard", "workplan", "expense-list", "job-list", "team", "calendar"]
)
def test_pages_answer(partner_member: Any, name: str) -> None:
    response = client_for(partner_member).get(reverse(name))
    assert response.status_code == 200


def test_anonymous_goes_to_login() -> None:
    from django.test import Client

    response = Client().get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
