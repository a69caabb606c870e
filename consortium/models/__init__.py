"""The partnership itself: consortia, organisations, partners, people's roles, periods, cost headings.

One module per subject; everything is importable from `consortium.models`, as Django and the
migrations expect."""

from consortium.models.base import (
    PERCENT_VALIDATORS,
    TimeStamped,
)
from consortium.models.consortia import (
    Consortium,
    ConsortiumQuerySet,
    CostCategory,
    ReportingPeriod,
    heading_name,
)
from consortium.models.notifications import (
    COORDINATOR_KINDS,
    PARTNER_KINDS,
    DigestStatus,
    Notification,
    NotificationDigest,
    NotificationKind,
    NotificationState,
)
from consortium.models.partners import (
    EnterpriseNumberField,
    Organisation,
    OrganisationQuerySet,
    Partner,
    PartnerQuerySet,
    WebsiteField,
)
from consortium.models.people import (
    ApiToken,
    ConsortiumRole,
    EmailAddressChange,
    IntegrationToken,
    IntegrationTokenQuerySet,
    IntegrationTokenState,
    Invitation,
    InvitationQuerySet,
    InvitationStatus,
    Membership,
    MembershipQuerySet,
    Profile,
    ProfileQuerySet,
    SecondFactorChange,
    language_of,
    password_fingerprint,
)

__all__ = [
    "COORDINATOR_KINDS",
    "PARTNER_KINDS",
    "PERCENT_VALIDATORS",
    "ApiToken",
    "Consortium",
    "ConsortiumQuerySet",
    "ConsortiumRole",
    "CostCategory",
    "DigestStatus",
    "EmailAddressChange",
    "EnterpriseNumberField",
    "IntegrationToken",
    "IntegrationTokenQuerySet",
    "IntegrationTokenState",
    "Invitation",
    "InvitationQuerySet",
    "InvitationStatus",
    "Membership",
    "MembershipQuerySet",
    "Notification",
    "NotificationDigest",
    "NotificationKind",
    "NotificationState",
    "Organisation",
    "OrganisationQuerySet",
    "Partner",
    "PartnerQuerySet",
    "Profile",
    "ProfileQuerySet",
    "ReportingPeriod",
    "SecondFactorChange",
    "TimeStamped",
    "WebsiteField",
    "heading_name",
    "language_of",
    "password_fingerprint",
]
