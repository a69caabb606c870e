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
    "PERCENT_VALIDATORS",
    "ApiToken",
    "Consortium",
    "ConsortiumQuerySet",
    "ConsortiumRole",
    "CostCategory",
    "EmailAddressChange",
    "EnterpriseNumberField",
    "Invitation",
    "InvitationQuerySet",
    "InvitationStatus",
    "Membership",
    "MembershipQuerySet",
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
    "language_of",
    "password_fingerprint",
]
