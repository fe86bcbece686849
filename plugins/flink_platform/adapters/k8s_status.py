"""Interpretation of FlinkDeployment / FlinkStateSnapshot status (operator vocabulary).

``status.lifecycleState`` is taken as is (a CR without status yet is CREATED); the job
state, id, last savepoint and checkpoint come from ``status.jobStatus``; ``status.error``
(the operator writes a JSON object with type, message and throwableList) becomes one
readable line per cause.
"""

from __future__ import annotations

import json
from typing import Any

from flink_platform.adapters.base import FlinkJobStatus


def parse_error(raw: str | None) -> str | None:
    """The operator's ``status.error`` as readable text (type: message; caused by ...)."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return str(raw)
    if not isinstance(data, dict):
        return str(raw)
    lines = [f"{data.get('type', 'error').rsplit('.', 1)[-1]}: {data.get('message', '')}".strip()]
    for cause in data.get("throwableList") or []:
        text = f"caused by {cause.get('type', '').rsplit('.', 1)[-1]}: {cause.get('message', '')}"
        if text not in lines:
            lines.append(text)
    return "\n".join(lines)


def interpret(job: str, obj: dict[str, Any]) -> FlinkJobStatus:
    """FlinkJobStatus of one FlinkDeployment object."""
    status = obj.get("status") or {}
    job_status = status.get("jobStatus") or {}
    savepoints = job_status.get("savepointInfo") or {}
    checkpoints = job_status.get("checkpointInfo") or {}
    last_cp = checkpoints.get("lastCheckpoint") or {}
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return FlinkJobStatus(
        name=job,
        lifecycle_state=status.get("lifecycleState") or "CREATED",
        job_state=job_status.get("state"),
        job_id=job_status.get("jobId"),
        version=labels.get("app.kubernetes.io/version"),
        last_checkpoint=last_cp.get("location") or (
            f"checkpoint@{last_cp['timeStamp']}" if last_cp.get("timeStamp") else None),
        last_savepoint=(savepoints.get("lastSavepoint") or {}).get("location")
        or job_status.get("upgradeSavepointPath"),
        error=parse_error(status.get("error")),
        details={
            "jobManagerDeploymentStatus": status.get("jobManagerDeploymentStatus"),
            "reconciliationState": (status.get("reconciliationStatus") or {}).get("state"),
            "observedGeneration": status.get("observedGeneration"),
            "generation": (obj.get("metadata") or {}).get("generation"),
        },
    )


def snapshot_result(obj: dict[str, Any]) -> str | None:
    """Path of a COMPLETED FlinkStateSnapshot, None while pending; raises on FAILED/ABANDONED."""
    status = obj.get("status") or {}
    state = status.get("state")
    if state == "COMPLETED":
        return status.get("path")
    if state in ("FAILED", "ABANDONED"):
        name = (obj.get("metadata") or {}).get("name")
        raise RuntimeError(f"FlinkStateSnapshot {name} {state}: "
                           f"{status.get('error') or 'no error text'}")
    return None
