"""Low-downtime local upgrades: plan the new job while the old one still runs.

``flink run -py`` spends most of its time (JVM + Python start, SQL planning) before it
submits the JobGraph. :class:`SubmissionGate` is a byte relay in front of the Flink REST
port that holds the client's ``POST /v1/jobs`` until released. :func:`handover` starts the
new client with ``-s <placeholder>`` (a savepoint path in the bucket chosen in advance),
stops the old job with a savepoint meanwhile, moves that savepoint to the placeholder
(savepoints are relocatable; server-side copies in S3), then releases. Downtime =
stop-with-savepoint + move + job start, not the client. A client that fails before
submitting (bad configuration) never stops the old job.
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from flink_platform.hooks.flink_rest import client_error

if TYPE_CHECKING:
    from flink_platform.adapters.base import FlinkJobStatus
    from flink_platform.adapters.local_flink import LocalFlinkAdapter

SUBMIT = b"POST /v1/jobs "


class SubmissionGate:
    """127.0.0.1 relay to ``target_port``; a job submission waits for :meth:`release`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.held = threading.Event()      # the client reached the submission
        self._open = threading.Event()     # the caller released it
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def release(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._closed = True
        self._open.set()
        self._server.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        try:
            while chunk := src.recv(65536):
                if from_client and SUBMIT in chunk and not self._open.is_set():
                    self.held.set()
                    self._open.wait()
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def handover(adapter: LocalFlinkAdapter, job: str,
             overrides: dict[str, Any]) -> tuple[FlinkJobStatus, str | None]:
    """Upgrade ``job`` to ``overrides``; returns the new status and the savepoint it restored
    from (None, old job untouched, when the new client failed before submitting)."""
    from flink_platform.adapters.local_flink import SUBMIT_TIMEOUT_S
    from flink_platform.local.client_cds import ClientSharing
    from flink_platform.local.flink_dist import flink_env

    spec, rec = adapter.spec(job, overrides), adapter.record(job)
    placeholder = f"{adapter.store.root(job)}/handover-{uuid.uuid4().hex[:12]}"
    gate = SubmissionGate(adapter.cfg.local.flink_rest_port)
    cmd = adapter.command(spec, placeholder)
    cmd[cmd.index("-m") + 1] = f"127.0.0.1:{gate.port}"
    sharing = ClientSharing(adapter.cfg)
    proc = subprocess.Popen(cmd, env=sharing.env(flink_env(adapter.cfg)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=adapter.cfg.state_path)
    try:
        deadline = time.monotonic() + SUBMIT_TIMEOUT_S
        while not gate.held.wait(0.05):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                out, err = proc.communicate()
                st = adapter.status(job)
                st.error = f"new version not submitted, old job kept: {client_error(out, err)}"
                return st, None
        taken = adapter._stop_with_savepoint(job, rec)
        path = adapter.store.move(taken, placeholder)
        gate.release()
        out, err = proc.communicate(timeout=SUBMIT_TIMEOUT_S)
    finally:
        gate.close()
        sharing.finish(proc.poll() == 0)
    rec = adapter.record(job)
    rec["previous_spec"] = rec["spec"]
    rec.update(spec=spec.to_dict(), version=spec.job.version, restored_from=path,
               last_savepoint=path, lifecycle="UPGRADING", error=None, job_id=None,
               state="failed")
    match = re.search(r"JobID ([0-9a-f]{32})", out)
    if proc.returncode == 0 and match:
        rec.update(job_id=match.group(1), state="deployed", submitted_at=time.time())
    else:
        rec["error"] = client_error(out, err)
    adapter._save(job, rec)
    return adapter.status(job), path
