"""People: their memberships, profiles, consortium roles, invitations, address changes, API
tokens and integration tokens."""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import Token
from simple_history.models import HistoricalRecords

from consortium import choices
from consortium.constraints import ValidatedModel
from consortium.models.base import TimeStamped
from consortium.models.consortia import Consortium
from consortium.models.notifications import validate_notification_kinds
from consortium.models.partners import Partner
from consortium.querysets import (
    PartnerOwnedQuerySet,
    Scope,
    ScopedQuerySet,
    manageable_people,
    people_managed_alone,
)


class MembershipQuerySet(PartnerOwnedQuerySet):
    consortium_path = "partner__consortium"

    def owners(self, scope: Scope) -> Any:
        """A team is changed by its partner contacts, not by every member (`may_manage_team`)."""
        return scope.contacts


class Membership(TimeStamped):
    """A user working for a partner, with what they do there."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=20, choices=choices.MembershipRole.choices)
    is_active = models.BooleanField(_("active"), default=True)

    objects = MembershipQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["partner", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "partner"],
                name="membership_unique_user_partner",
                violation_error_message=_("This user already belongs to this partner."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.partner} ({self.get_role_display()})"

    def clean(self) -> None:
        refusal = self.other_partner_error()
        if refusal is not None:
            raise ValidationError({"user": refusal})

    def other_partner_error(self) -> ValidationError | None:
        """A person works for one partner per consortium: the refusal if this membership, active,
        would be their second. The one rule every door (the admin, the team pages, invitations)
        asks."""
        if not self.is_active or self.partner_id is None or self.user_id is None:
            return None
        elsewhere = (
            Membership.objects.filter(
                user_id=self.user_id,
                partner__consortium_id=self.partner.consortium_id,
                is_active=True,
            )
            .exclude(pk=self.pk)
            .exclude(partner_id=self.partner_id)
        )
        if not elsewhere.exists():
            return None
        user: Any = self.user
        return ValidationError(
            _(
                "%(person)s already works for another partner of this consortium, and a person "
                "works for one partner per consortium: ask the consortium's coordinators."
            ),
            params={"person": user.get_full_name() or user.get_username()},
            code="membership_other_partner",
        )


class ProfileQuerySet(models.QuerySet):
    def restrict(self, user: Any, action: str = "view") -> ProfileQuerySet:
        """A person's own profile; a coordinator reads those of the people of their consortia and
        changes those of the people who take part in no other consortium."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        people = manageable_people(user) if action == "view" else people_managed_alone(user)
        return self.filter(Q(user_id=user.pk) | Q(user_id__in=people.values("pk")))

    def may_create(self, user: Any, profile: Profile) -> bool:
        return bool(
            profile.user_id == user.pk
            or people_managed_alone(user).filter(pk=profile.user_id).exists()
        )


class Profile(TimeStamped):
    """What a person chooses for themselves: the language of the app and of their emails, and
    whether they receive the daily digest of their partner's deadlines."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="profile",
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Left empty, the site's default language is used."),
    )
    deadline_reminders = models.BooleanField(
        _("deadline reminders"),
        default=True,
        help_text=_("A daily email listing the partner's deliverables due soon or overdue."),
    )
    # The kinds of workflow notification the person chose not to receive (NotificationKind).
    notifications_off = models.JSONField(
        _("notifications switched off"),
        default=list,
        blank=True,
        validators=[validate_notification_kinds],
    )
    # The secret part of the person's calendar feed URL; empty when they have none or revoked it.
    calendar_token = models.CharField(
        _("calendar feed key"), max_length=64, null=True, blank=True, unique=True, editable=False
    )

    objects = ProfileQuerySet.as_manager()
    # The feed key is a secret: the history records who changed the profile and when, not the key.
    history = HistoricalRecords(excluded_fields=["calendar_token"])

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return str(self.user)


def language_of(user: Any) -> str:
    """The language a person reads: the one they chose, else the site's default."""
    profile = getattr(user, "profile", None) if user.pk else None
    return (profile.language if profile else "") or settings.LANGUAGE_CODE


class ConsortiumRole(TimeStamped):
    """A consortium-wide role: coordinators run the consortium, observers (the funder) read it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="consortium_roles",
    )
    consortium = models.ForeignKey(
        Consortium, verbose_name=_("consortium"), on_delete=models.CASCADE, related_name="roles"
    )
    kind = models.CharField(_("role"), max_length=20, choices=choices.ConsortiumRoleKind.choices)
    is_active = models.BooleanField(_("active"), default=True)

    objects = ScopedQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("consortium role")
        verbose_name_plural = _("consortium roles")
        ordering = ["consortium_id", "kind", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "consortium"],
                name="consortium_role_unique_user",
                violation_error_message=_("This user already has a role in this consortium."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_kind_display()} ({self.consortium})"


class InvitationStatus(models.TextChoices):
    """Where an invitation to a partner's team stands; a pending one past its date has expired."""

    PENDING = "pending", _("Waiting for an answer")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    CANCELLED = "cancelled", _("Cancelled")


class InvitationQuerySet(PartnerOwnedQuerySet):
    consortium_path = "partner__consortium"

    def owners(self, scope: Scope) -> Any:
        """Invitations are the team's business: its partner contacts send and cancel them."""
        return scope.contacts

    def for_key(self, key: str) -> InvitationQuerySet:
        """The invitation whose emailed link carries `key` (only its digest is stored)."""
        return self.filter(key_digest=Invitation.digest(key))


class Invitation(TimeStamped):
    """An invitation to work for a partner, sent to an email address by someone who manages its
    team. Nothing changes for the person it reaches until they accept it: only then is their
    account attached (or, for someone without one, created) and their membership granted, in the
    name of who invited them. Until then the inviter knows the address they typed, and no more."""

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="invitations"
    )
    email = models.EmailField(_("email address"), max_length=254)
    role = models.CharField(_("role"), max_length=20, choices=choices.MembershipRole.choices)
    # What the inviter typed, offered to a person who creates their account when they accept.
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        help_text=_("The language of the account created for a person who has none."),
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("invited by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=InvitationStatus.choices,
        default=InvitationStatus.PENDING,
        db_index=True,
    )
    # The SHA-256 of the secret in the emailed link: the link itself is nowhere but in the email.
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    sent_at = models.DateTimeField(_("sent at"))
    expires_at = models.DateTimeField(_("expires at"))
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("answered by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    membership = models.ForeignKey(
        Membership,
        verbose_name=_("membership"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitations",
    )

    objects = InvitationQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["key_digest"])

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                F("partner"),
                Lower("email"),
                condition=Q(status="pending"),
                name="invitation_one_pending_per_address",
                violation_error_message=_(
                    "An invitation to this address is already waiting for an answer."
                ),
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("sent_at")),
                name="invitation_expires_after_sent",
                violation_error_message=_("An invitation expires after it is sent."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "cancelled"]) | Q(answered_at__isnull=False),
                name="invitation_answered_has_date",
                violation_error_message=_("An answered invitation has the date of its answer."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.partner}"

    @staticmethod
    def digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @property
    def is_expired(self) -> bool:
        return self.status == InvitationStatus.PENDING and self.expires_at <= timezone.now()

    @property
    def is_open(self) -> bool:
        """Waiting for an answer, and still in time for one."""
        return self.status == InvitationStatus.PENDING and not self.is_expired


class AccountChange(models.Model):
    """A record of a change to a person's account: who made it (None: the application or an
    operator) and when. Written once, never edited."""

    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["-id"]


class EmailAddressChange(AccountChange):
    """A change of a person's email address, where their password reset links go: who made it,
    when, the old address and the new one. Written once, never edited."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        on_delete=models.CASCADE,
        related_name="email_changes",
    )
    old_email = models.EmailField(_("old address"), max_length=254, blank=True)
    new_email = models.EmailField(_("new address"), max_length=254)

    class Meta(AccountChange.Meta):
        verbose_name = _("email address change")
        verbose_name_plural = _("email address changes")

    def __str__(self) -> str:
        return f"{self.old_email} → {self.new_email}"


class SecondFactorChange(AccountChange):
    """A change of a person's second factor at sign-in (turned on, turned off, reset after a lost
    phone, new recovery codes): who made it, when, the state before and after. Written once,
    never edited; the devices themselves keep no history (their keys are secrets)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        on_delete=models.CASCADE,
        related_name="second_factor_changes",
    )
    event = models.CharField(_("change"), max_length=20, choices=choices.SecondFactorEvent.choices)
    old_state = models.CharField(
        _("before"), max_length=8, choices=choices.SecondFactorState.choices
    )
    new_state = models.CharField(
        _("after"), max_length=8, choices=choices.SecondFactorState.choices
    )

    class Meta(AccountChange.Meta):
        verbose_name = _("second factor change")
        verbose_name_plural = _("second factor changes")

    def __str__(self) -> str:
        return f"{self.user}: {self.get_event_display()}"


def password_fingerprint(user: Any, secret: str | bytes | None = None) -> str:
    """A keyed digest of the person's password hash: it changes whenever the password does,
    whichever way it is set, and tells nothing of the hash without the site's secret key."""
    return salted_hmac(
        "consortium.ApiToken.password", user.password, secret=secret, algorithm="sha256"
    ).hexdigest()


class ApiToken(Token):
    """An API token (DRF's, whose key and owner it shares) bound to the password it was issued
    under and to a lifetime of API_TOKEN_DAYS. `consortium.authentication` accepts a key only
    through this table, so a password set by any means (a page, the admin, `changepassword`, the
    shell) ends every token issued before, with no hook to forget."""

    token_ptr = models.OneToOneField(
        Token,
        parent_link=True,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="binding",
    )
    password_fingerprint = models.CharField(max_length=64, editable=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return str(self.user)

    @property
    def expires_at(self) -> datetime.datetime:
        return self.created + datetime.timedelta(days=settings.API_TOKEN_DAYS)

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    def matches_password(self, user: Any) -> bool:
        """Whether `user` still has the password this token was issued under (the site's
        previous secret keys included, as Django does for sessions)."""
        return password_unchanged(self.password_fingerprint, user)


def password_unchanged(fingerprint: str, user: Any) -> bool:
    """Whether `user` still has the password `fingerprint` was taken of (the site's previous
    secret keys included, as Django does for sessions)."""
    return any(
        constant_time_compare(fingerprint, password_fingerprint(user, secret))
        for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    )


# What starts the secret of every integration token: the authentication tells it from a personal
# API token by it, and a secret found in a log or a repository is recognised as one of ours.
INTEGRATION_TOKEN_MARKER = "cmi_"  # noqa: S105  (a public marker, not a secret)
# The characters after the marker that are shown to tell a person's tokens apart.
INTEGRATION_TOKEN_PREFIX_LENGTH = len(INTEGRATION_TOKEN_MARKER) + 8


class IntegrationTokenState(models.TextChoices):
    """Whether an integration token still opens the API, and if not, why."""

    ACTIVE = "active", _("Active")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Revoked")
    PASSWORD_CHANGED = "password_changed", _("Ended by a password change")


class IntegrationTokenQuerySet(models.QuerySet):
    def restrict(self, user: Any, action: str = "view") -> IntegrationTokenQuerySet:
        """A person's own tokens, and nobody else's: not even a superuser acts with another
        person's integration."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        return self.filter(user_id=user.pk)

    def live(self) -> IntegrationTokenQuerySet:
        """Not revoked (an expired token is not revoked: its name may be taken again)."""
        return self.filter(revoked_at__isnull=True)

    def for_secret(self, secret: str) -> IntegrationToken | None:
        """The token whose secret is `secret`: found by its public prefix, then compared by
        digest in constant time (only the digest is stored)."""
        if not secret.startswith(INTEGRATION_TOKEN_MARKER):
            return None
        prefix = secret[:INTEGRATION_TOKEN_PREFIX_LENGTH]
        digest = IntegrationToken.digest(secret)
        candidates = self.select_related("user").filter(prefix=prefix)
        for token in candidates:
            if constant_time_compare(token.secret_digest, digest):
                return token
        return None


class IntegrationToken(ValidatedModel):
    """A named token a person creates for one of their integrations ("ERP sync", "Power BI"),
    read-only or read-write, until the date they chose. Several live side by side, and revoking
    one leaves the others working. Only the SHA-256 of its secret is stored: the secret is shown
    once, when it is issued. Like the personal API token, it is bound to the password it was
    issued under, so a password change by any means ends every one of them. Issuing and revoking
    are kept in the history (who, when)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        on_delete=models.CASCADE,
        related_name="integration_tokens",
    )
    name = models.CharField(
        _("name"),
        max_length=100,
        help_text=_("What the token is for, for example “ERP sync” or “Power BI”."),
    )
    # The first characters of the secret, shown to tell the person's tokens apart.
    prefix = models.CharField(_("starts with"), max_length=16, db_index=True, editable=False)
    secret_digest = models.CharField(max_length=64, unique=True, editable=False)
    read_only = models.BooleanField(
        _("read-only"),
        default=False,
        help_text=_("A read-only token reads through the API and changes nothing."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires at"))
    # Written at most once a minute per token: not a write per request.
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("revoked by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    password_fingerprint = models.CharField(max_length=64, editable=False)

    objects = IntegrationTokenQuerySet.as_manager()
    # Neither the digest nor the password's fingerprint is history: who issued and revoked is.
    history = HistoricalRecords(
        excluded_fields=["secret_digest", "password_fingerprint", "last_used_at"]
    )

    class Meta:
        verbose_name = _("integration token")
        verbose_name_plural = _("integration tokens")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                F("user"),
                Lower("name"),
                condition=Q(revoked_at__isnull=True),
                name="integration_token_unique_live_name",
                violation_error_message=_("You already have a token of this name."),
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="integration_token_expires_after_created",
                violation_error_message=_("A token expires after it is created."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def digest(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @staticmethod
    def new_secret() -> str:
        return f"{INTEGRATION_TOKEN_MARKER}{secrets.token_urlsafe(32)}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def matches_password(self, user: Any) -> bool:
        """Whether `user` still has the password this token was issued under."""
        return password_unchanged(self.password_fingerprint, user)

    @property
    def state(self) -> IntegrationTokenState:
        """Why the token no longer works, if it doesn't: revoked first, then a password change,
        then its date."""
        if self.is_revoked:
            return IntegrationTokenState.REVOKED
        if not self.matches_password(self.user):
            return IntegrationTokenState.PASSWORD_CHANGED
        if self.is_expired:
            return IntegrationTokenState.EXPIRED
        return IntegrationTokenState.ACTIVE
