"""Browsing the app as one of the role fixtures."""

from __future__ import annotations

from typing import Any

from django.test import Client


def client_for(user: Any) -> Client:
    """A test client signed in as `user`, as if they had logged in through the login page."""
    client = Client()
    client.force_login(user)
    return client
