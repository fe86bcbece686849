"""The Airflow UI in a real browser: playwright-core (tools/uitest, ``npm ci`` by ``make
venvs``) drives Debian's chromium through the trigger form of ``platform_provision`` on the
session's real runtime (the ``airflow_api`` fixture's api-server, scheduler, triggerer).

tools/uitest/trigger_form.mjs does the clicking and the checks (its header says which);
this test runs it, prints its output and judges its exit code, then checks through the API
that the refused trigger created no run and the accepted one used the form's value.

Order in the session: after test_api_params, before test_lifecycle_runtime (which resets
moto and the Flink cluster itself). Moto is reset first; ``flink_deploy`` is paused, so the
provision run's Asset event starts no deploy under the scheduler. It leaves a provisioned
(emulated) platform and no Flink job.

Screenshots go to a temporary directory; ``make ui-screenshots`` sets
FLINK_PLATFORM_UI_SCREENSHOTS=docs/img to re-take the README's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.runtime, pytest.mark.flink, pytest.mark.slow]
UITEST = Path(__file__).resolve().parents[2] / "tools" / "uitest"
SCRIPT = UITEST / "trigger_form.mjs"
SHOTS = ("trigger-form.png", "lifecycle-green.png")
MAX_PNG_BYTES = 300_000
SCRIPT_TIMEOUT_S = 480
FIELD = "streams.trading_events.shards"


def _run_ids(api, dag_id: str) -> set[str]:
    runs = api._get(f"/dags/{dag_id}/dagRuns", limit=100)["dag_runs"]
    return {r["dag_run_id"] for r in runs}


def test_trigger_form_in_a_real_browser(airflow_api, clean_moto, flink_cluster, platform_config,
                                        tmp_path):
    node = shutil.which("node")
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    assert node, "node not found: the browser test runs tools/uitest with Node.js (>= 20)"
    assert (UITEST / "node_modules" / "playwright-core").is_dir(), (
        "playwright-core missing: `make uitest` (npm ci in tools/uitest)")
    assert os.access(chromium, os.X_OK), (
        f"{chromium} missing: the browser test drives Debian's chromium (apt-get install chromium)")
    resp = airflow_api.session.patch(f"{airflow_api.base}/dags/flink_deploy",
                                     json={"is_paused": True}, timeout=30)
    assert resp.status_code == 200, resp.text
    shots = Path(os.environ.get("FLINK_PLATFORM_UI_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    before = _run_ids(airflow_api, "platform_provision")

    ui_url = f"http://127.0.0.1:{platform_config.local.airflow_port}"
    started = time.monotonic()
    proc = subprocess.run(
        [node, str(SCRIPT), ui_url, str(shots)], cwd=UITEST, capture_output=True, text=True,
        timeout=SCRIPT_TIMEOUT_S, stdin=subprocess.DEVNULL,
        env={**os.environ, "CHROMIUM": chromium, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
             "NO_PROXY": "127.0.0.1,localhost"})
    elapsed = time.monotonic() - started
    print(f"--- {SCRIPT.name} ({elapsed:.1f}s, exit {proc.returncode}) ---\n{proc.stdout}")
    if proc.stderr:
        print(f"--- stderr ---\n{proc.stderr}")
    assert proc.returncode == 0, (f"browser test failed (exit {proc.returncode}):\n"
                                  f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")

    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert _run_ids(airflow_api, "platform_provision") - before == {summary["run_id"]}, (
        "the refused trigger created a run, or the accepted one is not the run the UI showed")
    run = airflow_api.run("platform_provision", summary["run_id"])
    assert run["state"] == "success", run
    assert run["conf"][FIELD] == summary["shards"], run["conf"]
    for name in SHOTS:
        size = (shots / name).stat().st_size
        assert 0 < size < MAX_PNG_BYTES, f"{name}: {size} bytes"
