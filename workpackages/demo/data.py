"""The PIT-ATMP demo's data: the consortium, its 26 partners, 12 workpackages with their
deliverables and milestones, how each kind of partner spends and hires, and the texts of its
expenses and decisions. BioWin is the only real organisation; everything else is invented.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from consortium.choices import (
    OrganisationKind,
)
from workpackages.jobs.choices import ContractType, JobCategory
from workpackages.workplan.choices import DeliverableType, Dissemination

EURO = Decimal(1)


HUNDRED_EUROS = Decimal(100)


DEMO_SEED = 2024


DEMO_PASSWORD = "demo"  # noqa: S105  (published demo logins, refused unless DEBUG or --force)


DEMO_EMAIL_DOMAIN = "pit-atmp.example"


ACRONYM = "PIT-ATMP"


TOTAL_BUDGET = Decimal("81000000.00")


CONSORTIUM: dict[str, Any] = {
    "acronym": ACRONYM,
    "name": "Technological Innovation Partnership in Advanced Therapy Medicinal Products",
    "name_fr": "Partenariat d'innovation technologique en médicaments de thérapie innovante",
    "agreement_number": "PIT-ATMP-2024-01",
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


# The headings whose expenses are sent with their evidence file: the consortium adopted the rule
# in the running period, so the lines of the ended periods stay as they were sent.
EVIDENCE_REQUIRED = ("operating", "subcontracting")


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
