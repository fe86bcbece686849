"""The fraud job on Kinesis (the emulator) with a producer thread, for the monitoring tests
that need real Flink metrics: ``with fraud_job_on_kinesis(...) as run: ...``."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flink_jobs.flink_client import JOBS_DIR, cancel, wait_state
from flink_jobs.kinesis_harness import Streams, labelled_lines

from flink_platform.config import PROJECT_ROOT
from flink_platform.local.flink_dist import flink_env, flink_home


def submit_on_kinesis(cfg, endpoint: str, output: Path, arns: dict[str, str]) -> str:
    """The fraud job as the platform runs it (Kinesis in and out), 2 s checkpoints."""
    cmd = [str(flink_home() / "bin" / "flink"), "run", "-d",
           "-m", f"127.0.0.1:{cfg.local.flink_rest_port}",
           "-py", str(JOBS_DIR / "fraud_detection.py"), "-pyfs", str(JOBS_DIR),
           "-Dpipeline.name=fraud-detection", "-Dexecution.checkpointing.interval=2s",
           "--", "--source", "kinesis", "--output-dir", str(output), "--region", cfg.region,
           "--aws-endpoint", endpoint, "--trades-stream-arn", arns["trades"],
           "--market-stream-arn", arns["market"], "--alerts-stream-arn", arns["alerts"],
           "--set", "rollover=2 s"]
    proc = subprocess.run(cmd, env=flink_env(cfg), capture_output=True, text=True,
                          timeout=300, cwd=PROJECT_ROOT)
    for token in (proc.stdout + proc.stderr).split():
        if len(token) == 32 and all(c in "0123456789abcdef" for c in token):
            return token
    raise AssertionError(f"flink run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


@dataclass
class Producer:
    """Puts 200 trade lines every 0.5 s; every ``malformed_every``-th line is malformed
    (0: none). Change ``malformed_every`` while it runs to start a flood."""

    streams: Streams
    arn: str
    malformed_every: int = 40
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        start = 0
        while not self.stop.is_set():
            lines, _ = labelled_lines(start, 200, malformed_every=self.malformed_every)
            self.streams.put(self.arn, lines)
            start += 200
            self.stop.wait(0.5)


@dataclass
class JobRun:
    job_id: str
    producer: Producer


@contextmanager
def fraud_job_on_kinesis(cfg, endpoint: str, rest: str, output: Path,
                         malformed_every: int = 40) -> Iterator[JobRun]:
    """Streams created, job RUNNING, producer started; all undone on exit."""
    streams = Streams(endpoint, cfg.region)
    arns = {name: streams.create(name, 1) for name in ("trades", "market", "alerts")}
    producer = Producer(streams, arns["trades"], malformed_every)
    job_id = submit_on_kinesis(cfg, endpoint, output, arns)
    thread = threading.Thread(target=producer.run, daemon=True)
    try:
        wait_state(rest, job_id, {"RUNNING"}, timeout_s=120)
        thread.start()
        yield JobRun(job_id, producer)
    finally:
        producer.stop.set()
        cancel(rest, job_id)
        streams.delete_created()
