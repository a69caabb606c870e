"""A partner's roles, lines, expenses and jobs stay within its own consortium, checked by PostgreSQL.

Every consortium-owned row carries `consortium_id`; a composite foreign key
(relation_id, consortium_id) → (id, consortium_id) makes the database refuse a row whose related
partner, workpackage, heading or period belongs to another consortium. SQLite (the embedded default
for `make run`) cannot add constraints to existing tables; model validation covers it there.
"""

from django.db import migrations

# (table, column, referenced table)
SAME_CONSORTIUM_KEYS = [
    ("workpackages_workpackage", "lead_partner_id", "consortium_partner"),
    ("workpackages_workpackageparticipant", "workpackage_id", "workpackages_workpackage"),
    ("workpackages_workpackageparticipant", "partner_id", "consortium_partner"),
    ("workpackages_deliverable", "workpackage_id", "workpackages_workpackage"),
    ("workpackages_deliverable", "lead_partner_id", "consortium_partner"),
    ("workpackages_milestone", "lead_partner_id", "consortium_partner"),
    ("workpackages_budgetline", "partner_id", "consortium_partner"),
    ("workpackages_budgetline", "workpackage_id", "workpackages_workpackage"),
    ("workpackages_budgetline", "category_id", "consortium_costcategory"),
    ("workpackages_expense", "partner_id", "consortium_partner"),
    ("workpackages_expense", "workpackage_id", "workpackages_workpackage"),
    ("workpackages_expense", "category_id", "consortium_costcategory"),
    ("workpackages_expense", "period_id", "consortium_reportingperiod"),
    ("workpackages_effort", "partner_id", "consortium_partner"),
    ("workpackages_effort", "workpackage_id", "workpackages_workpackage"),
    ("workpackages_effort", "period_id", "consortium_reportingperiod"),
    ("workpackages_jobrecord", "partner_id", "consortium_partner"),
    ("workpackages_jobrecord", "workpackage_id", "workpackages_workpackage"),
]


def _name(table: str, column: str) -> str:
    return f"{table.split('_', 1)[1]}_{column.removesuffix('_id')}_same_consortium"[:63]


def add_keys(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column, target in SAME_CONSORTIUM_KEYS:
        schema_editor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {_name(table, column)} "
            f"FOREIGN KEY ({column}, consortium_id) REFERENCES {target} (id, consortium_id)"
        )


def drop_keys(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column, _target in SAME_CONSORTIUM_KEYS:
        schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {_name(table, column)}")


class Migration(migrations.Migration):
    dependencies = [
        ("consortium", "0001_initial"),
        ("workpackages", "0001_initial"),
    ]

    operations = [migrations.RunPython(add_keys, drop_keys)]
