"""The cluster CA is trusted from memory: a real HTTPS server on 127.0.0.1 whose certificate
is signed by a CA made here stands in for the EKS endpoint (kmock speaks plain HTTP).

Both clients built from ``describe_cluster``'s CA, the kubernetes ``ApiClient`` and the
requests session of the Flink REST proxy, reach it; with another CA, or with the public
bundle only, the TLS handshake fails.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from flink_platform.hooks.eks_kube import ClusterAccess, EksKubeHook
from flink_platform.hooks.kube_access import KubeAccess
from flink_platform.kubernetes.client import KubeClient


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _ca(name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture()
def https_server(tmp_path):
    """HTTPS on 127.0.0.1 with a certificate of a fresh CA; yields (url, CA PEM, headers)."""
    ca_key, ca_cert = _ca("kubernetes")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("kube-apiserver"))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (tmp_path / "server.pem").write_bytes(_pem(cert))
    (tmp_path / "server.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append({"path": self.path, "authorization": self.headers.get("Authorization")})
            body = json.dumps({"kind": "ServiceAccount", "metadata": {"name": "flink"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", _pem(ca_cert), seen
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def _clients(url: str, ca_pem: bytes):
    access = ClusterAccess(endpoint=url, ca_cert=ca_pem)
    hook = EksKubeHook("flink-platform-prod-x7k2", aws_conn_id="aws_default",
                       region_name="us-west-2")
    api = hook.api_client(access)
    return KubeClient(api_client=api), KubeAccess(api, access.ca_cert_data()).session()


def test_the_described_ca_is_trusted_in_memory(https_server):
    url, ca_pem, seen = https_server
    kube, session = _clients(url, ca_pem)
    assert kube.get("ServiceAccount", "flink-jobs", "flink")["metadata"]["name"] == "flink"
    proxy = f"{url}/api/v1/namespaces/flink-jobs/services/fraud-detection-rest:rest/proxy/jobs"
    assert session.get(proxy, timeout=10).status_code == 200
    assert [s["path"] for s in seen] == ["/api/v1/namespaces/flink-jobs/serviceaccounts/flink",
                                         proxy.removeprefix(url)]
    assert all(s["authorization"].startswith("Bearer k8s-aws-v1.") for s in seen)


def test_another_ca_or_the_public_bundle_is_refused(https_server):
    url, _, seen = https_server
    _, other_ca = _ca("someone-else")
    kube, session = _clients(url, _pem(other_ca))
    with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
        kube.get("ServiceAccount", "flink-jobs", "flink")
    with pytest.raises(requests.exceptions.SSLError):
        session.get(f"{url}/version", timeout=10)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{url}/version", timeout=10)  # not a publicly trusted certificate
    assert seen == []
