"""The jobs' file-sink format ``json-lines`` against Flink's own ``json`` format.

The same rows (escapes, unicode, NULLs, negative and large decimals, doubles, timestamps)
go to two filesystem sinks in one PyFlink mini-cluster job: ``json-lines`` and ``json``
(decimals as plain numbers, timestamps through ``CAST AS STRING``). Parsed, both must hold
the same values, decimals compared exactly. A column type it does not write fails at
planning, naming the column. Real Flink; the format is compiled by javac as the stack does.
"""

from __future__ import annotations

import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path

from flink_platform.local.flink_dist import build_job_udfs, flink_home, flink_python, java_home

NAMES = ["s", "b", "i", "n", "d", "m", "big", "q", "ts"]
COLUMNS = ("s STRING, b BOOLEAN, i INT, n BIGINT, d DOUBLE, m DECIMAL(18, 2), "
           "big DECIMAL(38, 2), q DECIMAL(18, 4), ts TIMESTAMP(3)")
ROWS = [
    "('plain', TRUE, 1, 1767225600000, 0.1, 12.50, "
    "CAST('123456789012345678901234.56' AS DECIMAL(38, 2)), 0.3849, "
    "TIMESTAMP '2026-01-01 00:01:00.000')",
    "('quote \" back \\ slash / tab \t nl ' || CHR(10) || ' bell ' || CHR(7), FALSE, -7, -1, "
    "-2.5E-7, -0.05, -0.01, -12.0001, TIMESTAMP '2025-12-31 23:59:59.999')",
    "('Zürich ü 東京 😀', TRUE, 0, 0, 1.0E20, 0.00, 0.00, 0.0000, "
    "TIMESTAMP '2026-01-01 00:01:00.000')",
    "(CAST(NULL AS STRING), CAST(NULL AS BOOLEAN), CAST(NULL AS INT), CAST(NULL AS BIGINT), "
    "CAST(NULL AS DOUBLE), CAST(NULL AS DECIMAL(18, 2)), CAST(NULL AS DECIMAL(38, 2)), "
    "CAST(NULL AS DECIMAL(18, 4)), CAST(NULL AS TIMESTAMP(3)))",
]
SCRIPT = """
import sys
from pyflink.table import EnvironmentSettings, TableEnvironment
t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
t_env.get_config().set("pipeline.jars", "file://" + sys.argv[1])
t_env.get_config().set("parallelism.default", "1")
out, columns, rows = sys.argv[2], sys.argv[3], sys.argv[4].split("\\n")
t_env.execute_sql(f"CREATE TEMPORARY VIEW src AS SELECT * FROM (VALUES {', '.join(rows)}) "
                  f"AS t(s, b, i, n, d, m, big, q, ts)")
t_env.execute_sql(f"CREATE TABLE lines_sink ({columns}) WITH ('connector' = 'filesystem', "
                  f"'path' = 'file://{out}/json-lines', 'format' = 'json-lines')")
t_env.execute_sql(f"CREATE TABLE json_sink ({columns.replace('TIMESTAMP(3)', 'STRING')}) WITH ("
                  f"'connector' = 'filesystem', 'path' = 'file://{out}/json', 'format' = 'json', "
                  f"'json.encode.decimal-as-plain-number' = 'true')")
statements = t_env.create_statement_set()
statements.add_insert_sql("INSERT INTO lines_sink SELECT * FROM src")
statements.add_insert_sql("INSERT INTO json_sink SELECT s, b, i, n, d, m, big, q, "
                          "CAST(ts AS STRING) FROM src")
statements.execute().wait()
t_env.execute_sql(f"CREATE TABLE bad_sink (a ARRAY<INT>) WITH ('connector' = 'filesystem', "
                  f"'path' = 'file://{out}/bad', 'format' = 'json-lines')")
try:
    t_env.execute_sql("INSERT INTO bad_sink SELECT ARRAY[1]").wait()
    print("UNSUPPORTED-ACCEPTED")
except Exception as err:
    message = str(err)
    start = max(message.find("format 'json-lines'"), 0)
    print("UNSUPPORTED-REJECTED", message[start:start + 400].replace(chr(10), " "))
"""


def _rows(directory: Path) -> list[dict]:
    lines = [line for part in sorted(directory.glob("part-*")) for line in
             part.read_text(encoding="utf-8").splitlines()]
    return sorted((json.loads(line, parse_float=Decimal) for line in lines),
                  key=lambda r: json.dumps(r, default=str, sort_keys=True))


def test_json_lines_writes_what_flink_json_writes(tmp_path):
    jar = build_job_udfs(flink_home(), tmp_path / "udfs.jar")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["JAVA_HOME"] = str(java_home())
    proc = subprocess.run([str(flink_python()), "-c", SCRIPT, str(jar), str(tmp_path), COLUMNS,
                           "\n".join(ROWS)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    ours, flinks = _rows(tmp_path / "json-lines"), _rows(tmp_path / "json")
    assert len(ours) == len(ROWS)
    assert ours == flinks
    by_s = {r["s"]: r for r in ours}
    assert by_s["plain"]["big"] == Decimal("123456789012345678901234.56")
    assert by_s["plain"]["ts"] == "2026-01-01 00:01:00.000"  # as CAST(ts AS STRING)
    assert any(s and "\n" in s and "\\" in s and '"' in s and "\x07" in s for s in by_s)
    assert by_s[None] == {k: None for k in by_s["plain"]}  # NULLs written as null
    # Field order is the sink's column order (key order of each JSON object).
    first = next((tmp_path / "json-lines").glob("part-*")).read_text().splitlines()[0]
    assert list(json.loads(first)) == NAMES

    assert "UNSUPPORTED-REJECTED" in proc.stdout, proc.stdout[-2000:]
    assert "column 'a'" in proc.stdout and "cast it to STRING" in proc.stdout
