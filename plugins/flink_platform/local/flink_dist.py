"""The Flink distribution bundled with PyFlink, and the generated session-cluster config.

Flink home is ``site-packages/pyflink`` of the Flink venv (``.venv-flink`` by default,
``FLINK_PLATFORM_FLINK_VENV`` to move it). The cluster runs from generated folders under
``<state_dir>/flink``: ``conf/`` (config.yaml sized for a 2-core machine), ``lib/`` (the
distribution's jars, flink-python for PyFlink thread mode, the jobs' JVM code and the
pinned jars of ``.jars/lib``: flink_platform.local.jars), ``checkpoints/``,
``savepoints/``, ``tmp/``, ``log/`` and ``plugins/`` (the stock plugins, the pinned S3
filesystem plugin pointed at the AWS emulator, and a Prometheus reporter that binds
127.0.0.1: the stock one has no host option and listens on every interface); nothing is
written to the distribution or /tmp. The jobs' checkpoints and savepoints go to the
platform bucket (``s3://``, per job: job_launch.job_flink_options); the cluster's own
defaults under ``checkpoints/`` and ``savepoints/`` serve ad-hoc jobs only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from flink_platform.config import PROJECT_ROOT, PlatformConfig
from flink_platform.job_launch import WEB_TIMEOUT_MS
from flink_platform.local.jars import verified_jars_dir

JAVA_SOURCES = Path(__file__).resolve().parent / "java"
JOB_UDF_SOURCES = PROJECT_ROOT / "include" / "flink_jobs" / "java"
JOB_UDF_JAR = "flink-platform-job-udfs.jar"
PROMETHEUS_FACTORY = "org.apache.flink.metrics.prometheus.LoopbackPrometheusReporterFactory"
STOCK_PROMETHEUS_FACTORY = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
JAVA_HINT = (
    "Flink needs a JDK 17 (java, and javac for the jobs' event-json format): install it "
    "with `sudo apt-get install -y openjdk-17-jdk-headless` (Debian/Ubuntu) or "
    "`brew install openjdk@17` (macOS), or set JAVA_HOME to a JDK 17."
)


class StackError(RuntimeError):
    """The local stack cannot start or stop; the message says what to do."""


def flink_venv() -> Path:
    return Path(os.environ.get("FLINK_PLATFORM_FLINK_VENV", PROJECT_ROOT / ".venv-flink"))


def flink_python() -> Path:
    return flink_venv() / "bin" / "python"


def flink_home() -> Path:
    homes = sorted(flink_venv().glob("lib/python3*/site-packages/pyflink"))
    if not homes or not (homes[0] / "bin" / "jobmanager.sh").exists():
        raise StackError(
            f"no PyFlink distribution under {flink_venv()}: run `make venvs` "
            "(creates .venv-flink from include/flink_jobs/requirements.txt)"
        )
    return homes[0]


@lru_cache(maxsize=1)
def java_home() -> Path:
    """JAVA_HOME for Flink, checked to be Java 17 or newer."""
    candidates = [os.environ.get("JAVA_HOME")]
    java_bin = shutil.which("java")
    if java_bin:
        candidates.append(str(Path(os.path.realpath(java_bin)).parents[1]))
    for cand in filter(None, candidates):
        java = Path(cand) / "bin" / "java"
        if not java.exists():
            continue
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True).stderr
        match = re.search(r'version "(\d+)', out)
        if match and int(match.group(1)) >= 17:
            if not (Path(cand) / "bin" / "javac").exists() and not shutil.which("javac"):
                raise StackError(f"{cand} is a Java 17 runtime without javac. {JAVA_HINT}")
            return Path(cand)
        raise StackError(f"{java} is Java {match.group(1) if match else '?'}. {JAVA_HINT}")
    raise StackError(f"no `java` on PATH and JAVA_HOME unset. {JAVA_HINT}")


@dataclass(frozen=True)
class FlinkLayout:
    """Folders of the local session cluster under ``<state_dir>/flink``."""

    root: Path

    @classmethod
    def of(cls, cfg: PlatformConfig) -> FlinkLayout:
        return cls(cfg.state_path / "flink")

    conf = property(lambda self: self.root / "conf")
    lib = property(lambda self: self.root / "lib")
    log = property(lambda self: self.root / "log")
    tmp = property(lambda self: self.root / "tmp")
    plugins = property(lambda self: self.root / "plugins")
    checkpoints = property(lambda self: self.root / "checkpoints")
    savepoints = property(lambda self: self.root / "savepoints")

    def make(self) -> None:
        for path in (self.conf, self.lib, self.plugins, self.log, self.tmp, self.checkpoints,
                     self.savepoints):
            path.mkdir(parents=True, exist_ok=True)


def cluster_settings(cfg: PlatformConfig, layout: FlinkLayout) -> dict[str, object]:
    """Flat Flink options of the session cluster (jobs add their own at submission)."""
    local = cfg.local
    return {
        "env.java.opts.all": _stock_java_opts() + f" -Djava.io.tmpdir={layout.tmp}",
        "jobmanager.bind-host": "127.0.0.1",
        "jobmanager.rpc.address": "127.0.0.1",
        "jobmanager.rpc.port": local.flink_rpc_port,
        "jobmanager.memory.process.size": local.jobmanager_memory,
        "jobmanager.execution.failover-strategy": "region",
        "taskmanager.bind-host": "127.0.0.1",
        "taskmanager.host": "127.0.0.1",
        "taskmanager.numberOfTaskSlots": local.taskmanager_slots,
        "taskmanager.memory.process.size": local.taskmanager_memory,
        # Heap state backend: managed memory (RocksDB, batch) would sit unused; give it to
        # the heap, where keyed state lives. Parallel GC: G1's young collections copying
        # that state took more CPU than the jobs themselves on 2 cores (bench_flink_jobs).
        # Transparent huge pages for the heap (where the kernel allows them, "madvise"):
        # keyed-state lookups are pointer chases over ~1 GB (fewer TLB misses). With it,
        # warmed runs reached risk 176-211k events/s at p1 (113-161k before; docs/JOBS.md).
        # local.taskmanager_pretouch_heap touches the heap at start: the first jobs on a
        # fresh TaskManager no longer pay its page faults (fraud 93.5k -> 103k on a fresh
        # TaskManager's first run), for 4.4 s / 8.3 s of kernel CPU at start (2026-11-30).
        # Young generation: half the process size (3 GB of the 4.5 GB heap at 6144m). Heap
        # state replaces a user's values at each event, so they die young only when the
        # young generation outlasts a pass over all users (GC log figures: docs/JOBS.md).
        "taskmanager.memory.managed.fraction": 0.05,
        "env.java.opts.taskmanager": "-XX:+UseParallelGC -XX:+UseTransparentHugePages "
                                     + ("-XX:+AlwaysPreTouch " if local.taskmanager_pretouch_heap
                                        else "")
                                     + f"-Xmn{_megabytes(local.taskmanager_memory) // 2}m",
        # The `flink run` client lives ~15 s (JVM + PyFlink planning): C1 only, serial GC (no
        # C2 compiler or parallel GC threads) took a submission from 26-29 s of CPU to 12-17 s
        # (2 runs per job, 2026-11-30); deploy submits both jobs at once on 2 cores.
        "env.java.opts.client": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
        # The stack starts both at once: a TaskManager up before the JobManager's RPC retried
        # after the default 10 s, and stack start-up waited 10-20 s for it (1 s: a retry)
        "cluster.registration.error-delay": "1 s",
        "blob.server.port": "0",
        "rest.address": "127.0.0.1",
        "rest.bind-address": "127.0.0.1",
        "rest.port": local.flink_rest_port,
        "parallelism.default": 1,
        "state.backend.type": "hashmap",
        "execution.checkpointing.dir": layout.checkpoints.as_uri(),
        "execution.checkpointing.savepoint-dir": layout.savepoints.as_uri(),
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "restart-strategy.type": "exponential-delay",
        "restart-strategy.exponential-delay.initial-backoff": "1 s",
        "restart-strategy.exponential-delay.max-backoff": "30 s",
        "restart-strategy.exponential-delay.backoff-multiplier": 2.0,
        "restart-strategy.exponential-delay.reset-backoff-threshold": "5 min",
        "restart-strategy.exponential-delay.attempts-before-reset-backoff": 10,
        "io.tmp.dirs": str(layout.tmp),
        "web.tmpdir": str(layout.tmp / "web"),
        "web.upload.dir": str(layout.tmp / "upload"),
        "web.cancel.enable": True,
        "metrics.fetcher.update-interval": 1000,  # REST metrics within 1 s (load test drain)
        "web.timeout": WEB_TIMEOUT_MS,  # see job_launch: a lost TaskManager froze REST metrics
        "python.executable": str(flink_python()),
        "python.client.executable": str(flink_python()),
        "classloader.parent-first-patterns.additional": "pemja.",
        "metrics.reporter.prom.factory.class": PROMETHEUS_FACTORY,
        "metrics.reporter.prom.host": "127.0.0.1",
        "metrics.reporter.prom.port": local.prometheus_ports,
        # The S3 filesystem plugin (.jars/plugins) against the AWS emulator: the same s3://
        # paths as on aws, only the endpoint differs. moto's dummy credentials, no secret.
        "s3.endpoint": local.moto_endpoint,
        "s3.path-style-access": True,
        "s3.access-key": "testing",
        "s3.secret-key": "testing",
    }


def cluster_config(cfg: PlatformConfig, layout: FlinkLayout) -> dict[str, object]:
    """:func:`cluster_settings` with ``local.cluster_conf`` over it ("" drops an option)."""
    settings = cluster_settings(cfg, layout)
    for key, value in cfg.local.cluster_conf.items():
        if value == "":
            settings.pop(key, None)
        else:
            settings[key] = value
    return settings


def _megabytes(size: str) -> int:
    """``4096m`` / ``6g`` (the config's memory sizes) in MiB."""
    return int(size[:-1]) * (1024 if size.endswith("g") else 1)


def _stock_java_opts() -> str:
    stock = yaml.safe_load((flink_home() / "conf" / "config.yaml").read_text())
    return stock["env"]["java"]["opts"]["all"]


def write_cluster_files(cfg: PlatformConfig) -> FlinkLayout:
    """Generate conf/ and lib/ for the session cluster; idempotent."""
    layout = FlinkLayout.of(cfg)
    layout.make()
    home = flink_home()
    settings = cluster_config(cfg, layout)
    if not _link_plugins(home, layout):
        settings["metrics.reporter.prom.factory.class"] = STOCK_PROMETHEUS_FACTORY
    text = "# Generated by flink_platform.local.flink_dist; edits are overwritten.\n"
    text += "\n".join(f"{key}: {_yaml_scalar(value)}" for key, value in settings.items())
    (layout.conf / "config.yaml").write_text(text + "\n")
    for name in ("log4j-console.properties", "log4j-cli.properties", "log4j.properties"):
        shutil.copyfile(home / "conf" / name, layout.conf / name)
    jars = verified_jars_dir()  # never a half-working cluster: the pinned jars or nothing
    for jar in [*(home / "lib").glob("*.jar"), *(home / "opt").glob("flink-python-*.jar"),
                *(jars / "lib").glob("*.jar")]:
        link = layout.lib / jar.name
        if not link.exists():
            link.symlink_to(jar)
    for plugin in (jars / "plugins").iterdir():
        link = layout.plugins / plugin.name
        if not link.exists():
            link.symlink_to(plugin, target_is_directory=True)
    build_job_udfs(home, layout.lib / JOB_UDF_JAR)
    return layout


def _link_plugins(home: Path, layout: FlinkLayout) -> bool:
    """Plugins folder: the stock plugins, with the loopback Prometheus reporter added.

    Returns False (stock reporter, all interfaces) when it cannot be built (no javac).
    """
    for plugin in (home / "plugins").iterdir():
        link = layout.plugins / plugin.name
        if plugin.is_dir() and plugin.name != "metrics-prometheus" and not link.exists():
            link.symlink_to(plugin)
    prom_dir = layout.plugins / "metrics-prometheus"
    prom_dir.mkdir(exist_ok=True)
    for jar in (home / "plugins" / "metrics-prometheus").glob("*.jar"):
        if not (prom_dir / jar.name).exists():
            (prom_dir / jar.name).symlink_to(jar)
    try:
        build_loopback_reporter(home, prom_dir / "flink-platform-loopback-prometheus.jar")
    except StackError as err:
        print(f"warning: {err}; Prometheus metrics will listen on all interfaces")
        return False
    return True


def build_loopback_reporter(home: Path, target: Path) -> Path:
    """Compile the loopback Prometheus reporter (java/) into ``target`` once."""
    classpath = [*(home / "plugins" / "metrics-prometheus").glob("*.jar"),
                 *(home / "lib").glob("flink-dist-*.jar")]
    return compile_jar(JAVA_SOURCES, classpath, target, "the loopback metrics reporter")


def build_job_udfs(home: Path, target: Path) -> Path:
    """Compile the jobs' JVM code (include/flink_jobs/java/: the ``event-json`` and
    ``json-lines`` formats, the Kinesis connector) into ``target`` in the cluster's lib/,
    where the cluster and ``flink run`` both load it."""
    classpath = [jar for pattern in ("flink-dist-*.jar", "flink-table-api-java-uber-*.jar",
                                     "flink-connector-files-*.jar")
                 for jar in (home / "lib").glob(pattern)]
    classpath += sorted((verified_jars_dir() / "lib").glob("*.jar"))
    return compile_jar(JOB_UDF_SOURCES, classpath, target, "the jobs' JVM code")


def compile_jar(sources_dir: Path, classpath: list[Path], target: Path, what: str) -> Path:
    """Compile every .java under ``sources_dir`` into the jar ``target`` (once per change);
    the other files there (META-INF/services/...) go in as they are."""
    inputs = [p for p in sources_dir.rglob("*") if p.is_file()]
    sources = sorted(p for p in inputs if p.suffix == ".java")
    if target.exists() and target.stat().st_mtime >= max(p.stat().st_mtime for p in inputs):
        return target
    javac = java_home() / "bin" / "javac"  # java_home() checked that a javac exists
    with tempfile.TemporaryDirectory() as build:
        proc = subprocess.run(
            [str(javac) if javac.exists() else "javac", "-nowarn", "--release", "11",
             "-cp", os.pathsep.join(map(str, classpath)), "-d", build, *map(str, sources)],
            capture_output=True, text=True)
        if proc.returncode != 0:
            raise StackError(f"cannot compile {what}: {proc.stderr[-800:]}")
        tmp = target.with_suffix(".tmp")
        with zipfile.ZipFile(tmp, "w") as jar:
            for cls in Path(build).rglob("*.class"):
                jar.write(cls, cls.relative_to(build).as_posix())
            for path in inputs:
                if path.suffix != ".java":
                    jar.write(path, path.relative_to(sources_dir).as_posix())
        tmp.replace(target)
    return target


def _yaml_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return yaml.safe_dump(str(value), default_style='"').strip()


def flink_env(cfg: PlatformConfig) -> dict[str, str]:
    """Environment for the distribution's bin/ scripts (cluster and `flink run`)."""
    layout = FlinkLayout.of(cfg)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(
        FLINK_HOME=str(flink_home()),
        FLINK_CONF_DIR=str(layout.conf),
        FLINK_LIB_DIR=str(layout.lib),
        FLINK_LOG_DIR=str(layout.log),
        FLINK_PID_DIR=str(layout.tmp),
        FLINK_PLUGINS_DIR=str(layout.plugins),
        JAVA_HOME=str(java_home()),
        PYFLINK_CLIENT_EXECUTABLE=str(flink_python()),
        # The AWS SDK's default chain (jobs' Kinesis connector) finds moto's dummy pair here;
        # on aws the pods get IRSA web-identity credentials instead.
        AWS_REGION=cfg.region, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
        PATH=f"{flink_venv() / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
    )
    return env
