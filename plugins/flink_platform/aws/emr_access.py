"""EMR on EKS cluster access: an EKS access entry maps the EMR service-linked role
(``AWSServiceRoleForAmazonEMRContainers``) to the Kubernetes user ``emr-containers``, which
the ``emr-containers`` Role/RoleBinding of the job namespace authorises
(include/manifests/platform/emr-rbac.yaml). Both exist before the virtual cluster is
created; teardown removes the entry after the virtual cluster and before the namespaces.

On ``local`` there is no Kubernetes API behind the emulated cluster (and moto has no
access entries): the step is skipped there.
"""

from __future__ import annotations

from typing import Any

from flink_platform.aws.clients import check_drift, client, error_code, is_not_found
from flink_platform.aws.specs import EMR_CONTAINERS_USER, PlatformSpec

SKIPPED = "not applicable on local: no Kubernetes API behind the emulated EKS cluster"


def ensure_emr_access(spec: PlatformSpec, account: str) -> dict[str, Any]:
    """The access entry of the EMR service-linked role (created once, drift-checked)."""
    if spec.cfg.target == "local":
        return {"emr_access": SKIPPED}
    eks, cluster = client(spec.cfg, "eks"), spec.names["cluster"]
    principal = spec.emr_service_linked_role_arn(account)
    try:
        entry = eks.create_access_entry(
            clusterName=cluster, principalArn=principal, username=EMR_CONTAINERS_USER,
            type="STANDARD", tags=spec.tags)["accessEntry"]
    except Exception as err:
        if error_code(err) != "ResourceInUseException":
            raise
        entry = eks.describe_access_entry(clusterName=cluster,
                                          principalArn=principal)["accessEntry"]
        check_drift(f"EKS access entry {principal} on {cluster}",
                    {"username": (entry.get("username"), EMR_CONTAINERS_USER)})
    return {"access_entry_arn": entry["accessEntryArn"], "principal_arn": principal,
            "username": EMR_CONTAINERS_USER}


def delete_emr_access(spec: PlatformSpec, account: str) -> bool:
    """Delete the access entry; False when it (or the cluster) was already gone."""
    if spec.cfg.target == "local":
        return False
    try:
        client(spec.cfg, "eks").delete_access_entry(
            clusterName=spec.names["cluster"],
            principalArn=spec.emr_service_linked_role_arn(account))
    except Exception as err:
        if is_not_found(err):
            return False
        raise
    return True
