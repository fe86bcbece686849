"""IAM: EKS cluster/node roles, the OIDC provider, the EMR on EKS service role, the
Flink job execution role (IRSA) with its least-privilege policy and the IRSA roles of
monitoring (Alertmanager -> SNS, Fluent Bit -> CloudWatch Logs). Idempotent ensure/delete."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from flink_platform.aws.clients import ConfigDriftError, check_drift, client, is_not_found
from flink_platform.aws.specs import (
    EMR_CONTAINERS_SERVICE,
    OIDC_AUDIENCE,
    OIDC_THUMBPRINT,
    PlatformSpec,
    dumps,
)


def _policy_doc(value: Any) -> dict[str, Any]:
    return json.loads(unquote(value)) if isinstance(value, str) else value


def _find_role(iam, name: str) -> dict[str, Any] | None:
    try:
        return iam.get_role(RoleName=name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        return None


def _attached(iam, role: str) -> set[str]:
    pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=role)
    return {p["PolicyArn"] for page in pages for p in page["AttachedPolicies"]}


def ensure_role(spec: PlatformSpec, name: str, trust: dict[str, Any],
                policy_arns: tuple[str, ...] | list[str]) -> str:
    """Create ``name`` with ``trust`` and attach ``policy_arns``; reuse it if identical."""
    iam = client(spec.cfg, "iam")
    role = _find_role(iam, name)
    if role is None:
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                               Tags=spec.tag_list())["Role"]
        for arn in policy_arns:
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        return role["Arn"]
    check_drift(f"IAM role {name}", {
        "trust policy": (dumps(_policy_doc(role["AssumeRolePolicyDocument"])), dumps(trust)),
        "attached policies": (sorted(_attached(iam, name)), sorted(policy_arns)),
    })
    return role["Arn"]


def ensure_oidc_provider(spec: PlatformSpec, issuer: str) -> str:
    """The cluster's IAM OIDC identity provider (IRSA needs it)."""
    iam = client(spec.cfg, "iam")
    host = issuer.removeprefix("https://")
    for item in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        if item["Arn"].endswith(f":oidc-provider/{host}"):
            have = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=item["Arn"])
            check_drift(f"OIDC provider {host}",
                        {"client ids": (sorted(have.get("ClientIDList", [])), [OIDC_AUDIENCE])})
            return item["Arn"]
    return iam.create_open_id_connect_provider(
        Url=issuer, ClientIDList=[OIDC_AUDIENCE], ThumbprintList=[OIDC_THUMBPRINT],
        Tags=spec.tag_list())["OpenIDConnectProviderArn"]


def ensure_emr_service_role(spec: PlatformSpec) -> str:
    """EMR on EKS's service-linked role: account-wide, created once, never deleted by us."""
    iam = client(spec.cfg, "iam")
    prefix = f"/aws-service-role/{EMR_CONTAINERS_SERVICE}/"
    roles = iam.list_roles(PathPrefix=prefix)["Roles"]
    if roles:
        return roles[0]["Arn"]
    return iam.create_service_linked_role(AWSServiceName=EMR_CONTAINERS_SERVICE)["Role"]["Arn"]


def ensure_job_policy(spec: PlatformSpec, account: str) -> str:
    iam = client(spec.cfg, "iam")
    name = spec.names["job_policy"]
    arn = f"arn:aws:iam::{account}:policy/{name}"
    wanted = spec.job_policy(account)
    try:
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(wanted),
                                 Tags=spec.tag_list())["Policy"]["Arn"]
    version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
    have = _policy_doc(version["PolicyVersion"]["Document"])
    check_drift(f"IAM policy {name}", {"document": (dumps(have), dumps(wanted))})
    return arn


def ensure_job_iam(spec: PlatformSpec, account: str, issuer: str) -> dict[str, str]:
    """OIDC provider, EMR service role, job policy and the IRSA job execution role."""
    oidc_arn = ensure_oidc_provider(spec, issuer)
    policy_arn = ensure_job_policy(spec, account)
    role_arn = ensure_role(spec, spec.names["job_role"], spec.job_role_trust(account, issuer),
                           [policy_arn])
    return {"oidc_provider_arn": oidc_arn, "job_policy_arn": policy_arn,
            "job_role_arn": role_arn, "emr_service_role_arn": ensure_emr_service_role(spec)}


def _ensure_inline_policy(iam, role: str, name: str, wanted: dict[str, Any]) -> None:
    """``role``'s only inline policy is ``name`` with ``wanted``: put when the role has
    none (a fresh role, or a run that stopped between the two calls), else drift-checked."""
    have = iam.list_role_policies(RoleName=role)["PolicyNames"]
    if not have:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(wanted))
        return
    check_drift(f"IAM role {role}", {"inline policies": (sorted(have), [name])})
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    check_drift(f"IAM role {role}",
                {f"inline policy {name}": (dumps(_policy_doc(document)), dumps(wanted))})


def ensure_monitoring_iam(spec: PlatformSpec, account: str, issuer: str) -> dict[str, str]:
    """The IRSA roles of Alertmanager and Fluent Bit (no managed policy attached; one
    inline policy each). Needs the cluster's OIDC provider (ensure_job_iam creates it)."""
    iam = client(spec.cfg, "iam")
    arns = {}
    for key, role in spec.monitoring_roles(account, issuer).items():
        arns[f"{key}_arn"] = ensure_role(spec, role["name"], role["trust"], [])
        _ensure_inline_policy(iam, role["name"], role["policy_name"], role["policy"])
    return arns


# -- teardown -------------------------------------------------------------------------

def delete_role(spec: PlatformSpec, name: str) -> bool:
    """Detach every policy, then delete the role; False when it was already gone."""
    iam = client(spec.cfg, "iam")
    if _find_role(iam, name) is None:
        return False
    for arn in _attached(iam, name):
        iam.detach_role_policy(RoleName=name, PolicyArn=arn)
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    try:
        iam.delete_role(RoleName=name)
    except iam.exceptions.NoSuchEntityException:
        return False
    return True


def delete_job_iam(spec: PlatformSpec, account: str) -> list[str]:
    """Job role (detach, delete), job policy and our tagged OIDC providers."""
    iam = client(spec.cfg, "iam")
    deleted = [spec.names["job_role"]] if delete_role(spec, spec.names["job_role"]) else []
    arn = f"arn:aws:iam::{account}:policy/{spec.names['job_policy']}"
    try:
        for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
        iam.delete_policy(PolicyArn=arn)
        deleted.append(spec.names["job_policy"])
    except Exception as err:  # only "already gone" is tolerated
        if not is_not_found(err):
            raise
    for arn in tagged_oidc_providers(spec):
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        deleted.append(arn)
    return deleted


def delete_monitoring_iam(spec: PlatformSpec) -> list[str]:
    """The Alertmanager and Fluent Bit roles (inline policies with them); the names of
    those that existed."""
    names = [spec.names["alertmanager_role"], spec.names["fluent_bit_role"]]
    return [name for name in names if delete_role(spec, name)]


def tagged_oidc_providers(spec: PlatformSpec) -> list[str]:
    iam = client(spec.cfg, "iam")
    found = []
    for item in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        tags = iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=item["Arn"])
        if _has_env_tag(spec, tags.get("Tags", [])):
            found.append(item["Arn"])
    return found


def _has_env_tag(spec: PlatformSpec, tags: list[dict[str, str]]) -> bool:
    env = spec.cfg.tags["platform-env"]
    return any(t["Key"] == "platform-env" and t["Value"] == env for t in tags)


__all__ = ["ConfigDriftError", "delete_job_iam", "delete_monitoring_iam", "delete_role",
           "ensure_job_iam", "ensure_monitoring_iam", "ensure_role"]
