"""What the drills send: signed-in pages, the admin and the API, as a browser and an
integration do, counting the answers a server error gave."""

from __future__ import annotations

import re
import secrets
import threading
import time
from binascii import unhexlify
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests
from django_otp.oath import totp

DEMO_PASSWORD = "demo"  # noqa: S105  (the demo's published password)
VERIFY = "/accounts/two-step/verify/"


@dataclass
class SecondFactor:
    """A person's authenticator app, as the drills hold it: the key it shares with the site, and
    recovery codes for the sign-ins of a time step whose code is used already (each code works
    once, and the drills sign the coordinator in a dozen times within a minute)."""

    key: str
    recovery_codes: list[str]
    _last_step: int = -1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def code(self) -> str:
        with self._lock:
            step = int(time.time()) // 30
            if step != self._last_step:
                self._last_step = step
                return f"{totp(unhexlify(self.key)):06d}"
            return self.recovery_codes.pop()


# The second factor of each person who has one, set up by the drills before they start.
SECOND_FACTORS: dict[str, SecondFactor] = {}


def enrol_second_factor(topology: Any, username: str, codes: int, device: str) -> SecondFactor:
    """Give `username` of the topology's database an authenticator app and `codes` recovery
    codes, as they would set them up, and remember them in `SECOND_FACTORS`."""
    factor = SecondFactor(
        key=secrets.token_hex(20), recovery_codes=[secrets.token_hex(4) for _ in range(codes)]
    )
    topology.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        "from django_otp.plugins.otp_static.models import StaticDevice, StaticToken\n"
        "from django_otp.plugins.otp_totp.models import TOTPDevice\n"
        f"user = get_user_model().objects.get(username={username!r})\n"
        f"TOTPDevice.objects.create(user=user, name={device!r}, key='{factor.key}')\n"
        f"device = StaticDevice.objects.create(user=user, name={device!r})\n"
        "StaticToken.objects.bulk_create(StaticToken(device=device, token=code) "
        f"for code in {factor.recovery_codes!r})\n",
    )
    SECOND_FACTORS[username] = factor
    return factor


@dataclass
class Answers:
    """Status codes received, and the requests that got no answer at all."""

    statuses: Counter[int] = field(default_factory=Counter)
    unanswered: int = 0

    def add(self, response: requests.Response | None) -> None:
        if response is None:
            self.unanswered += 1
        else:
            self.statuses[response.status_code] += 1

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code >= 500) + self.unanswered

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) + self.unanswered


class Browser:
    """A signed-in session (the sign-in page of everyone, CSRF token included)."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.session = requests.Session()
        page = self.session.get(f"{base}/accounts/login/", timeout=30)
        page.raise_for_status()
        signed_in = self.session.post(
            f"{base}/accounts/login/",
            data={
                "username": username,
                "password": DEMO_PASSWORD,
                "csrfmiddlewaretoken": self.csrf(page.text),
            },
            timeout=30,
        )
        if VERIFY in signed_in.url and username in SECOND_FACTORS:
            signed_in = self.session.post(
                signed_in.url,
                data={
                    "code": SECOND_FACTORS[username].code(),
                    "csrfmiddlewaretoken": self.csrf(signed_in.text),
                },
                timeout=30,
            )
        if "sessionid" not in self.session.cookies or VERIFY in signed_in.url:
            raise RuntimeError(f"{username} could not sign in: {signed_in.status_code}")

    @staticmethod
    def csrf(html: str) -> str:
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        if found is None:
            raise RuntimeError("no CSRF token on the page")
        return found.group(1)

    def get(self, path: str, **kwargs: Any) -> requests.Response | None:
        try:
            return self.session.get(f"{self.base}{path}", timeout=30, **kwargs)
        except requests.RequestException:
            return None

    def post_form(self, path: str, data: dict[str, str]) -> requests.Response | None:
        """Fill in the form at `path` as a person does: its page first, then the post."""
        page = self.get(path)
        if page is None or page.status_code != 200:
            return page
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        try:
            return self.session.post(
                f"{self.base}{path}",
                data={**hidden, **data, "csrfmiddlewaretoken": self.csrf(page.text)},
                timeout=60,
                allow_redirects=False,
            )
        except requests.RequestException:
            return None


class Integration:
    """An API client with its token."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.username = username
        self.session = requests.Session()
        self.token = self.fetch_token()
        self.session.headers["Authorization"] = f"Token {self.token}"

    def fetch_token(self) -> str:
        answer = requests.post(
            f"{self.base}/api/v1/auth/token/",
            json={"username": self.username, "password": DEMO_PASSWORD},
            timeout=30,
        )
        answer.raise_for_status()
        return str(answer.json()["token"])

    def get(self, path: str) -> requests.Response | None:
        try:
            return self.session.get(f"{self.base}{path}", timeout=30)
        except requests.RequestException:
            return None

    def token_request(self) -> requests.Response | None:
        try:
            return requests.post(
                f"{self.base}/api/v1/auth/token/",
                json={"username": self.username, "password": DEMO_PASSWORD},
                timeout=30,
            )
        except requests.RequestException:
            return None
