"""A checker for EKS bearer tokens (``k8s-aws-v1.`` + a presigned STS URL)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from urllib.parse import parse_qsl, quote, urlsplit

CLUSTER = "flink-platform-prod-x7k2"  # resource_name(cluster.name) of include/config/aws.yaml
SECRET = "testing"  # the test aws_default connection's secret key (flink_platform.local.env)


def token_url(authorization: str | None) -> str:
    """The presigned URL inside ``Bearer k8s-aws-v1.<base64url>``."""
    assert authorization and authorization.startswith("Bearer k8s-aws-v1."), authorization
    data = authorization.removeprefix("Bearer k8s-aws-v1.")
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signed_for(url: str, cluster: str, secret: str = SECRET) -> bool:
    """Does the presigned URL's SigV4 signature hold with header ``x-k8s-aws-id: cluster``?
    (What STS checks when EKS forwards the token with that header.)"""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = params.pop("X-Amz-Signature")
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                     for k, v in sorted(params.items()))
    headers = {"host": parts.netloc, "x-k8s-aws-id": cluster}
    signed = params["X-Amz-SignedHeaders"]
    canonical = "\n".join(["GET", parts.path or "/", query,
                           "".join(f"{h}:{headers[h]}\n" for h in signed.split(";")),
                           signed, hashlib.sha256(b"").hexdigest()])
    scope = params["X-Amz-Credential"].split("/", 1)[1]
    to_sign = "\n".join(["AWS4-HMAC-SHA256", params["X-Amz-Date"], scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in scope.split("/"):
        key = _hmac(key, part)
    return hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(),
                               signature)


def assert_eks_token(authorization: str | None, sts_endpoint: str, at: dt.datetime) -> dict:
    """A ``k8s-aws-v1.`` token: a GetCallerIdentity URL presigned at ``at`` on the STS
    endpoint, signed with ``x-k8s-aws-id: CLUSTER`` (and not for another cluster)."""
    url = token_url(authorization)
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    assert f"{parts.scheme}://{parts.netloc}" == sts_endpoint.rstrip("/")
    assert (params["Action"], params["Version"]) == ("GetCallerIdentity", "2011-06-15")
    assert params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert params["X-Amz-SignedHeaders"] == "host;x-k8s-aws-id"
    assert params["X-Amz-Credential"].split("/")[3] == "sts"
    assert params["X-Amz-Date"] == at.strftime("%Y%m%dT%H%M%SZ")
    assert signed_for(url, CLUSTER)
    assert not signed_for(url, "another-cluster")
    return params
