"""Forms of the accounts pages."""

from __future__ import annotations

from typing import Any

from axes.utils import reset as reset_login_failures
from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from consortium.backends import attempted_username
from consortium.emails import absolute, email_later
from consortium.models import language_of


class LoginForm(auth_forms.AuthenticationForm):
    username = auth_forms.UsernameField(
        label=_("Username or email address"),
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )

    error_messages = {
        **auth_forms.AuthenticationForm.error_messages,
        "invalid_login": _(
            "This username or email address and password do not match. Passwords are "
            "case-sensitive."
        ),
    }


class SetPasswordForm(auth_forms.SetPasswordForm):
    """A new password chosen through an emailed link (a reset or an invitation) also lifts a
    sign-in lockout: the link has proved who the person is."""

    def save(self, commit: bool = True) -> Any:
        user = super().save(commit)
        if commit:
            for name in {user.username, user.email}:
                if name:
                    reset_login_failures(username=attempted_username(None, {"username": name}))
        return user


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form, with the email rendered in the person's own language and handed to
    a worker instead of being sent during the request."""

    def get_users(self, email: str) -> Any:
        """Active accounts with this address, including invited people who never chose a
        password: their invitation's link may have expired."""
        users = get_user_model()._default_manager.filter(email__iexact=email, is_active=True)
        return iter(users)

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        user = context["user"]
        path = reverse(
            "password_reset_confirm", kwargs={"uidb64": context["uid"], "token": context["token"]}
        )
        email_later(
            template="accounts/emails/password_reset",
            context={"user": user, "link": absolute(path)},
            to=to_email,
            language=language_of(user),
        )


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    next = forms.CharField(required=False)


class EmailChangeForm(forms.Form):
    """A new email address, confirmed from that address, and the current password: password
    reset links go to the address."""

    email = forms.EmailField(
        label=_("New email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Your current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class SecondFactorCodeForm(forms.Form):
    """A code of the second factor: the one the authenticator app shows, or a recovery code
    where the page accepts one."""

    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )
