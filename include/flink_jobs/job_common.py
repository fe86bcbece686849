"""What both PyFlink jobs share: arguments, the table environment, sources, sinks.

Program arguments (after ``--`` in ``flink run``; the FlinkDeployment's PythonDriver args;
rendered from one spec for both targets by flink_platform.job_launch)::

    --source kinesis|generator|file   --output-dir s3://<bucket> (or a local dir)
    --region R  --trades-stream-arn A  --market-stream-arn A  --alerts-stream-arn A
    [--aws-endpoint URL]   --version V   [--events-per-s N]   [--input DIR]
    [--set key=value ...]

``kinesis`` (the platform's source on both targets) reads the provisioned streams with the
``platform-kinesis`` connector (include/flink_jobs/java/.../kinesis); ``generator`` and
``file`` serve tests and benchmarks. ``--aws-endpoint`` is the AWS emulator's endpoint on
the ``local`` target (the only argument that differs between targets). Outputs go under
``--output-dir``: ``alerts/<job>/``, ``dead-letter/<job>/``, ``user-counters/<job>/``,
``risk/<aggregate>/`` (S3 on both targets: the platform bucket); fraud alerts also go to the
alerts stream.

Flink settings come as ``-D`` options (``pipeline.name``, ``parallelism.default``,
``execution.checkpointing.interval``); job parameters as repeated ``--set`` (the platform
config's ``jobs.<name>.args``), validated against each job's defaults: an unknown key or a
value of the wrong type stops the job at submission with a message naming the key.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from pyflink.common import Configuration
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

from sql_sources import kinesis_options, register_market_source, register_trade_source

COMMON_DEFAULTS: dict[str, object] = {
    "seed": 7,                  # generator seed
    "max_events": 0,            # generator: stop after N trades (0 = unbounded)
    "malformed_rate": 0.0,      # generator: share of corrupted lines (dead-letter demo)
    "watermark_delay_s": 5,     # bounded out-of-orderness (event time)
    "state_ttl": "1 h",         # idle state retention of non-windowed operators
    "idle_timeout": "30 s",     # kinesis: a shard without records stops holding watermarks
    "state_backend": "",        # "" = cluster default (hashmap locally), or rocksdb
    "rollover": "10 s",         # file sink: max part-file age (committed on checkpoint)
}


class JobArgumentError(SystemExit):
    """Bad program arguments: the job exits before submitting anything."""


@dataclass(frozen=True)
class JobArgs:
    job: str
    source: str
    events_per_s: int
    output_dir: str
    version: str
    input: str | None
    settings: dict[str, object]
    region: str | None = None
    aws_endpoint: str | None = None
    trades_stream_arn: str | None = None
    market_stream_arn: str | None = None
    alerts_stream_arn: str | None = None

    def __getitem__(self, key: str) -> object:
        return self.settings[key]


def _convert(key: str, raw: str, default: object) -> object:
    try:
        if isinstance(default, bool):
            if raw.lower() not in ("true", "false"):
                raise ValueError(raw)
            return raw.lower() == "true"
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise JobArgumentError(f"--set {key}={raw}: expected {type(default).__name__}") from None
    return raw


def parse_args(job: str, defaults: dict[str, object], argv: list[str] | None = None) -> JobArgs:
    parser = argparse.ArgumentParser(prog=job)
    parser.add_argument("--source", choices=("kinesis", "generator", "file"), default="kinesis")
    parser.add_argument("--events-per-s", type=int, default=1000, help="generator pace")
    parser.add_argument("--output-dir", required=True, help="s3://<bucket> or a local dir")
    parser.add_argument("--version", default="1.0.0")
    parser.add_argument("--input", help="file source: dataset dir (trades/, market-data/)")
    parser.add_argument("--region", help="AWS region of the streams")
    parser.add_argument("--aws-endpoint", help="AWS endpoint (the emulator on local)")
    for stream in ("trades", "market", "alerts"):
        parser.add_argument(f"--{stream}-stream-arn", help=f"the provisioned {stream} stream")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ns = parser.parse_args(sys.argv[1:] if argv is None else argv)
    allowed = {**COMMON_DEFAULTS, **defaults}
    settings = dict(allowed)
    for item in ns.set:
        key, sep, raw = item.partition("=")
        if not sep or key not in allowed:
            raise JobArgumentError(
                f"--set {item!r}: unknown job parameter; allowed: {', '.join(sorted(allowed))}")
        settings[key] = _convert(key, raw, allowed[key])
    if ns.source == "file" and not ns.input:
        raise JobArgumentError("--source file needs --input DIR (with trades/ and market-data/)")
    if ns.source == "kinesis":
        missing = [flag for flag, value in (("--region", ns.region),
                                            ("--trades-stream-arn", ns.trades_stream_arn),
                                            ("--market-stream-arn", ns.market_stream_arn))
                   if not value]
        if missing:
            raise JobArgumentError(f"--source kinesis needs {', '.join(missing)} (the streams "
                                   "platform_provision created)")
    if ns.events_per_s < 1:
        raise JobArgumentError("--events-per-s must be >= 1")
    return JobArgs(job, ns.source, ns.events_per_s, ns.output_dir.rstrip("/"), ns.version,
                   ns.input, settings, ns.region, ns.aws_endpoint, ns.trades_stream_arn,
                   ns.market_stream_arn, ns.alerts_stream_arn)


def create_table_env(args: JobArgs) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    """Streaming table environment: exactly-once checkpoints, restarts, TTL, thread mode."""
    conf = Configuration()
    options = {
        "python.execution-mode": "thread",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "restart-strategy.type": "exponential-delay",
        "restart-strategy.exponential-delay.initial-backoff": "1 s",
        "restart-strategy.exponential-delay.max-backoff": "30 s",
        "restart-strategy.exponential-delay.backoff-multiplier": "2.0",
        "restart-strategy.exponential-delay.reset-backoff-threshold": "5 min",
        "restart-strategy.exponential-delay.attempts-before-reset-backoff": "10",
        "table.local-time-zone": "UTC",
        "table.exec.state.ttl": str(args["state_ttl"]),
        "table.exec.uid.generation": "ALWAYS",
        "pipeline.auto-watermark-interval": "200 ms",
        "pipeline.object-reuse": "true",  # SQL operators do not keep input rows: no copy per hop
        # one shared validation Calc
        "table.optimizer.reuse-optimize-block-with-digest-enabled": "true",
    }
    if os.environ.get("FLINK_JOBS_UDF_JAR"):  # mini-cluster runs: python <job>.py
        options["pipeline.jars"] = Path(os.environ["FLINK_JOBS_UDF_JAR"]).resolve().as_uri()
    if args.source == "kinesis":
        options["table.exec.source.idle-timeout"] = str(args["idle_timeout"])
    if args["state_backend"]:
        options["state.backend.type"] = str(args["state_backend"])
        options["execution.checkpointing.incremental"] = "true"
    for key, value in options.items():
        conf.set_string(key, value)
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    t_env = StreamTableEnvironment.create(env)
    for key, value in options.items():
        t_env.get_config().set(key, value)
    # JVM parser (include/flink_jobs/java/, in the cluster's lib/: built by the local stack,
    # baked into the job image): the ``event-json`` format serves the connectors, this
    # function the generator's lines.
    t_env.create_java_temporary_system_function("EVENT_ROW", "io.flinkplatform.jobs.EventRow")
    t_env.create_java_temporary_system_function("COUNTED_AS", "io.flinkplatform.jobs.CountedAs")
    t_env.create_java_temporary_system_function("AGE_OBSERVED",
                                                "io.flinkplatform.jobs.AgeObserved")
    return env, t_env


def counted_as(expr: str, counter: str, label: str) -> str:
    """SQL: ``expr`` unchanged, each row counted in the operator's metrics by its value
    (``flink_taskmanager_job_task_operator_<label>_<counter>{<label>=value}`` in Prometheus:
    the dashboard's alerts by rule and dead letters by reason). ``expr`` must take a few
    values only (rule ids, reason codes): each value is a time series."""
    return f"COUNTED_AS({expr}, '{counter}', '{label}')"


def age_observed(epoch_ms_expr: str, histogram: str) -> str:
    """SQL: ``epoch_ms_expr`` unchanged, its age (now minus it, ms) recorded per row in the
    operator's histogram ``histogram`` (``flink_taskmanager_job_task_operator_<histogram>``
    with quantiles in Prometheus: the dashboard's event-to-alert latency)."""
    return f"AGE_OBSERVED({epoch_ms_expr}, '{histogram}')"


def register_sources(env, t_env, args: JobArgs, trade_columns: tuple[str, ...],
                     tick_columns: tuple[str, ...] = ()) -> None:
    """``valid_trades`` / ``dead_trades`` (and, with ``tick_columns``, ``valid_ticks`` /
    ``dead_ticks``): the columns the job reads, and the dead-letter rows (problem, line)."""
    register_trade_source(env, t_env, args, trade_columns)
    if tick_columns:
        register_market_source(env, t_env, args, tick_columns)


def file_sink(t_env, table: str, path: str, args: JobArgs, columns: str) -> None:
    """Exactly-once JSON-lines file sink ``table`` writing ``<output-dir>/<path>/`` (S3 on
    the platform): parts commit on checkpoint, so a committed part never repeats or loses a
    row across restarts.

    Format ``json-lines`` (include/flink_jobs/java/JsonLinesWriter): rows written straight
    into a buffer, flushed on checkpoint; the text of Flink's ``json`` format (decimals as
    plain numbers), TIMESTAMP columns as ``CAST(ts AS STRING)`` writes them."""
    path = f"{args.output_dir}/{path}"
    if "://" not in path:
        Path(path).mkdir(parents=True, exist_ok=True)
        path = Path(path).resolve().as_uri()
    t_env.execute_sql(f"""
        CREATE TEMPORARY TABLE {table} ({columns}) WITH (
          'connector' = 'filesystem', 'path' = '{path}', 'format' = 'json-lines',
          'sink.rolling-policy.rollover-interval' = '{args["rollover"]}',
          'sink.rolling-policy.check-interval' = '1 s')""")


def kinesis_sink(t_env, table: str, arn: str, args: JobArgs, columns: str,
                 partition_key: str) -> None:
    """``table``: rows as JSON records into the Kinesis stream ``arn`` (platform-kinesis).
    At-least-once: every record of a completed checkpoint was accepted by Kinesis; a restart
    may send the rows after that checkpoint again, so rows carry an id to deduplicate by."""
    t_env.execute_sql(f"""
        CREATE TEMPORARY TABLE {table} ({columns}) WITH (
          {kinesis_options(args, arn)}, 'format' = 'json',
          'sink.partition-key.field' = '{partition_key}')""")


def run(statements, args: JobArgs) -> None:
    """Submit the statement set; returns at once with ``flink run -d``."""
    result = statements.execute()
    client = result.get_job_client()
    if client is not None:
        print(f"submitted {args.job} {args.version}: job id {client.get_job_id()}")
    if os.environ.get("FLINK_JOBS_WAIT"):  # local mini-cluster runs (python <job>.py)
        result.wait()
