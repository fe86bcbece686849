"""Low-downtime local upgrades: plan the new job while the old one still runs.

``flink run -py`` spends most of its time (JVM + Python start, SQL planning) before it
submits the JobGraph. :class:`SubmissionGate` is a byte relay in front of the Flink REST
port that holds the client's ``POST /v1/jobs`` until released; the caller stops the old
job with a savepoint meanwhile, points the placeholder ``-s`` path (a symlink) at the
savepoint, then releases. Downtime = stop-with-savepoint + job start, not the client.
A client that fails before submitting (bad configuration) never stops the old job.
"""

from __future__ import annotations

import socket
import threading

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
