"""How job records read and are written in the API; their status changes through the actions
(realise, withdraw), which call the services.
"""

from __future__ import annotations

from consortium.api.fields import RecordSerializer
from workpackages.jobs.models import JobRecord


class JobRecordSerializer(RecordSerializer):
    class Meta:
        model = JobRecord
        fields = [
            "id",
            "consortium",
            "partner",
            "workpackage",
            "position_title",
            "category",
            "contract_type",
            "fte",
            "start_date",
            "end_date",
            "impact",
            "status",
            "evidence_note",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["consortium", "status"]
        owner_fields = ["partner"]
