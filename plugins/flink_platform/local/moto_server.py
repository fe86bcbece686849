"""moto's server with its Kinesis calls serialized: the AWS emulator of the ``local`` target.

moto's Kinesis backend gives a record the sequence number "last + 1" of its shard without a
lock, so two PutRecords on one shard at the same time write over each other (measured: 4
writer processes lost 871-936 of 40,000 records). This server is moto's own WSGI app behind
one lock for every Kinesis request (``X-Amz-Target: Kinesis_*``), so producers, the Flink
connector's reads and the alert sink's writes all see a consistent stream; other services
(S3 checkpoint uploads, SNS, ...) stay concurrent.

moto's shard also copies its whole key list to find the last sequence number on every
record put and scans the shard from its start on every GetRecords, so both grow with the
stream (about 8 ms per record put into a 500k-record shard). :func:`index_kinesis_shards`
gives the same answers in constant time (reads: logarithmic for AT_TIMESTAMP): a shard's
sequence numbers are 1, 2, ... n, as moto assigns them.

``python -m flink_platform.local.moto_server -H 127.0.0.1 -p 5055`` (what the stack runs).
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

KINESIS_TARGET = "Kinesis_"


class SerializedKinesis:
    """WSGI middleware: one Kinesis request at a time, the rest pass through."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(KINESIS_TARGET):
            return self.app(environ, start_response)
        with self.lock:  # the whole response is built inside: moto answers in one piece
            return list(self.app(environ, start_response))


def index_kinesis_shards() -> None:
    """Replace moto's per-call scans of a shard with lookups (same results)."""
    import bisect

    from moto.kinesis.models import Shard

    def get_max_sequence_number(self) -> int:
        return next(reversed(self.records), 0)

    def get_min_sequence_number(self) -> int:
        return next(iter(self.records), 0)

    def get_records(self, last_sequence_id: str, limit: int | None):
        last = int(last_sequence_id)
        end = get_max_sequence_number(self)
        stop = end if limit is None else min(end, last + limit)
        results = [self.records[n] for n in range(last + 1, stop + 1)]
        behind = 0.0
        if results:
            last = results[-1].sequence_number
            behind = self.records[end].created_at - results[-1].created_at
        return results, last, int(behind * 1000)

    def get_sequence_number_at(self, at_timestamp: float) -> int:
        count = get_max_sequence_number(self)
        if not count or at_timestamp <= self.records[1].created_at:
            return 0
        # the last record created before at_timestamp (created_at never decreases)
        return bisect.bisect_left(range(1, count + 1), at_timestamp,
                                  key=lambda n: self.records[n].created_at)

    def put_record(self, partition_key: str, data: str, explicit_hash_key: str) -> str:
        from moto.kinesis.models import Record

        sequence_number = get_max_sequence_number(self) + 1
        self.records[sequence_number] = Record(partition_key, data, sequence_number,
                                               explicit_hash_key)
        return str(sequence_number)

    Shard.get_max_sequence_number = get_max_sequence_number
    Shard.get_min_sequence_number = get_min_sequence_number
    Shard.get_records = get_records
    Shard.get_sequence_number_at = get_sequence_number_at
    Shard.put_record = put_record


def main(argv: list[str] | None = None) -> None:
    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(prog="flink_platform.local.moto_server")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5055)
    parser.add_argument("--access-log", action="store_true",
                        help="log every request (off: a line per call costs ~10% at 7k records/s)")
    args = parser.parse_args(argv)
    if not args.access_log:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    index_kinesis_shards()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, SerializedKinesis(app), threaded=True,
               request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
