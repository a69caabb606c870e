"""The demo's people, partners and work plan: users and roles, workpackages with their
participants, deliverables and milestones, and their progress up to today.
"""

from __future__ import annotations

import dataclasses
import datetime
import random
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile

from consortium.choices import (
    ConsortiumRoleKind,
    MembershipRole,
    PartnerRole,
)
from consortium.models import Organisation, Partner
from consortium.services import consortium_role_grant, membership_grant
from workpackages.base import CENT
from workpackages.demo.context import (
    Context,
    apportion,
    enterprise_number,
    local_datetime,
    save_new,
)
from workpackages.demo.data import (
    ACRONYM,
    CHANGES_REQUESTED,
    COORDINATOR,
    DELIVERABLES,
    DEMO_EMAIL_DOMAIN,
    DEMO_PASSWORD,
    EURO,
    HUNDRED_EUROS,
    LATE_JUSTIFICATIONS,
    MILESTONES,
    OBSERVER,
    PARTNER_CONTACT,
    PARTNER_CONTACT_AT,
    PARTNER_FINANCE,
    PARTNER_FINANCE_AT,
    PARTNERS,
    PROFILES,
    TOTAL_BUDGET,
    WORKPACKAGES,
    BudgetProfile,
)
from workpackages.workplan.models import Deliverable, Milestone, Workpackage, WorkpackageParticipant
from workpackages.workplan.services import (
    deliverable_approve,
    deliverable_request_changes,
    deliverable_start,
    deliverable_submit,
    milestone_achieve,
    milestone_miss,
)


def build_users() -> dict[str, Any]:
    """The four demo logins, created if missing; existing accounts keep their password."""
    user_model = get_user_model()
    users = {}
    for spec in (COORDINATOR, OBSERVER, PARTNER_FINANCE, PARTNER_CONTACT):
        user, created = user_model.objects.get_or_create(
            username=spec.username,
            defaults={
                "first_name": spec.first_name,
                "last_name": spec.last_name,
                "email": f"{spec.username}@{DEMO_EMAIL_DOMAIN}",
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        users[spec.username] = user
    return users


def build_partners(ctx: Context) -> None:
    """The 26 organisations and their partnerships; BioWin is partner 1 and coordinates."""
    taken = set(
        Organisation.objects.exclude(enterprise_number=None).values_list(
            "enterprise_number", flat=True
        )
    )
    for number, spec in enumerate(PARTNERS, start=1):
        organisation = Organisation(
            legal_name=spec.legal_name,
            short_name=spec.short_name,
            kind=spec.kind,
            enterprise_number=enterprise_number(ctx.rng, taken),
            city=spec.city,
            website=spec.website,
            created_by=ctx.coordinator,
        )
        save_new(organisation, user=ctx.coordinator)
        partner = Partner(
            consortium=ctx.consortium,
            organisation=organisation,
            number=number,
            role=PartnerRole.COORDINATOR if number == 1 else PartnerRole.BENEFICIARY,
            default_funding_rate=spec.funding_rate,
            jobs_commitment_direct=spec.jobs_direct,
            jobs_commitment_indirect=spec.jobs_indirect,
            joined_on=ctx.consortium.start_date,
        )
        save_new(partner, user=ctx.coordinator)
        ctx.partners[spec.key] = partner


def build_roles(ctx: Context, users: dict[str, Any]) -> None:
    """Coordinator and observer over the consortium; two partner users at two different partners."""
    grants = (
        (COORDINATOR, ConsortiumRoleKind.COORDINATOR),
        (OBSERVER, ConsortiumRoleKind.OBSERVER),
    )
    for spec, kind in grants:
        # The first coordinator is appointed by the command; the coordinator appoints the rest.
        consortium_role_grant(
            consortium=ctx.consortium,
            user=users[spec.username],
            kind=kind,
            granted_by=None if spec is COORDINATOR else ctx.coordinator,
        )
    memberships = (
        (PARTNER_FINANCE, PARTNER_FINANCE_AT, MembershipRole.FINANCE),
        (PARTNER_CONTACT, PARTNER_CONTACT_AT, MembershipRole.CONTACT),
    )
    for spec, key, role in memberships:
        partner = ctx.partners[key]
        membership_grant(
            partner=partner, user=users[spec.username], role=role, granted_by=ctx.coordinator
        )
        ctx.authors[partner.pk] = users[spec.username]


@dataclasses.dataclass
class ParticipationPlan:
    """What one partner plans in one workpackage: money per heading and person-months."""

    partner_key: str
    wp_number: int
    amounts: dict[str, Decimal]
    person_months: Decimal


def plan_budget(ctx: Context) -> list[ParticipationPlan]:
    """Split the EUR 81 M over workpackages, participants and headings, to the cent.

    Each workpackage's budget is apportioned to its participants in whole hundreds of euros; each
    participation then splits into headings, operating costs taking the rounding. Overheads are the
    flat rate of the overheads heading applied to the personnel line.
    """
    overhead_rate = ctx.categories["overheads"].flat_rate or Decimal(0)
    kinds = {spec.key: spec.kind for spec in PARTNERS}
    plans = []
    for wp in WORKPACKAGES:
        totals = apportion(wp.budget, [w for _key, w in wp.participants], HUNDRED_EUROS)
        for (key, _weight), total in zip(wp.participants, totals, strict=True):
            profile = PROFILES[kinds[key]]
            amounts = split_headings(total, profile, overhead_rate, ctx.rng)
            person_months = (amounts["personnel"] / profile.monthly_cost * 2).quantize(EURO) / 2
            plans.append(ParticipationPlan(key, wp.number, amounts, person_months))
    # Workpackage budgets add up to the total by construction; should the table ever drift, the
    # difference lands on one operating line rather than silently changing the consortium's total.
    planned = sum((sum(p.amounts.values(), Decimal(0)) for p in plans), Decimal(0))
    largest = max(plans, key=lambda p: p.amounts["operating"])
    largest.amounts["operating"] += TOTAL_BUDGET - planned
    return plans


def split_headings(
    total: Decimal, profile: BudgetProfile, overhead_rate: Decimal, rng: random.Random
) -> dict[str, Decimal]:
    """One participation's money per heading; the shares vary a little between participations."""

    def jitter(share: Decimal, spread: int) -> Decimal:
        return share + Decimal(rng.randint(-spread, spread)) / 1000

    personnel = (total * jitter(profile.personnel, 40)).quantize(EURO)
    equipment = (total * jitter(profile.equipment, 20)).quantize(EURO)
    subcontracting = Decimal(0)
    if rng.random() < profile.subcontracting_odds:
        subcontracting = (total * jitter(profile.subcontracting, 20)).quantize(EURO)
    overheads = (personnel * overhead_rate / 100).quantize(CENT)
    amounts = {
        "personnel": personnel,
        "operating": total - personnel - equipment - subcontracting - overheads,
        "equipment": equipment,
        "overheads": overheads,
    }
    if subcontracting:
        amounts["subcontracting"] = subcontracting
    return amounts


def build_workpackages(ctx: Context, plans: list[ParticipationPlan]) -> None:
    """The 12 workpackages, each with its lead and participants' planned person-months."""
    person_months = {(p.partner_key, p.wp_number): p.person_months for p in plans}
    for spec in WORKPACKAGES:
        workpackage = Workpackage(
            consortium=ctx.consortium,
            number=spec.number,
            title=spec.title,
            objectives=spec.objectives,
            lead_partner=ctx.partners[spec.participants[0][0]],
            start_month=spec.start_month,
            end_month=spec.end_month,
        )
        save_new(workpackage, user=ctx.coordinator)
        ctx.workpackages[spec.number] = workpackage
        for key, _weight in spec.participants:
            participant = WorkpackageParticipant(
                workpackage=workpackage,
                partner=ctx.partners[key],
                planned_person_months=person_months[key, spec.number],
            )
            save_new(participant, user=ctx.coordinator)


def build_deliverables(ctx: Context) -> list[Deliverable]:
    """About five deliverables per workpackage; due dates follow from the due months."""
    deliverables = []
    for wp_number, specs in DELIVERABLES.items():
        for number, spec in enumerate(specs, start=1):
            deliverable = Deliverable(
                workpackage=ctx.workpackages[wp_number],
                number=number,
                title=spec.title,
                lead_partner=ctx.partners[spec.lead],
                type=spec.type,
                dissemination=spec.dissemination,
                due_month=spec.due_month,
            )
            save_new(deliverable, user=ctx.coordinator)
            deliverables.append(deliverable)
    return deliverables


def build_milestones(ctx: Context) -> list[Milestone]:
    """MS1…MS24 with their related workpackages and means of verification."""
    milestones = []
    for number, spec in enumerate(MILESTONES, start=1):
        milestone = Milestone(
            number=number,
            title=spec.title,
            lead_partner=ctx.partners[spec.lead],
            due_month=spec.due_month,
            means_of_verification=spec.means_of_verification,
        )
        save_new(milestone, user=ctx.coordinator)
        milestone.workpackages.set([ctx.workpackages[n] for n in spec.workpackages])
        milestones.append(milestone)
    return milestones


def deliverable_file(deliverable: Deliverable, version: int) -> ContentFile:
    """A small PDF-looking file standing in for the deliverable's document."""
    content = (
        "%PDF-1.4\n"
        f"% {ACRONYM} demo deliverable {deliverable.code} v{version}\n"
        f"% {deliverable.title}\n"
        "1 0 obj << /Type /Catalog >> endobj\n"
        "%%EOF\n"
    )
    # No dot in the stem: storage would read "D4.2_v1.pdf" as a ".2_v1.pdf" extension.
    stem = f"{ACRONYM}_{deliverable.code}_v{version}".replace(".", "-")
    return ContentFile(content.encode(), name=f"{stem}.pdf")


def submit(ctx: Context, deliverable: Deliverable, day: datetime.date) -> None:
    """Version 1 sent on `day` by the lead partner's user; late ones carry a justification."""
    justification = ""
    if day > deliverable.due_date:
        justification = ctx.rng.choice(LATE_JUSTIFICATIONS)
    deliverable_submit(
        deliverable=deliverable,
        user=ctx.author(deliverable.lead_partner),
        file=deliverable_file(deliverable, 1),
        late_justification=justification,
        now=local_datetime(day, ctx.rng.randint(9, 17)),
    )


def record_deliverable_progress(ctx: Context, deliverables: list[Deliverable]) -> None:
    """Past-due deliverables: most approved, a few awaiting review, one sent back, a few late.

    Coming ones (due within two months) are in progress; the rest are still planned.
    """
    today, rng = ctx.today, ctx.rng
    yesterday = today - datetime.timedelta(days=1)
    past = sorted((d for d in deliverables if d.due_date < today), key=lambda d: d.due_date)
    recent = past[-16:]
    late = rng.sample(recent, min(4, len(recent)))
    others = [d for d in recent if d not in late]
    waiting = others[-3:]
    sent_back = others[:-3][-1:] if len(others) > 3 else []
    for deliverable in late:
        if rng.random() < 0.5:
            deliverable_start(deliverable=deliverable, user=ctx.author(deliverable.lead_partner))
    for deliverable in past:
        if deliverable in late:
            continue
        day = deliverable.due_date - datetime.timedelta(days=rng.randint(0, 20))
        if deliverable not in waiting and deliverable not in sent_back and rng.random() < 0.12:
            day = deliverable.due_date + datetime.timedelta(days=rng.randint(3, 40))
        day = min(day, today - datetime.timedelta(days=1))
        submit(ctx, deliverable, day)
        review_day = min(day + datetime.timedelta(days=rng.randint(3, 21)), yesterday)
        reviewed = local_datetime(review_day, rng.randint(9, 17))
        if deliverable in sent_back:
            deliverable_request_changes(
                deliverable=deliverable,
                user=ctx.coordinator,
                comment=CHANGES_REQUESTED,
                now=reviewed,
            )
        elif deliverable not in waiting:
            deliverable_approve(deliverable=deliverable, user=ctx.coordinator, now=reviewed)
    soon = today + datetime.timedelta(days=62)
    for deliverable in deliverables:
        if today <= deliverable.due_date <= soon:
            deliverable_start(deliverable=deliverable, user=ctx.author(deliverable.lead_partner))


def record_milestone_progress(ctx: Context, milestones: list[Milestone]) -> None:
    """Past milestones are achieved around their due date, except two recent ones, missed."""
    today, rng = ctx.today, ctx.rng
    past = [m for m in milestones if m.due_date < today]
    missed = rng.sample(past[-8:], min(2, len(past[-8:])))
    for milestone in past:
        if milestone in missed:
            milestone_miss(
                milestone=milestone,
                user=ctx.coordinator,
                reason="La libération du lot GMP a été reportée au semestre suivant.",
            )
            continue
        offset = rng.randint(-20, 2) if rng.random() < 0.85 else rng.randint(3, 30)
        achieved_on = min(
            milestone.due_date + datetime.timedelta(days=offset),
            today - datetime.timedelta(days=1),
        )
        milestone_achieve(
            milestone=milestone,
            user=ctx.coordinator,
            achieved_on=max(achieved_on, ctx.consortium.start_date),
            evidence=milestone.means_of_verification,
        )
