"""Benchmark baseline only: the four fraud rules as one keyed Python DataStream function.

Same thresholds and semantics as fraud_detection.py (processing order instead of
event-time order), one ValueState object per user. Reads ``<input>/trades`` as text lines,
writes alert count per user to ``<output-dir>/alerts-python``. Used by
bench/bench_flink_jobs.py to show why the hot path is SQL: compare its events/s.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pyflink.common import Configuration, Types, WatermarkStrategy
from pyflink.common.serialization import Encoder
from pyflink.datastream import KeyedProcessFunction, RuntimeContext, StreamExecutionEnvironment
from pyflink.datastream.connectors.file_system import FileSink, FileSource, StreamFormat
from pyflink.datastream.state import ValueStateDescriptor

from streaming_events.schema import haversine_km, parse_trade_line


class FourRules(KeyedProcessFunction):
    def open(self, runtime_context: RuntimeContext) -> None:
        self.state = runtime_context.get_state(
            ValueStateDescriptor("user", Types.PICKLED_BYTE_ARRAY()))

    def process_element(self, event, ctx):
        s = self.state.value() or {"times": [], "n": 0, "sum": 0.0, "last": None, "smalls": 0}
        ts, amount = event["event_time"], event["amount"]
        loc = event["location"]
        s["times"] = [t for t in s["times"] if t > ts - 300_000] + [ts]
        if len(s["times"]) > 8:
            yield f"velocity:{event['event_id']}"
        if s["last"]:
            lat, lon, t0 = s["last"]
            km = haversine_km(lat, lon, loc["lat"], loc["lon"])
            if km > 500 and km / max((ts - t0) / 3_600_000, 1 / 3600) > 1000:
                yield f"geo_velocity:{event['event_id']}"
        if s["n"] >= 5 and amount > 10 * s["sum"] / s["n"]:
            yield f"amount_anomaly:{event['event_id']}"
        if amount >= 1000 and s["smalls"] >= 3:
            yield f"small_then_large:{event['event_id']}"
        s["smalls"] = s["smalls"] + 1 if amount < 5 else 0
        s["n"] += 1
        s["sum"] += amount
        s["last"] = (loc["lat"], loc["lon"], ts)
        self.state.update(s)


def main() -> None:
    # flag/value pairs; a lone trailing flag is dropped
    args = dict(zip(sys.argv[1::2], sys.argv[2::2], strict=False))
    conf = Configuration()
    conf.set_string("python.execution-mode", "thread")
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    source = FileSource.for_record_stream_format(
        StreamFormat.text_line_format(), str(Path(args["--input"]) / "trades")).build()
    lines = env.from_source(source, WatermarkStrategy.no_watermarks(), "trades-file")
    events = (lines.map(lambda line: parse_trade_line(line)[0],
                        output_type=Types.PICKLED_BYTE_ARRAY())
              .filter(lambda e: e is not None))
    alerts = events.key_by(lambda e: e["user_id"], key_type=Types.STRING()).process(
        FourRules(), output_type=Types.STRING())
    out = Path(args["--output-dir"]) / "alerts-python"
    out.mkdir(parents=True, exist_ok=True)
    alerts.sink_to(FileSink.for_row_format(str(out), Encoder.simple_string_encoder()).build())
    env.execute_async("fraud-detection-datastream")


if __name__ == "__main__":
    main()
