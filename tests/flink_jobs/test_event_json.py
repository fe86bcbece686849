"""The jobs' JVM parser (the ``event-json`` format and ``EVENT_ROW``) against schema.py.

Every line of a corpus of edge cases goes through the real source path of the jobs (file
connector + ``event-json`` + the SQL checks of ``trades_checked`` / ``market_checked``, also
for a job that reads only two columns) and through ``EVENT_ROW`` (the generator path); the
dead-letter reason must be the one ``streaming_events.schema`` gives for the same line. Real
Flink: a PyFlink mini-cluster (the Flink venv's Python) with the parser compiled by javac as
the local stack does.
"""

from __future__ import annotations

import json
import os
import subprocess

from flink_platform.config import PROJECT_ROOT
from flink_platform.local.flink_dist import build_job_udfs, flink_home, flink_python, java_home
from include.flink_jobs.streaming_events.schema import parse_trade_line, tick_problem

T = 1767225600000
TRADE = {"event_id": "e1", "user_id": "U1", "account_id": "A1", "amount": 12.5,
         "currency": "USD", "symbol": "AAPL", "side": "BUY", "qty": 0.5, "price": 25.0,
         "location": {"lat": 40.7, "lon": -74.0, "city": "New York"}, "channel": "web",
         "event_time": T}
TICK = {"symbol": "AAPL", "bid": 190.0, "ask": 190.1, "last": 190.05, "volume": 100,
        "event_time": T}


def _variant(base: dict, **changes) -> str:
    event = json.loads(json.dumps(base))
    for key, value in changes.items():
        if key.startswith("loc_"):
            if value is ...:
                event["location"].pop(key[4:])
            else:
                event["location"][key[4:]] = value
        elif value is ...:
            event.pop(key)
        else:
            event[key] = value
    return json.dumps(event)


TRADE_LINES = [
    _variant(TRADE), _variant(TRADE, loc_city=...), _variant(TRADE, loc_city=7),
    _variant(TRADE, amount="12.5"), _variant(TRADE, amount=True), _variant(TRADE, amount=None),
    _variant(TRADE, amount=...), _variant(TRADE, event_id=5), _variant(TRADE, event_time=1.5e12),
    _variant(TRADE, event_time=str(T)), _variant(TRADE, qty=-1), _variant(TRADE, qty=0),
    _variant(TRADE, price=-2), _variant(TRADE, amount=1e3), _variant(TRADE, amount=12.345),
    _variant(TRADE, symbol="ZZZZ"), _variant(TRADE, currency="XXX"), _variant(TRADE, side="HOLD"),
    _variant(TRADE, channel="fax"), _variant(TRADE, loc_lat=95.0), _variant(TRADE, loc_lat="40"),
    _variant(TRADE, loc_lon=...), _variant(TRADE, location=...), _variant(TRADE, location=[1]),
    _variant(TRADE, location="NYC"), _variant(TRADE, amount=..., symbol=...),
    _variant(TRADE, location={}, channel=...), _variant(TRADE, user_id="Zürich-ü\"q"),
    _variant(TRADE, extra={"amount": "nested, ignored"}, tags=[1, {"a": None}]),
    '{"event_id": "e1", "event_id": 5}', '{"user_id": "U1",', '{"user_id": "U1"} x', "",
    "   ", "[1, 2]", '"text"', "null", "{}", '{"amount": 1e400}', "{'single': 'quotes'}",
]
TICK_LINES = [
    _variant(TICK), _variant(TICK, bid=191.0), _variant(TICK, volume=-1),
    _variant(TICK, symbol="ZZZZ"), _variant(TICK, last=...), _variant(TICK, ask="1"),
    _variant(TICK, event_time=None), "not json", "[]",
]
SCRIPT = """
import json, sys
sys.path.insert(0, {jobs!r})
import job_common, sql_sources
args = job_common.parse_args("event-json-test", {{}}, ["--source", "file", "--input",
    sys.argv[1], "--output-dir", "/nonexistent"])
env, t_env = job_common.create_table_env(args)
sql_sources.register_trade_source(env, t_env, args)
sql_sources.register_market_source(env, t_env, args)
out = {{}}
for name, query in (("trades", "SELECT line, problem FROM trades_checked"),
                    ("ticks", "SELECT line, problem FROM market_checked"),
                    ("typed", "SELECT event_id, CAST(amount AS STRING), `location.lat`,"
                              " `location.city`, event_time FROM trades_raw"
                              " WHERE parse_problem IS NULL")):
    with t_env.execute_sql(query).collect() as rows:
        out[name] = [list(r) for r in rows]
# A job that reads two columns: the source may project the scan, the checks must not shrink.
env2, narrow = job_common.create_table_env(args)
sql_sources.register_trade_source(env2, narrow, args, ("symbol", "ts"))
with narrow.execute_sql("SELECT line, problem FROM dead_trades").collect() as rows:
    out["narrow_dead"] = [list(r) for r in rows]
row_type = "ROW<parse_problem STRING, " + ", ".join(
    "`" + p + "` " + t for p, t in sql_sources.TRADE_COLUMNS) + ">"
lines = json.loads(open(sys.argv[2]).read())
values = ", ".join("('" + l.replace("'", "''") + "')" for l in lines)
query = ("SELECT line, EVENT_ROW(line, '" + row_type + "', '" + sql_sources.OPTIONAL_FIELDS
         + "').parse_problem FROM (VALUES " + values + ") AS t(line)")
with t_env.execute_sql(query).collect() as rows:
    out["event_row"] = [list(r) for r in rows]
print(json.dumps(out))
"""
SYNTAX = ("bad_json", "not_an_object", "missing_field:", "bad_type:")


def _tick_reason(line: str) -> str | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return "bad_json"
    return tick_problem(obj)


def test_parser_gives_schema_reasons(tmp_path):
    for name, lines in (("trades", TRADE_LINES), ("market-data", TICK_LINES)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "part-0.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "lines.json").write_text(json.dumps(TRADE_LINES))
    jar = build_job_udfs(flink_home(), tmp_path / "udfs.jar")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(JAVA_HOME=str(java_home()), FLINK_JOBS_UDF_JAR=str(jar))
    script = SCRIPT.format(jobs=str(PROJECT_ROOT / "include" / "flink_jobs"))
    proc = subprocess.run([str(flink_python()), "-c", script, str(tmp_path),
                           str(tmp_path / "lines.json")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])

    # Every line is one row (blank lines too: bad_json), with schema.py's reason.
    assert sorted(r[0] for r in got["trades"]) == sorted(TRADE_LINES)
    assert {line: parse_trade_line(line)[1] for line in TRADE_LINES} == dict(got["trades"])
    assert {line: _tick_reason(line) for line in TICK_LINES} == dict(got["ticks"])
    # A job naming fewer columns dead-letters the same lines, with the same reasons.
    assert dict(got["narrow_dead"]) == {line: reason for line, reason in got["trades"] if reason}
    # EVENT_ROW (generator path): the same syntax and type reasons, blank lines included.
    expected = {line: (parse_trade_line(line)[1] if (parse_trade_line(line)[1] or "").startswith(
        SYNTAX) else None) for line in TRADE_LINES}
    assert expected == dict(got["event_row"])
    # Typed values: DECIMAL rounded half-up like CAST, exponents exact, city optional.
    typed = {tuple(r[:2]) for r in got["typed"]}
    assert ("e1", "12.50") in typed and ("e1", "1000.00") in typed and ("e1", "12.35") in typed
    assert {r[3] for r in got["typed"]} >= {"New York", None}
    assert {r[2] for r in got["typed"]} == {40.7, 95.0}  # 95.0: parsed, then bad_location
    assert {r[4] for r in got["typed"]} == {T}
