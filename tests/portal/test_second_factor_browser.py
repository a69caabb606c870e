"""A coordinator's first sign-in when two-step sign-in is required, in Debian's Chromium: the
password, the set-up page (its QR code drawn under the site's Content Security Policy), the first
code, the recovery codes, the admin; then a later sign-in with the app's next code."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import pytest
from django.utils import timezone
from django_otp.oath import totp
from playwright.sync_api import Browser, expect

from tests import factories
from tests.browser import new_page

pytestmark = pytest.mark.django_db(transaction=True)


def app_code(secret: str) -> str:
    """What an authenticator app shows for the key typed from the page."""
    key = base64.b32decode(secret.replace(" ", ""))
    return f"{totp(key):06d}"


def test_a_coordinator_sets_up_two_step_sign_in_and_signs_in_with_it(
    browser: Browser, live_server: Any, coordinator: Any, settings: Any, time_machine: Any
) -> None:
    settings.OTP_REQUIRED_FOR_STAFF = True
    context, page = new_page(browser, live_server.url)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text))

    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", coordinator.username)
    page.fill("#id_password", factories.PASSWORD)
    page.locator("form:has(#id_password) [type=submit]").click()
    expect(page.locator("h1")).to_have_text("Two-step sign-in")
    expect(page.locator(".qr-code svg")).to_be_visible()
    secret = page.locator("code.secret").inner_text()

    page.fill("#id_code", app_code(secret))
    page.locator("form:has(#id_code) [type=submit]").click()
    expect(page.locator("h1")).to_have_text("Your recovery codes")
    expect(page.locator(".recovery-codes li")).to_have_count(10)
    page.get_by_text("I have saved them").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")
    expect(page.locator("#user-tools")).to_contain_text("Two-step sign-in")

    page.locator("#logout-form [type=submit]").click()
    time_machine.move_to(timezone.now() + datetime.timedelta(seconds=30), tick=True)
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", coordinator.username)
    page.fill("#id_password", factories.PASSWORD)
    page.locator("form:has(#id_password) [type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/two-step/verify/?next=/admin/")
    page.fill("#id_code", app_code(secret))
    page.locator("form:has(#id_code) [type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")
    # Nothing the policy refused: the QR code is markup, not a script or an outside image.
    assert not [error for error in errors if "Content Security Policy" in error]
    context.close()
