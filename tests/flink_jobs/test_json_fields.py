"""JSON_FIELDS, the jobs' one-parse-per-line JVM function, on edge cases of its contract.

Real Flink: the function is compiled with javac like the local stack does and run in a
PyFlink mini-cluster (the Flink venv's Python, FLINK_JOBS_UDF_JAR) through job_common's
table environment, so the registration the jobs use is the one under test.
"""

from __future__ import annotations

import json
import os
import subprocess

from flink_platform.config import PROJECT_ROOT
from flink_platform.local.flink_dist import build_job_udfs, flink_home, flink_python, java_home

PATHS = ("user_id", "amount", "location.lat", "location.city", "n", "arr", "location")
LINES = {
    "nested": '{"user_id":"U1","amount":12.50,"location":{"lat":1.5,"city":"X"},"n":null,'
              '"arr":[1,{"user_id":"inner"}]}',
    "escaped": '{"user_id":"U\\"q","amount":1e3}',
    "bad_json": '{"user_id":"U1",',
    "trailing": '{"user_id":"U1"} x',
    "empty": "",
    "array": "[1,2]",
}
SCRIPT = """
import json, sys
sys.path.insert(0, {jobs!r})
import job_common
args = job_common.parse_args("json-fields-test", {{}}, ["--output-dir", "/nonexistent"])
_, t_env = job_common.create_table_env(args)
lines = json.loads(sys.argv[1]); paths = json.loads(sys.argv[2])
values = ", ".join("('" + k + "', '" + v.replace("'", "''") + "')" for k, v in lines.items())
call = "JSON_FIELDS(line, " + ", ".join("'" + p + "'" for p in paths) + ")"
cols = ", ".join("COALESCE(f[" + str(i) + "], '<null>')" for i in range(1, len(paths) + 1))
rows = t_env.execute_sql("SELECT name, f IS NULL, " + cols + " FROM (SELECT name, " + call
                         + " AS f FROM (VALUES " + values + ") AS t(name, line))").collect()
with rows:
    print(json.dumps({{r[0]: [r[1]] + list(r[2:]) for r in rows}}))
"""


def test_json_fields_contract(tmp_path):
    jar = build_job_udfs(flink_home(), tmp_path / "udfs.jar")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(JAVA_HOME=str(java_home()), FLINK_JOBS_UDF_JAR=str(jar))
    script = SCRIPT.format(jobs=str(PROJECT_ROOT / "include" / "flink_jobs"))
    proc = subprocess.run([str(flink_python()), "-c", script, json.dumps(LINES), json.dumps(PATHS)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    n = "<null>"
    # Field text as written (numbers keep their digits), nested paths dotted; JSON null,
    # arrays and objects give NULL; fields inside arrays are not fields of the line.
    assert got["nested"] == [False, "U1", "12.50", "1.5", "X", n, n, n]
    assert got["escaped"] == [False, 'U"q', "1e3", n, n, n, n, n]
    # Not one JSON value: NULL array (dead-letter reason bad_json).
    for name in ("bad_json", "trailing", "empty"):
        assert got[name][0] is True, name
    # Valid JSON that is not an object: no fields (reasons missing_field:...).
    assert got["array"] == [False] + [n] * len(PATHS)
