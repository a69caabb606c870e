"""The PIT-ATMP demo: an invented but plausible partnership that fills every screen with data.

BioWin is the only real organisation; every other partner, person-free job and figure is invented.
The partnership's headline figures (EUR 81 M over 3 years, about 60 % public money, 26 partners,
12 workpackages, 470 direct and 1,200 indirect jobs) follow the public announcements.

Progress (submitted deliverables, achieved milestones, accepted expenses, realised jobs) is computed
relative to today, so the demo keeps looking like a partnership in progress whenever it is built.
Every status change goes through the services, as a user's action would.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import random
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, F, Max, OuterRef, Subquery, Sum
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from consortium import dates
from consortium.choices import (
    ConsortiumRoleKind,
    CostCategoryKind,
    MembershipRole,
    OrganisationKind,
    PartnerRole,
)
from consortium.models import Consortium, CostCategory, Organisation, Partner, ReportingPeriod
from consortium.services import (
    consortium_create,
    consortium_role_grant,
    membership_grant,
)
from workpackages.jobs.choices import ContractType, JobCategory, JobImpact, JobStatus
from workpackages.jobs.models import JobRecord
from workpackages.money.choices import BudgetLineStatus, ExpenseStatus
from workpackages.money.models import BudgetLine, Effort, Expense, Statement
from workpackages.money.services import expense_accept, expense_reject, expense_submit
from workpackages.workplan.choices import DeliverableType, Dissemination
from workpackages.workplan.models import Deliverable, Milestone, Workpackage, WorkpackageParticipant
from workpackages.workplan.services import (
    deliverable_approve,
    deliverable_request_changes,
    deliverable_start,
    deliverable_submit,
    milestone_achieve,
    milestone_miss,
)

CENT = Decimal("0.01")
EURO = Decimal(1)
HUNDRED_EUROS = Decimal(100)

DEMO_SEED = 2024
DEMO_PASSWORD = "demo"  # noqa: S105  (published demo logins, refused unless DEBUG or --force)
DEMO_EMAIL_DOMAIN = "pit-atmp.example"

# ---------------------------------------------------------------------------------------------
# The consortium
# ---------------------------------------------------------------------------------------------

ACRONYM = "PIT-ATMP"
TOTAL_BUDGET = Decimal("81000000.00")
CONSORTIUM: dict[str, Any] = {
    "acronym": ACRONYM,
    "name": "Technological Innovation Partnership in Advanced Therapy Medicinal Products",
    "funder": "Service public de Wallonie – Économie, Emploi, Recherche (SPW EER)",
    "total_budget": TOTAL_BUDGET,
    "public_funding_share": Decimal(60),
    "direct_jobs_target": 470,
    "indirect_jobs_target": 1200,
    "jobs_horizon_years": 5,
    "reporting_period_months": 6,
}


class UserSpec(NamedTuple):
    username: str
    first_name: str
    last_name: str


# Role names, not people: the demo logins say what they can do.
COORDINATOR = UserSpec("coordinator", "Demo", "Coordinator")
OBSERVER = UserSpec("observer", "Demo", "Observer (SPW EER)")
PARTNER_FINANCE = UserSpec("partner1", "Demo", "Finance officer")
PARTNER_CONTACT = UserSpec("partner2", "Demo", "Partner contact")
# partner1 keeps the books of a university, partner2 speaks for a company: two different partners.
PARTNER_FINANCE_AT = "umosane"
PARTNER_CONTACT_AT = "meuse_cell"


def demo_calendar(today: datetime.date) -> dict[str, datetime.date]:
    """Three calendar years, the current one the last: whatever the day the demo is seeded, the
    partnership is in its third year, with ended periods behind it and a running one."""
    return {
        "start_date": datetime.date(today.year - 2, 1, 1),
        "end_date": datetime.date(today.year, 12, 31),
    }


# ---------------------------------------------------------------------------------------------
# Organisations and partners, in the order of the agreement (partner number = position + 1)
# ---------------------------------------------------------------------------------------------


class PartnerSpec(NamedTuple):
    key: str
    legal_name: str
    short_name: str
    kind: str
    city: str
    funding_rate: Decimal
    jobs_direct: int
    jobs_indirect: int
    website: str = ""


K = OrganisationKind
# fmt: off
PARTNERS: tuple[PartnerSpec, ...] = (
    # The one real organisation: its address is not asserted here, hence no city.
    PartnerSpec(
        "biowin",
        "BioWin, pôle de compétitivité santé de Wallonie",
        "BioWin",
        K.NON_PROFIT,
        "",
        Decimal(100),
        4,
        10,
        "https://www.biowin.org",
    ),
    PartnerSpec(
        "sambre", "Sambre Biomanufacturing SA", "Sambre Biomanufacturing", K.LARGE_COMPANY,
        "Gosselies", Decimal(50), 95, 260,
    ),
    PartnerSpec(
        "dyle", "Dyle Pharma Industries SA", "Dyle Pharma", K.LARGE_COMPANY,
        "Wavre", Decimal(50), 70, 200,
    ),
    PartnerSpec(
        "haine", "Haine Bioprocess Systems SA", "Haine Bioprocess", K.LARGE_COMPANY,
        "Mons", Decimal(50), 35, 110,
    ),
    PartnerSpec(
        "vesdre", "Vesdre Analytical Sciences SA", "Vesdre Analytical", K.LARGE_COMPANY,
        "Seraing", Decimal(50), 40, 100,
    ),
    PartnerSpec(
        "famenne", "Famenne Bioreagents SA", "Famenne Bioreagents", K.LARGE_COMPANY,
        "Marche-en-Famenne", Decimal(50), 30, 90,
    ),
    PartnerSpec(
        "condroz", "Condroz Cold Chain Logistics SA", "Condroz Cold Chain", K.LARGE_COMPANY,
        "Ciney", Decimal(50), 30, 110,
    ),
    PartnerSpec(
        "meuse_cell", "Meuse Cell Therapeutics SRL", "Meuse Cell Therapeutics", K.SME,
        "Liège", Decimal(70), 24, 40,
    ),
    PartnerSpec(
        "hesbaye", "Hesbaye Vector Labs SRL", "Hesbaye Vector Labs", K.SME,
        "Waremme", Decimal(70), 20, 35,
    ),
    PartnerSpec(
        "ourthe", "Ourthe Exosome Technologies SRL", "Ourthe Exosome Technologies", K.SME,
        "Liège", Decimal(75), 6, 12,
    ),
    PartnerSpec(
        "gaume", "Gaume Phage Sciences SRL", "Gaume Phage Sciences", K.SME,
        "Arlon", Decimal(75), 9, 15,
    ),
    PartnerSpec(
        "lesse", "Lesse Preclinical Models SRL", "Lesse Preclinical", K.SME,
        "Namur", Decimal(70), 9, 18,
    ),
    PartnerSpec(
        "semois", "Semois Regulatory Consulting SRL", "Semois Regulatory", K.SME,
        "Wavre", Decimal(70), 5, 8,
    ),
    PartnerSpec(
        "fagne", "Fagne Digital Biomanufacturing SRL", "Fagne Digital", K.SME,
        "Charleroi", Decimal(70), 8, 14,
    ),
    PartnerSpec(
        "amble", "Amblève Allogeneic Therapeutics SRL", "Amblève Allogeneic", K.START_UP,
        "Liège", Decimal(70), 10, 16,
    ),
    PartnerSpec(
        "senne", "Senne ImmunoCell SRL", "Senne ImmunoCell", K.START_UP,
        "Mons", Decimal(75), 8, 12,
    ),
    PartnerSpec(
        "mehaigne", "Mehaigne Process Intelligence SRL", "Mehaigne Process AI", K.START_UP,
        "Louvain-la-Neuve", Decimal(75), 7, 10,
    ),
    PartnerSpec(
        "thyle", "Thyle Gene Editing SRL", "Thyle Gene Editing", K.START_UP,
        "Louvain-la-Neuve", Decimal(70), 8, 12,
    ),
    PartnerSpec(
        "orneau", "Orneau Organoid Systems SRL", "Orneau Organoids", K.START_UP,
        "Gembloux", Decimal(75), 5, 8,
    ),
    PartnerSpec(
        "umosane", "Université mosane", "UMosane", K.UNIVERSITY,
        "Liège", Decimal(100), 9, 20,
    ),
    PartnerSpec(
        "ubr", "Université du Brabant roman", "UBR", K.UNIVERSITY,
        "Louvain-la-Neuve", Decimal(100), 8, 18,
    ),
    PartnerSpec(
        "ush", "Université Sambre-et-Haine", "USH", K.UNIVERSITY,
        "Mons", Decimal(100), 5, 12,
    ),
    PartnerSpec(
        "ucondruse", "Université condrusienne", "UCondruse", K.UNIVERSITY,
        "Namur", Decimal(100), 5, 10,
    ),
    PartnerSpec(
        "hu_dr", "Hôpital universitaire des Deux-Rivières", "HU Deux-Rivières",
        K.UNIVERSITY_HOSPITAL, "Namur", Decimal(100), 8, 24,
    ),
    PartnerSpec(
        "chu_pn", "Centre hospitalier universitaire du Pays Noir", "CHU Pays Noir",
        K.UNIVERSITY_HOSPITAL, "Charleroi", Decimal(100), 6, 18,
    ),
    PartnerSpec(
        "irms", "Institut de recherche Meuse-Sambre pour les thérapies avancées", "IRMS",
        K.RESEARCH_CENTRE, "Gosselies", Decimal(100), 6, 18,
    ),
)
# fmt: on


# ---------------------------------------------------------------------------------------------
# The work plan: 12 workpackages along the ATMP value chain
# ---------------------------------------------------------------------------------------------


class WorkpackageSpec(NamedTuple):
    number: int
    title: str
    objectives: str
    start_month: int
    end_month: int
    budget: Decimal
    # (partner key, budget weight); the first one leads the workpackage.
    participants: tuple[tuple[str, int], ...]


# fmt: off
WORKPACKAGES: tuple[WorkpackageSpec, ...] = (
    WorkpackageSpec(
        1,
        "Autologous and allogeneic cell therapies",
        "Bring two cell therapy candidates (an allogeneic stromal cell product and a CAR-NK "
        "product) from research-grade protocols to processes ready for GMP transfer.",
        1, 36, Decimal("6500000"),
        (("meuse_cell", 26), ("sambre", 38), ("famenne", 12), ("amble", 10), ("senne", 8),
         ("umosane", 6), ("chu_pn", 4), ("irms", 4)),
    ),
    WorkpackageSpec(
        2,
        "Viral vectors for gene therapy (AAV and lentivirus)",
        "Develop scalable suspension processes for AAV and lentiviral vectors and the analytics "
        "that show their quality (titre, full/empty ratio, potency).",
        1, 36, Decimal("8500000"),
        (("hesbaye", 24), ("sambre", 26), ("dyle", 22), ("vesdre", 12), ("thyle", 8),
         ("ubr", 5), ("irms", 3)),
    ),
    WorkpackageSpec(
        3,
        "Exosome manufacturing and quality control",
        "Establish an isolation process and a characterisation panel for therapeutic exosomes, "
        "up to a first pilot batch made under GMP.",
        4, 33, Decimal("1500000"),
        (("ourthe", 22), ("famenne", 12), ("vesdre", 10), ("meuse_cell", 8), ("orneau", 8),
         ("lesse", 8), ("umosane", 8), ("ucondruse", 7), ("ush", 6), ("hu_dr", 6), ("fagne", 5)),
    ),
    WorkpackageSpec(
        4,
        "Phage therapy against resistant infections",
        "Build a characterised phage library and a process for personalised phage cocktails "
        "used under the magistral preparation framework.",
        1, 30, Decimal("2500000"),
        (("gaume", 40), ("ucondruse", 20), ("hu_dr", 15), ("vesdre", 15), ("semois", 10)),
    ),
    WorkpackageSpec(
        5,
        "GMP manufacturing scale-up and closed automated processing",
        "Extend the GMP cleanrooms, install closed automated processing platforms and transfer "
        "the partnership's first products to commercial-scale manufacturing.",
        1, 36, Decimal("28500000"),
        (("sambre", 36), ("dyle", 22), ("haine", 16), ("famenne", 10), ("condroz", 6),
         ("meuse_cell", 4), ("hesbaye", 3), ("fagne", 2), ("ush", 1)),
    ),
    WorkpackageSpec(
        6,
        "Quality control, release testing and potency assays",
        "Qualify rapid release methods and potency assays shared by the manufacturing partners.",
        3, 36, Decimal("10000000"),
        (("vesdre", 52), ("famenne", 18), ("sambre", 16), ("dyle", 14), ("ourthe", 5),
         ("umosane", 4), ("irms", 3)),
    ),
    WorkpackageSpec(
        7,
        "Preclinical models and safety assessment",
        "Provide the organoid and in vivo models, biodistribution and toxicity studies needed "
        "for the clinical trial applications.",
        1, 30, Decimal("3500000"),
        (("lesse", 34), ("orneau", 16), ("ubr", 14), ("umosane", 12), ("amble", 12),
         ("thyle", 12)),
    ),
    WorkpackageSpec(
        8,
        "Early-phase clinical trials and hospital exemption",
        "Run the first-in-human trial of the lead candidate and set up the hospital exemption "
        "route in the two university hospitals.",
        9, 36, Decimal("7000000"),
        (("hu_dr", 16), ("chu_pn", 10), ("dyle", 50), ("meuse_cell", 12), ("senne", 8),
         ("amble", 6), ("semois", 4), ("ush", 2)),
    ),
    WorkpackageSpec(
        9,
        "Regulatory affairs and market access",
        "Secure the regulatory path of every candidate and prepare reimbursement discussions.",
        6, 36, Decimal("2000000"),
        (("semois", 36), ("dyle", 28), ("biowin", 12), ("gaume", 12), ("hesbaye", 12)),
    ),
    WorkpackageSpec(
        10,
        "AI monitoring of decentralised cell-therapy manufacturing",
        "Monitor point-of-care manufacturing units remotely and predict batch failures with "
        "machine learning.",
        4, 27, Decimal("2000000"),
        (("mehaigne", 50), ("haine", 30), ("chu_pn", 20)),
    ),
    WorkpackageSpec(
        11,
        "Cryo-chain logistics and chain of identity",
        "Qualify the shipping lanes at cryogenic temperature and trace every patient's product "
        "from apheresis to infusion.",
        7, 36, Decimal("6500000"),
        (("condroz", 50), ("haine", 22), ("sambre", 16), ("fagne", 10), ("hu_dr", 4)),
    ),
    WorkpackageSpec(
        12,
        "Training, dissemination and partnership coordination",
        "Run the partnership, train operators and technicians for the new jobs, and share the "
        "results with the Walloon ecosystem.",
        1, 36, Decimal("2500000"),
        (("biowin", 64), ("ubr", 9), ("ush", 9), ("ucondruse", 9), ("irms", 9)),
    ),
)
# fmt: on


class DeliverableSpec(NamedTuple):
    title: str
    type: str
    dissemination: str
    due_month: int
    lead: str


T = DeliverableType
PU = Dissemination.PU
SEN = Dissemination.SEN
# Keyed by workpackage number; the position in the tuple is the deliverable's number (D<wp>.<n>).
# fmt: off
DELIVERABLES: dict[int, tuple[DeliverableSpec, ...]] = {
    1: (
        DeliverableSpec("Target product profiles of the autologous and allogeneic candidates",
                        T.R, SEN, 6, "meuse_cell"),
        DeliverableSpec("Optimised expansion protocol for mesenchymal stromal cells",
                        T.R, SEN, 12, "umosane"),
        DeliverableSpec("Allogeneic master cell bank characterisation", T.DATA, SEN, 18, "amble"),
        DeliverableSpec("CAR-NK process transferred to the GMP partner", T.DEM, SEN, 27, "senne"),
        DeliverableSpec("Final report on the cell therapy candidates and next steps",
                        T.R, PU, 36, "umosane"),
    ),
    2: (
        DeliverableSpec("Plasmid and cell line sourcing plan for AAV production",
                        T.R, SEN, 4, "hesbaye"),
        DeliverableSpec("Suspension AAV upstream process at 50 L scale", T.DEM, SEN, 15, "sambre"),
        DeliverableSpec("Lentiviral vector purification with improved recovery",
                        T.R, SEN, 21, "hesbaye"),
        DeliverableSpec("Validated full/empty capsid ratio method", T.R, SEN, 28, "vesdre"),
        DeliverableSpec("Comparative data set of vector yields across platforms",
                        T.DATA, PU, 34, "ubr"),
    ),
    3: (
        DeliverableSpec("Data management plan of the exosome work", T.DMP, PU, 6, "ourthe"),
        DeliverableSpec("Exosome isolation by tangential flow filtration: the process",
                        T.R, SEN, 12, "ourthe"),
        DeliverableSpec("Characterisation panel for extracellular vesicles",
                        T.R, PU, 18, "umosane"),
        DeliverableSpec("Pilot GMP batch of an exosome-based product", T.DEM, SEN, 27, "famenne"),
        DeliverableSpec("Proposed release specifications for exosome products",
                        T.R, SEN, 33, "vesdre"),
    ),
    4: (
        DeliverableSpec("Phage library against priority resistant pathogens",
                        T.DATA, SEN, 8, "gaume"),
        DeliverableSpec("Ethics approvals and consent documents for phage therapy",
                        T.ETHICS, SEN, 10, "hu_dr"),
        DeliverableSpec("Phage susceptibility testing protocol for hospital laboratories",
                        T.R, PU, 16, "ucondruse"),
        DeliverableSpec("Production process for personalised phage cocktails",
                        T.R, SEN, 24, "gaume"),
        DeliverableSpec("Regulatory options for magistral phage preparations",
                        T.R, PU, 30, "semois"),
    ),
    5: (
        DeliverableSpec("User requirements of the closed automated processing suite",
                        T.R, SEN, 3, "sambre"),
        DeliverableSpec("Cleanroom extension design and qualification plan", T.R, SEN, 9, "sambre"),
        DeliverableSpec("Closed automated platform installed and qualified",
                        T.DEM, SEN, 18, "haine"),
        DeliverableSpec("Technology transfer package of the first clinical product",
                        T.R, SEN, 24, "sambre"),
        DeliverableSpec("Three consecutive engineering runs at commercial scale",
                        T.DEM, SEN, 30, "dyle"),
        DeliverableSpec("Cost-of-goods model for decentralised and central manufacturing",
                        T.OTHER, SEN, 36, "fagne"),
    ),
    6: (
        DeliverableSpec("Analytical development plan for the partnership's products",
                        T.R, SEN, 6, "vesdre"),
        DeliverableSpec("Qualified rapid sterility and mycoplasma methods", T.R, SEN, 14, "vesdre"),
        DeliverableSpec("Potency assay of the lead cell therapy candidate",
                        T.R, SEN, 20, "famenne"),
        DeliverableSpec("Shared reference standards and control charts", T.DATA, SEN, 28, "vesdre"),
        DeliverableSpec("Validated release testing package for clinical batches",
                        T.R, SEN, 35, "dyle"),
    ),
    7: (
        DeliverableSpec("Animal welfare and ethics approvals of the in vivo studies",
                        T.ETHICS, SEN, 5, "lesse"),
        DeliverableSpec("Patient-derived organoid models for efficacy testing",
                        T.DEM, PU, 12, "orneau"),
        DeliverableSpec("Biodistribution study of the lead gene therapy vector",
                        T.R, SEN, 20, "lesse"),
        DeliverableSpec("Tumorigenicity and toxicity study reports", T.R, SEN, 26, "lesse"),
        DeliverableSpec("Preclinical data package for the clinical trial applications",
                        T.DATA, SEN, 30, "ubr"),
    ),
    8: (
        DeliverableSpec("Clinical development plan and trial synopses", T.R, SEN, 12, "hu_dr"),
        DeliverableSpec("Clinical trial application for the first-in-human study",
                        T.R, SEN, 18, "dyle"),
        DeliverableSpec("Hospital exemption framework and pharmacy procedures",
                        T.R, PU, 22, "chu_pn"),
        DeliverableSpec("Recruitment and safety report after the first patients",
                        T.R, SEN, 30, "hu_dr"),
        DeliverableSpec("Interim clinical study report", T.R, SEN, 36, "hu_dr"),
    ),
    9: (
        DeliverableSpec("Regulatory roadmap of each product candidate", T.R, SEN, 8, "semois"),
        DeliverableSpec("Scientific advice briefing documents", T.R, SEN, 14, "semois"),
        DeliverableSpec("ATMP classification requests filed", T.DEC, SEN, 20, "dyle"),
        DeliverableSpec("Health technology assessment and reimbursement scenarios",
                        T.R, PU, 28, "biowin"),
        DeliverableSpec("Market access guide for Walloon ATMP developers", T.R, PU, 36, "semois"),
    ),
    10: (
        DeliverableSpec("Sensor and data architecture of the decentralised units",
                        T.OTHER, SEN, 8, "mehaigne"),
        DeliverableSpec("Annotated process data set from point-of-care runs",
                        T.DATA, SEN, 14, "chu_pn"),
        DeliverableSpec("Machine-learning model predicting batch failures",
                        T.OTHER, SEN, 21, "mehaigne"),
        DeliverableSpec("Remote monitoring dashboard piloted at the hospital site",
                        T.DEM, PU, 27, "haine"),
    ),
    11: (
        DeliverableSpec("Requirements of the cryo-chain and chain of identity",
                        T.R, SEN, 9, "condroz"),
        DeliverableSpec("Qualified liquid-nitrogen dry shipper lanes", T.DEM, SEN, 16, "condroz"),
        DeliverableSpec("Chain-of-identity software interfaced with hospital systems",
                        T.OTHER, SEN, 24, "fagne"),
        DeliverableSpec("Temperature excursion data set and risk analysis",
                        T.DATA, SEN, 30, "haine"),
        DeliverableSpec("Logistics handbook for ATMP shipments in Belgium",
                        T.R, PU, 36, "condroz"),
    ),
    12: (
        DeliverableSpec("Partnership website and visual identity", T.DEC, PU, 3, "biowin"),
        DeliverableSpec("Communication and dissemination plan", T.R, PU, 6, "biowin"),
        DeliverableSpec("GMP and ATMP training curriculum for operators and technicians",
                        T.R, PU, 12, "ush"),
        DeliverableSpec("ATMP days: proceedings and attendance", T.DEC, PU, 24, "biowin"),
        DeliverableSpec("Exploitation and sustainability plan of the partnership",
                        T.R, SEN, 34, "biowin"),
    ),
}
# fmt: on


class MilestoneSpec(NamedTuple):
    title: str
    workpackages: tuple[int, ...]
    lead: str
    due_month: int
    means_of_verification: str


# Numbered MS1… in this order, across the whole partnership.
# fmt: off
MILESTONES: tuple[MilestoneSpec, ...] = (
    MilestoneSpec("Partnership kick-off and governance bodies in place", (12,), "biowin", 2,
                  "Signed consortium agreement and minutes of the kick-off meeting."),
    MilestoneSpec("User requirements of the GMP suite approved", (5,), "sambre", 4,
                  "User requirement specification signed by quality assurance."),
    MilestoneSpec("Target product profiles agreed", (1, 8), "meuse_cell", 6,
                  "Profiles approved by the steering committee."),
    MilestoneSpec("Phage library established", (4,), "gaume", 8,
                  "Library inventory with at least 50 characterised phages."),
    MilestoneSpec("Sensors installed at the decentralised pilot site", (10,), "mehaigne", 9,
                  "Installation report and first data received on the monitoring platform."),
    MilestoneSpec("Exosome isolation process frozen", (3,), "ourthe", 12,
                  "Process description placed under change control."),
    MilestoneSpec("Organoid efficacy models validated", (7,), "orneau", 12,
                  "Validation report with reference compounds."),
    MilestoneSpec("Rapid sterility method qualified", (6,), "vesdre", 14,
                  "Qualification report approved by quality assurance."),
    MilestoneSpec("AAV process reaches its target yield at 50 L", (2,), "hesbaye", 15,
                  "Batch records showing the target genome-copy yield on three runs."),
    MilestoneSpec("Cryogenic shipping lanes qualified", (11,), "condroz", 16,
                  "Lane qualification reports for the four hospital routes."),
    MilestoneSpec("Closed automated platform operational", (5,), "haine", 18,
                  "Installation, operational and performance qualification reports approved."),
    MilestoneSpec("Clinical trial application submitted", (8, 9), "dyle", 18,
                  "Acknowledgement of receipt from the competent authority."),
    MilestoneSpec("Mid-term review passed", (12,), "biowin", 18,
                  "The funder's mid-term review letter."),
    MilestoneSpec("Potency assay qualified", (6, 1), "famenne", 20,
                  "Qualification report of the potency assay."),
    MilestoneSpec("Batch-failure prediction model validated", (10,), "mehaigne", 21,
                  "Model performance report on held-out production runs."),
    MilestoneSpec("First personalised phage cocktail produced", (4,), "gaume", 24,
                  "Batch record and certificate of analysis."),
    MilestoneSpec("Technology transfer to GMP completed", (5, 1), "sambre", 24,
                  "Technology transfer report signed by both sites."),
    MilestoneSpec("Chain-of-identity system live", (11,), "fagne", 24,
                  "Go-live record and user acceptance tests."),
    MilestoneSpec("Exosome pilot batch released", (3, 6), "famenne", 27,
                  "Certificate of analysis of the pilot batch."),
    MilestoneSpec("Preclinical package complete", (7, 8), "lesse", 30,
                  "Data package accepted by the clinical partners."),
    MilestoneSpec("First patient dosed", (8,), "hu_dr", 30,
                  "Dosing confirmation filed in the trial master file."),
    MilestoneSpec("Engineering runs completed", (5,), "dyle", 30,
                  "Three batch records meeting the specifications."),
    MilestoneSpec("Release testing package validated", (6,), "vesdre", 35,
                  "Validation summary report."),
    MilestoneSpec("Final conference and sustainability plan adopted", (12, 9), "biowin", 36,
                  "Conference proceedings and the plan approved by the general assembly."),
)
# fmt: on


# ---------------------------------------------------------------------------------------------
# Budget profiles: how each kind of partner splits its money between the cost headings
# ---------------------------------------------------------------------------------------------


class BudgetProfile(NamedTuple):
    personnel: Decimal
    equipment: Decimal
    subcontracting: Decimal
    subcontracting_odds: float  # how often a participation has a subcontracting line at all
    monthly_cost: Decimal  # loaded cost of one person-month, to derive planned person-months


ACADEMIC = BudgetProfile(Decimal("0.58"), Decimal("0.08"), Decimal("0.05"), 0.35, Decimal(5600))
LARGE = BudgetProfile(Decimal("0.40"), Decimal("0.24"), Decimal("0.10"), 0.7, Decimal(8200))
SMALL = BudgetProfile(Decimal("0.50"), Decimal("0.12"), Decimal("0.10"), 0.6, Decimal(7400))
CLUSTER = BudgetProfile(Decimal("0.60"), Decimal("0.02"), Decimal("0.10"), 1.0, Decimal(7000))
PROFILES: dict[str, BudgetProfile] = {
    K.UNIVERSITY: ACADEMIC,
    K.UNIVERSITY_HOSPITAL: ACADEMIC,
    K.RESEARCH_CENTRE: ACADEMIC,
    K.LARGE_COMPANY: LARGE,
    K.SME: SMALL,
    K.START_UP: SMALL,
    K.NON_PROFIT: CLUSTER,
    K.PUBLIC_BODY: CLUSTER,
}

# The one line that ends up overspent, so that the dashboards have an overspend to show.
OVERSPENT_LINE = ("condroz", 11, "equipment")
OVERSPEND = Decimal("0.07")
OVERSPENT_PURCHASE = "Replacement dry shipper fleet after a lane qualification failure"

EXPENSE_TEXTS: dict[str, tuple[str, ...]] = {
    "operating": (
        "Cell culture media and supplements",
        "Single-use bioreactor bags",
        "Reagents for potency assays",
        "Plasmid DNA batch",
        "Cryovials and cryopreservation media",
        "Flow cytometry antibody panel",
        "Laboratory consumables (tips, tubes, filters)",
        "Chromatography resins and membranes",
        "Environmental monitoring consumables",
        "Travel to the partnership's technical meeting",
    ),
    "equipment": (
        "Depreciation – closed-system cell processor",
        "Depreciation – flow cytometer",
        "Depreciation – controlled-rate freezer",
        "Depreciation – bioreactor platform",
        "Depreciation – digital PCR system",
        "Depreciation – isolator",
        "Depreciation – liquid-nitrogen storage tanks",
    ),
    "subcontracting": (
        "Sterility testing by an external laboratory",
        "GLP toxicology study (contract research)",
        "Next-generation sequencing services",
        "Regulatory consultancy",
        "Cleanroom environmental monitoring service",
        "Plasmid manufacturing (contract)",
        "Event organisation and translation services",
    ),
}
REJECTION_REASONS = (
    "Missing proof of payment: resubmit with the bank statement.",
    "The invoice is addressed to another legal entity.",
    "This cost is not related to the workpackage.",
    "Duplicate of an expense already declared.",
)
PARTIAL_ACCEPTANCE = "VAT recovered by the partner is not eligible: accepted excluding VAT."
LATE_JUSTIFICATIONS = (
    "A failed batch had to be repeated before the report could be completed.",
    "We were waiting for the external laboratory's results.",
    "The steering committee widened the scope; the report covers the extended work.",
    "Key staff were on extended leave; the team completed the report afterwards.",
)
CHANGES_REQUESTED = (
    "Please add the statistical analysis of the three runs and the deviations list before we "
    "can approve this deliverable."
)


class JobProfile(NamedTuple):
    title: str
    category: str
    contracts: tuple[str, ...]


C = ContractType
JC = JobCategory
COMPANY_JOBS: tuple[JobProfile, ...] = (
    JobProfile("Bioprocess development scientist", JC.RESEARCHER, (C.PERMANENT,)),
    JobProfile("Cell therapy research scientist", JC.RESEARCHER, (C.PERMANENT, C.FIXED_TERM)),
    JobProfile("Cell culture technician", JC.TECHNICIAN, (C.PERMANENT, C.FIXED_TERM)),
    JobProfile("Analytical technician", JC.TECHNICIAN, (C.PERMANENT,)),
    JobProfile("GMP manufacturing operator", JC.PRODUCTION, (C.PERMANENT, C.FIXED_TERM)),
    JobProfile("Cleanroom operator", JC.PRODUCTION, (C.PERMANENT,)),
    JobProfile("Aseptic filling operator", JC.PRODUCTION, (C.PERMANENT,)),
    JobProfile("QC analyst", JC.QUALITY, (C.PERMANENT, C.FIXED_TERM)),
    JobProfile("QA officer", JC.QUALITY, (C.PERMANENT,)),
    JobProfile("Validation engineer", JC.QUALITY, (C.PERMANENT,)),
    JobProfile("Regulatory affairs officer", JC.QUALITY, (C.PERMANENT,)),
    JobProfile("Project manager", JC.SUPPORT, (C.PERMANENT,)),
    JobProfile("Supply chain coordinator", JC.SUPPORT, (C.PERMANENT,)),
)
ACADEMIC_JOBS: tuple[JobProfile, ...] = (
    JobProfile("Doctoral researcher in cell therapy", JC.RESEARCHER, (C.PHD,)),
    JobProfile("Doctoral researcher in gene therapy", JC.RESEARCHER, (C.PHD,)),
    JobProfile("Post-doctoral researcher", JC.RESEARCHER, (C.POSTDOC,)),
    JobProfile("Research technician", JC.TECHNICIAN, (C.FIXED_TERM,)),
    JobProfile("Clinical research associate", JC.SUPPORT, (C.FIXED_TERM, C.PERMANENT)),
    JobProfile("Hospital pharmacist (ATMP)", JC.QUALITY, (C.PERMANENT,)),
)
CLUSTER_JOBS: tuple[JobProfile, ...] = (
    JobProfile("Training programme manager", JC.SUPPORT, (C.PERMANENT,)),
    JobProfile("Project officer", JC.SUPPORT, (C.FIXED_TERM,)),
)
# fmt: off
INDIRECT_JOBS: tuple[JobProfile, ...] = (
    JobProfile("Supplier-side production operator", JC.PRODUCTION, (C.PERMANENT, C.FIXED_TERM)),
    JobProfile("Cleanroom construction and maintenance technician", JC.TECHNICIAN,
               (C.PERMANENT, C.FIXED_TERM)),
    JobProfile("Cryogenic shipment driver", JC.SUPPORT, (C.PERMANENT,)),
    JobProfile("Contract laboratory QC analyst", JC.QUALITY, (C.PERMANENT, C.FIXED_TERM)),
    JobProfile("Facility services technician", JC.TECHNICIAN, (C.PERMANENT,)),
    JobProfile("Clinical research nurse", JC.SUPPORT, (C.FIXED_TERM, C.PERMANENT)),
    JobProfile("IT support engineer (service provider)", JC.SUPPORT, (C.PERMANENT,)),
    JobProfile("Raw-materials warehouse operator", JC.PRODUCTION, (C.PERMANENT,)),
)
# fmt: on
DIRECT_JOBS: dict[str, tuple[JobProfile, ...]] = {
    K.NON_PROFIT: CLUSTER_JOBS,
    K.UNIVERSITY: ACADEMIC_JOBS,
    K.UNIVERSITY_HOSPITAL: ACADEMIC_JOBS,
    K.RESEARCH_CENTRE: ACADEMIC_JOBS,
}  # companies hire from COMPANY_JOBS
CONTRACT_MONTHS: dict[str, int | None] = {
    C.PERMANENT: None,
    C.FIXED_TERM: 36,
    C.PHD: 48,
    C.POSTDOC: 24,
}
REALISED_SHARE = (52, 68)  # per cent of each partner's commitment already hired


# ---------------------------------------------------------------------------------------------
# What the build produces
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DemoSummary:
    """The headline figures of the demo, for the command's report."""

    acronym: str
    partners: int
    workpackages: int
    deliverables: int
    deliverables_by_status: dict[str, int]
    overdue_deliverables: int
    milestones: int
    milestones_by_status: dict[str, int]
    planned_total: Decimal
    granted_total: Decimal
    expenses: int
    expenses_by_status: dict[str, int]
    accepted_total: Decimal
    overspent_lines: int
    jobs: dict[str, int]

    @property
    def granted_share(self) -> Decimal:
        """Granted money as a percentage of the planned budget."""
        if not self.planned_total:
            return Decimal(0)
        return (self.granted_total * 100 / self.planned_total).quantize(CENT)


@dataclasses.dataclass
class Context:
    """What every builder needs: the consortium, its people and a shared random generator."""

    consortium: Consortium
    coordinator: Any
    rng: random.Random
    today: datetime.date
    partners: dict[str, Partner] = dataclasses.field(default_factory=dict)
    authors: dict[int, Any] = dataclasses.field(default_factory=dict)
    workpackages: dict[int, Workpackage] = dataclasses.field(default_factory=dict)
    categories: dict[str, CostCategory] = dataclasses.field(default_factory=dict)
    periods: list[ReportingPeriod] = dataclasses.field(default_factory=list)

    def author(self, partner: Partner) -> Any:
        """The user who types in a partner's data: its demo login if it has one."""
        return self.authors.get(partner.pk, self.coordinator)


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def demo_exists() -> bool:
    """True when the demo consortium is already in the database."""
    return Consortium.objects.filter(acronym=ACRONYM).exists()


def coordinator_user() -> Any:
    """The demo's coordinator login."""
    return get_user_model().objects.get(username=COORDINATOR.username)


def build_demo(*, seed: int = DEMO_SEED) -> DemoSummary:
    """Create the whole demo in one transaction and return its figures.

    The caller checks `demo_exists()` first: building twice would collide on the acronym.
    """
    # A reproducible generator for demo data, not for anything secret.
    rng = random.Random(seed)  # noqa: S311
    with transaction.atomic():
        users = build_users()
        coordinator = users[COORDINATOR.username]
        today = timezone.localdate()
        # Set up by the command itself, as a superuser would: the coordinator runs it from there.
        values: dict[str, Any] = {**CONSORTIUM, **demo_calendar(today)}
        consortium = consortium_create(user=None, **values)
        ctx = Context(
            consortium=consortium,
            coordinator=coordinator,
            rng=rng,
            today=today,
            categories={c.code: c for c in consortium.cost_categories.all()},
            periods=list(consortium.periods.order_by("number")),
        )
        build_partners(ctx)
        build_roles(ctx, users)
        plans = plan_budget(ctx)
        build_workpackages(ctx, plans)
        deliverables = build_deliverables(ctx)
        milestones = build_milestones(ctx)
        build_budget_lines(ctx, plans)
        build_effort(ctx, plans)
        build_expenses(ctx)
        build_statements(ctx)
        build_jobs(ctx)
        record_deliverable_progress(ctx, deliverables)
        record_milestone_progress(ctx, milestones)
        return summarise(consortium)


# ---------------------------------------------------------------------------------------------
# Arithmetic helpers
# ---------------------------------------------------------------------------------------------


def apportion(total: Decimal, weights: Sequence[int], unit: Decimal) -> list[Decimal]:
    """Split `total` in proportion to `weights` in multiples of `unit`, summing exactly to `total`.

    Leftover units go to the largest remainders (Hamilton's method) so no share drifts by more than
    one unit; a sub-unit rest, if `total` is not a multiple of `unit`, goes on the largest share.
    """
    weight_sum = sum(weights)
    if weight_sum <= 0:
        raise ValueError("apportion() needs at least one positive weight")
    units = int(total // unit)
    rest = total - units * unit
    counts = [units * w // weight_sum for w in weights]
    by_remainder = sorted(
        range(len(weights)), key=lambda i: (-(units * weights[i] % weight_sum), i)
    )
    for i in by_remainder[: units - sum(counts)]:
        counts[i] += 1
    shares = [n * unit for n in counts]
    largest = max(range(len(shares)), key=lambda i: shares[i])
    shares[largest] += rest
    return shares


def enterprise_number(rng: random.Random, taken: set[str]) -> str:
    """A valid, unused Belgian enterprise number: 0 + 7 digits, then the modulo-97 check digits."""
    while True:
        base = f"0{rng.randrange(2_000_000, 9_999_999):07d}"
        number = f"{base}{97 - int(base) % 97:02d}"
        if number not in taken:
            taken.add(number)
            return number


def month_overlap(start_month: int, end_month: int, period_start: int, period_end: int) -> int:
    """How many project months of [start_month, end_month] fall in [period_start, period_end]."""
    return max(0, min(end_month, period_end) - max(start_month, period_start) + 1)


def period_months(ctx: Context, period: ReportingPeriod) -> tuple[int, int]:
    """The first and last project month of a reporting period."""
    start = ctx.consortium.start_date
    return dates.months_between(start, period.start_date), dates.months_between(
        start, period.end_date
    )


def random_day(rng: random.Random, first: datetime.date, last: datetime.date) -> datetime.date:
    """A day between `first` and `last` inclusive (`first` if the range is empty)."""
    span = (last - first).days
    return first + datetime.timedelta(days=rng.randint(0, span)) if span > 0 else first


def local_datetime(day: datetime.date, hour: int) -> datetime.datetime:
    """An aware datetime on `day` at `hour` o'clock in the project's time zone."""
    return datetime.datetime.combine(
        day, datetime.time(hour), tzinfo=timezone.get_current_timezone()
    )


# ---------------------------------------------------------------------------------------------
# Saving the demo's rows
# ---------------------------------------------------------------------------------------------


def validate_new(instance: Any) -> None:
    """Validate a new demo row by what only Python checks: each field's own validators and the
    model's `clean()` (dates within their period, amounts derived from the partner's rate, every
    relation in the row's consortium, a budget line behind each expense...).

    `full_clean()` would also ask the database, one query at a time, whether each foreign key
    exists and whether the row passes each uniqueness and check constraint: a dozen queries per
    row, two thirds of the demo's build time for thousands of rows. The database checks all of
    these itself when the row is written (foreign keys at the latest when the build's transaction
    commits): a demo row that broke one would stop the build with an `IntegrityError` instead of a
    `ValidationError`.
    """
    relations = [field.name for field in instance._meta.concrete_fields if field.is_relation]
    instance.clean_fields(exclude=relations)
    instance.clean()


def save_new(instance: Any, *, user: Any) -> None:
    """Save a new demo row as `consortium.services.save_with_history` does, `user` as the author
    of its history row, validated by `validate_new()`."""
    validate_new(instance)
    instance._history_user = user
    instance.save()


# ---------------------------------------------------------------------------------------------
# Builders, one per area
# ---------------------------------------------------------------------------------------------


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


def build_budget_lines(ctx: Context, plans: list[ParticipationPlan]) -> None:
    """One line per participant × workpackage × heading; granted = planned × the partner's rate."""
    for plan in plans:
        for code, amount in plan.amounts.items():
            line = BudgetLine(
                partner=ctx.partners[plan.partner_key],
                workpackage=ctx.workpackages[plan.wp_number],
                category=ctx.categories[code],
                planned_amount=amount,
            )
            save_new(line, user=ctx.coordinator)


def build_effort(ctx: Context, plans: list[ParticipationPlan]) -> None:
    """Planned person-months per partner × workpackage × period, with actuals for ended periods."""
    specs = {wp.number: wp for wp in WORKPACKAGES}
    rows = []
    for plan in plans:
        wp = specs[plan.wp_number]
        active = [
            (period, month_overlap(wp.start_month, wp.end_month, *period_months(ctx, period)))
            for period in ctx.periods
        ]
        active = [(period, months) for period, months in active if months]
        planned = apportion(plan.person_months, [m for _p, m in active], CENT)
        for (period, _months), person_months in zip(active, planned, strict=True):
            actual = None
            if period.end_date < ctx.today:
                actual = (person_months * ctx.rng.randint(80, 110) / 100).quantize(Decimal("0.1"))
            effort = Effort(
                consortium=ctx.consortium,
                partner=ctx.partners[plan.partner_key],
                workpackage=ctx.workpackages[plan.wp_number],
                period=period,
                planned_person_months=person_months,
                actual_person_months=actual,
            )
            validate_new(effort)
            rows.append(effort)
    bulk_create_with_history(rows, Effort, default_user=ctx.coordinator)


def build_expenses(ctx: Context) -> None:
    """Expenses for the ended periods (mostly accepted), drafts in the current one, one overspend.

    Each actual-cost line declares 72–92 % of its pro-rata share of the elapsed months, so no line
    but the chosen one can exceed its plan; flat-rate overheads are never declared.
    """
    ended = [p for p in ctx.periods if p.end_date < ctx.today]
    current = next((p for p in ctx.periods if p.contains(ctx.today)), None)
    lines = list(
        BudgetLine.objects.filter(consortium=ctx.consortium, status=BudgetLineStatus.ACTIVE)
        .exclude(category__kind=CostCategoryKind.FLAT_RATE)
        .select_related("partner", "workpackage", "category")
        .order_by("partner__number", "workpackage__number", "category__position")
    )
    counter = itertools.count(1)
    for line in lines:
        for period, amount in line_declarations(ctx, line, ended):
            expense = draft_expense(ctx, line, period, amount, next(counter))
            settle_expense(ctx, expense, latest=period == ended[-1])
    if current is not None:
        draft_current_period(ctx, lines, current, counter)
    overspend(ctx, ended, counter)


def line_declarations(
    ctx: Context, line: BudgetLine, ended: list[ReportingPeriod]
) -> list[tuple[ReportingPeriod, Decimal]]:
    """How much a line declares in each ended period in which its workpackage ran."""
    wp = line.workpackage
    active = [
        (period, month_overlap(wp.start_month, wp.end_month, *period_months(ctx, period)))
        for period in ended
    ]
    active = [(period, months) for period, months in active if months]
    if not active:
        return []
    wp_months = wp.end_month - wp.start_month + 1
    share = Decimal(sum(months for _p, months in active)) / wp_months
    if line.category.code in {"equipment", "subcontracting"}:
        # Purchases and contracts come in lumps: not every period has one.
        active = [(p, m) for p, m in active if ctx.rng.random() < 0.45] or [active[-1]]
    total = (line.planned_amount * share * ctx.rng.randint(72, 92) / 100).quantize(CENT)
    weights = [months * ctx.rng.randint(85, 115) for _p, months in active]
    return list(zip([p for p, _m in active], apportion(total, weights, CENT), strict=True))


def draft_expense(
    ctx: Context,
    line: BudgetLine,
    period: ReportingPeriod,
    amount: Decimal,
    sequence: int,
    *,
    last_day: datetime.date | None = None,
    description: str = "",
) -> Expense:
    """A draft expense on `line` in `period`, saved as its partner's user would type it in."""
    code = line.category.code
    # Costs fall within both the period and the months the workpackage runs.
    start = ctx.consortium.start_date
    first = max(period.start_date, dates.add_months(start, line.workpackage.start_month - 1))
    last = min(
        period.end_date,
        dates.month_end(start, line.workpackage.end_month),
        last_day or period.end_date,
    )
    if code == "personnel":
        incurred_on = last
        description = description or (
            f"Personnel costs P{period.number}: salaries and employer contributions"
        )
        reference = f"PAY-{line.partner.number:02d}-{period.start_date:%Y}-{period.number}"
    else:
        incurred_on = random_day(ctx.rng, first, last)
        description = description or ctx.rng.choice(EXPENSE_TEXTS[code])
        reference = f"INV-{incurred_on:%Y}-{sequence:05d}"
    expense = Expense(
        partner=line.partner,
        workpackage=line.workpackage,
        category=line.category,
        period=period,
        incurred_on=incurred_on,
        amount=amount,
        description=description,
        invoice_reference=reference,
    )
    save_new(expense, user=ctx.author(line.partner))
    return expense


def settle_expense(ctx: Context, expense: Expense, *, latest: bool) -> None:
    """Submit, then accept (sometimes in part), reject or leave awaiting review.

    The latest ended period is still being reviewed, so more of its expenses wait.
    """
    submitted, reviewed = review_moments(ctx, expense.period)
    expense_submit(expense=expense, user=ctx.author(expense.partner), now=submitted)
    draw = ctx.rng.random()
    waiting, rejected, partial = (0.18, 0.03, 0.02) if latest else (0.0, 0.025, 0.025)
    if draw < waiting:
        return
    if draw < waiting + rejected:
        expense_reject(
            expense=expense,
            user=ctx.coordinator,
            comment=ctx.rng.choice(REJECTION_REASONS),
            now=reviewed,
        )
    elif draw < waiting + rejected + partial:
        expense_accept(
            expense=expense,
            user=ctx.coordinator,
            accepted_amount=(expense.amount / Decimal("1.21")).quantize(CENT),
            comment=PARTIAL_ACCEPTANCE,
            now=reviewed,
        )
    else:
        expense_accept(expense=expense, user=ctx.coordinator, now=reviewed)


def review_moments(
    ctx: Context, period: ReportingPeriod
) -> tuple[datetime.datetime, datetime.datetime]:
    """When a period's expense was submitted (after the period) and reviewed (weeks later)."""
    yesterday = ctx.today - datetime.timedelta(days=1)
    submitted = min(period.end_date + datetime.timedelta(days=ctx.rng.randint(5, 25)), yesterday)
    reviewed = min(submitted + datetime.timedelta(days=ctx.rng.randint(5, 30)), yesterday)
    return (
        local_datetime(submitted, ctx.rng.randint(9, 17)),
        local_datetime(reviewed, ctx.rng.randint(9, 17)),
    )


def draft_current_period(
    ctx: Context, lines: Sequence[BudgetLine], current: ReportingPeriod, counter: Iterator[int]
) -> None:
    """A few operating-cost drafts in the running period, and a handful already submitted."""
    first, last = period_months(ctx, current)
    candidates = [
        line
        for line in lines
        if line.category.code == "operating"
        and month_overlap(line.workpackage.start_month, line.workpackage.end_month, first, last)
    ]
    yesterday = max(current.start_date, ctx.today - datetime.timedelta(days=1))
    for index, line in enumerate(ctx.rng.sample(candidates, min(20, len(candidates)))):
        amount = (line.planned_amount * ctx.rng.randint(15, 45) / 1000).quantize(CENT)
        expense = draft_expense(ctx, line, current, amount, next(counter), last_day=yesterday)
        if index % 4 == 0:
            expense_submit(expense=expense, user=ctx.author(line.partner))


def overspend(ctx: Context, ended: list[ReportingPeriod], counter: Iterator[int]) -> None:
    """Push one equipment line past its plan with an accepted purchase, as happens in real life."""
    key, wp_number, code = OVERSPENT_LINE
    line = BudgetLine.objects.get(
        partner=ctx.partners[key],
        workpackage=ctx.workpackages[wp_number],
        category=ctx.categories[code],
    )
    wp = line.workpackage
    periods = [
        p for p in ended if month_overlap(wp.start_month, wp.end_month, *period_months(ctx, p))
    ]
    if not periods:
        return
    accepted = Expense.objects.filter(
        partner=line.partner,
        workpackage=line.workpackage,
        category=line.category,
        status=ExpenseStatus.ACCEPTED,
    ).aggregate(total=Sum("accepted_amount"))["total"] or Decimal(0)
    # SQLite sums decimals as floats: round back to cents.
    amount = (line.planned_amount * (1 + OVERSPEND) - accepted).quantize(CENT)
    expense = draft_expense(
        ctx,
        line,
        periods[-1],
        amount,
        next(counter),
        description=OVERSPENT_PURCHASE,
    )
    submitted, reviewed = review_moments(ctx, periods[-1])
    expense_submit(expense=expense, user=ctx.author(line.partner), now=submitted)
    expense_accept(expense=expense, user=ctx.coordinator, now=reviewed)


def build_statements(ctx: Context) -> None:
    """Every partner's statement for each ended period, filed when its lines were sent, except
    the finance login's partner's latest one: that statement is still to be submitted.

    A statement declares its partner's lines of the period (as `statement_submit` records them,
    withdrawn ones aside); a partner that spent nothing in a period still files one, empty, a
    fortnight after the period ends. A period that ended yesterday has no statement yet: one is
    filed the day after the period at the earliest.
    """
    yesterday = ctx.today - datetime.timedelta(days=1)
    ended = [p for p in ctx.periods if p.end_date < ctx.today]
    filed = [p for p in ended if p.end_date < yesterday]
    figures = {
        (row["partner"], row["period"]): row
        for row in Expense.objects.filter(consortium=ctx.consortium, period__in=filed)
        .exclude(status=ExpenseStatus.WITHDRAWN)
        .values("partner", "period")
        .annotate(lines=Count("pk"), total=Sum("amount"), sent=Max("submitted_at"))
    }
    left_open = (ctx.partners[PARTNER_FINANCE_AT].pk, ended[-1].pk) if ended else None
    for partner in sorted(ctx.partners.values(), key=lambda p: p.number):
        for period in filed:
            if (partner.pk, period.pk) == left_open:
                continue
            row = figures.get((partner.pk, period.pk), {})
            earliest = local_datetime(period.end_date + datetime.timedelta(days=1), 9)
            fortnight = min(period.end_date + datetime.timedelta(days=14), yesterday)
            statement = Statement(
                partner=partner,
                period=period,
                submitted_at=max(row.get("sent") or local_datetime(fortnight, 10), earliest),
                submitted_by=ctx.author(partner),
                lines=row.get("lines", 0),
                # SQLite sums decimals as floats: round back to cents.
                total=Decimal(str(row.get("total") or 0)).quantize(CENT),
            )
            save_new(statement, user=ctx.author(partner))


def build_jobs(ctx: Context) -> None:
    """One record per position, on the way to the partners' commitments (470 and 1,200).

    Part of each commitment is already hired (realised, with a start date in the past); the rest
    is forecast to start before the jobs horizon.
    """
    horizon = ctx.consortium.jobs_horizon_date - datetime.timedelta(days=1)
    hired_from = dates.add_months(ctx.consortium.start_date, 2)
    workpackages: dict[str, list[Workpackage]] = {}
    for wp_spec in WORKPACKAGES:
        for key, _weight in wp_spec.participants:
            workpackages.setdefault(key, []).append(ctx.workpackages[wp_spec.number])
    rows = []
    for spec in PARTNERS:
        partner = ctx.partners[spec.key]
        direct_profiles = DIRECT_JOBS.get(spec.kind, COMPANY_JOBS)
        for impact, count, profiles in (
            (JobImpact.DIRECT, spec.jobs_direct, direct_profiles),
            (JobImpact.INDIRECT, spec.jobs_indirect, INDIRECT_JOBS),
        ):
            realised = round(count * ctx.rng.randint(*REALISED_SHARE) / 100)
            for index in range(count):
                is_realised = index < realised and hired_from < ctx.today
                if is_realised:
                    start = random_day(ctx.rng, hired_from, ctx.today - datetime.timedelta(days=7))
                else:
                    start = random_day(ctx.rng, ctx.today + datetime.timedelta(days=14), horizon)
                rows.append(
                    job_record(
                        ctx,
                        partner,
                        impact,
                        profiles,
                        start,
                        realised=is_realised,
                        workpackages=workpackages.get(spec.key, []),
                    )
                )
    for row in rows:
        validate_new(row)
    bulk_create_with_history(rows, JobRecord, default_user=ctx.coordinator)


def job_record(
    ctx: Context,
    partner: Partner,
    impact: str,
    profiles: Sequence[JobProfile],
    start: datetime.date,
    *,
    realised: bool,
    workpackages: Sequence[Workpackage],
) -> JobRecord:
    """One position, its contract and FTE; direct jobs are attached to one of the partner's WPs."""
    rng = ctx.rng
    profile = rng.choice(profiles)
    contract = rng.choice(profile.contracts)
    term = CONTRACT_MONTHS[contract]
    fte = Decimal(1) if rng.random() < 0.72 else Decimal(rng.choice((2, 4, 5, 6, 8, 9))) / 10
    workpackage = None
    if impact == JobImpact.DIRECT and workpackages:
        workpackage = rng.choice(workpackages)
    if realised:
        evidence = (
            "Employment declared (Dimona) and payroll record on file."
            if impact == JobImpact.DIRECT
            else "Supplier's attestation of the jobs created for the partnership."
        )
    else:
        evidence = f"Hiring plan {start:%Y}."
    return JobRecord(
        consortium=ctx.consortium,
        partner=partner,
        workpackage=workpackage,
        position_title=profile.title,
        category=profile.category,
        contract_type=contract,
        fte=fte,
        start_date=start,
        end_date=dates.add_months(start, term) if term else None,
        impact=impact,
        status=JobStatus.REALISED if realised else JobStatus.FORECAST,
        evidence_note=evidence,
    )


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
            milestone_miss(milestone=milestone, user=ctx.coordinator)
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


def summarise(consortium: Consortium) -> DemoSummary:
    """Count what was built, from the database rather than from the builders' bookkeeping."""
    lines = BudgetLine.objects.filter(consortium=consortium, status=BudgetLineStatus.ACTIVE)
    money = lines.aggregate(planned=Sum("planned_amount"), granted=Sum("granted_amount"))
    expenses = Expense.objects.filter(consortium=consortium)
    accepted = expenses.filter(status=ExpenseStatus.ACCEPTED)
    accepted_on_line = (
        Expense.objects.filter(
            partner=OuterRef("partner"),
            workpackage=OuterRef("workpackage"),
            category=OuterRef("category"),
            status=ExpenseStatus.ACCEPTED,
        )
        .order_by()
        .values("partner")
        .annotate(total=Sum("accepted_amount"))
        .values("total")
    )
    overspent = (
        lines.annotate(accepted=Subquery(accepted_on_line))
        .filter(accepted__gt=F("planned_amount"))
        .count()
    )
    jobs = JobRecord.objects.filter(consortium=consortium)
    job_counts = {
        f"{row['impact']}_{row['status']}": row["n"]
        for row in jobs.values("impact", "status").annotate(n=Count("pk"))
    }
    deliverables = Deliverable.objects.filter(consortium=consortium)
    milestones = Milestone.objects.filter(consortium=consortium)
    return DemoSummary(
        acronym=consortium.acronym,
        partners=consortium.partners.count(),
        workpackages=consortium.workpackages.count(),
        deliverables=deliverables.count(),
        deliverables_by_status=status_counts(deliverables),
        overdue_deliverables=deliverables.overdue().count(),
        milestones=milestones.count(),
        milestones_by_status=status_counts(milestones),
        planned_total=money["planned"] or Decimal(0),
        granted_total=money["granted"] or Decimal(0),
        expenses=expenses.count(),
        expenses_by_status=status_counts(expenses),
        accepted_total=accepted.aggregate(total=Sum("accepted_amount"))["total"] or Decimal(0),
        overspent_lines=overspent,
        jobs=job_counts,
    )


def status_counts(queryset: Any) -> dict[str, int]:
    """Rows per status, in a stable order."""
    rows = queryset.order_by("status").values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in rows}


def partner_name(key: str) -> str:
    """The short name of a demo partner, from its key in `PARTNERS`."""
    return next(spec.short_name for spec in PARTNERS if spec.key == key)
