"""Checkpoint, savepoint and HA I/O on `aws` use the job role through IRSA, not the node role.

The S3 filesystem is flink-s3-fs-native (AWS SDK v2, relocated into the plugin jar). Its
``fs.s3.aws.credentials.provider`` takes class names; a simple name resolves in the
plugin's relocated SDK package (S3ClientProvider.resolveProviderClassName). The jar the
image installs (the one jars.lock pins) must carry that class, the STS web-identity
factory it loads, and the relocated package prefix the simple name is resolved against.
"""

from __future__ import annotations

import zipfile

from flink_platform.config import load_config
from flink_platform.local import jars
from flink_platform.manifests import S3_CREDENTIALS_PROVIDER, render_flink_deployment

SHADED = "org/apache/flink/fs/s3native/shaded/software/amazon/awssdk/"


def _conf_and_env(target: str) -> tuple[dict, dict]:
    spec = render_flink_deployment(load_config(target), "fraud-detection")["spec"]
    container = spec["podTemplate"]["spec"]["containers"][0]
    return spec["flinkConfiguration"], {e["name"]: e["value"] for e in container["env"]}


def test_aws_flink_configuration_uses_web_identity():
    cfg = load_config("aws")
    conf, env = _conf_and_env("aws")
    assert conf["fs.s3.aws.credentials.provider"] == "WebIdentityTokenFileCredentialsProvider"
    assert conf["s3.region"] == cfg.region
    assert not {"s3.access-key", "s3.secret-key"} & set(conf)  # static keys come first
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"  # no fallback to the node role


def test_local_keeps_its_static_emulator_credentials():
    conf, _ = _conf_and_env("local")
    assert "fs.s3.aws.credentials.provider" not in conf


def test_the_plugin_jar_has_the_provider_and_sts():
    plugin = next(j for j in jars.read_lock() if j.path.startswith("plugins/s3-fs-native/"))
    path = jars.jars_dir() / plugin.path
    assert path.is_file(), f"{path} missing: python -m flink_platform.local.jars install"
    assert jars.sha256(path) == plugin.sha256
    with zipfile.ZipFile(path) as jar:
        names = set(jar.namelist())
        builder = jar.read("org/apache/flink/fs/s3native/S3ClientProvider$Builder.class")
    assert f"{SHADED}auth/credentials/{S3_CREDENTIALS_PROVIDER}.class" in names
    assert f"{SHADED}services/sts/internal/StsWebIdentityCredentialsProviderFactory.class" in names
    # a simple name is resolved against the relocated package, so it names the class above
    assert SHADED.replace("/", ".").encode() + b"auth.credentials." in builder
