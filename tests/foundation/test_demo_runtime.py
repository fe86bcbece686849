"""The runtime demo's pieces that need no runtime: busy time, when a scheduled run is due,
the summary's run ids, links, monitoring line and JSON."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flink_platform.local.demo_render import render_runtime, summary_json
from flink_platform.local.demo_runtime import (
    RUNTIME_STAGES,
    RuntimeDemo,
    RuntimeResult,
    busy_time,
)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def test_busy_time_is_the_union_of_the_task_intervals():
    tis = {"a": {"start_date": _iso(0), "end_date": _iso(10)},
           "b": {"start_date": _iso(5), "end_date": _iso(12)},  # overlaps a
           "c": {"start_date": _iso(20), "end_date": _iso(21)},
           "d": {"start_date": None, "end_date": None}}  # skipped: never ran
    assert busy_time(tis) == 13.0


class _Api:
    def __init__(self, next_run_after):
        self.next_run_after = next_run_after

    def dag(self, dag_id):
        return {"dag_id": dag_id, "next_dagrun_run_after": self.next_run_after}


def test_a_scheduled_run_is_awaited_only_when_one_is_due(tmp_path, platform_config):
    def due(next_after):
        return RuntimeDemo(platform_config, _Api(next_after), "http://ui")._run_due("d")

    assert due(_iso(time.time() - 3600))  # today's run not created yet: the scheduler will
    assert not due(_iso(time.time() + 86400))  # an earlier demo ran today's: trigger instead
    assert not due(None)


def test_the_summary_names_runs_links_and_the_alerts_that_fired():
    stage = RUNTIME_STAGES[1]
    result = RuntimeResult(stage, "passed", 58.1, "asset_triggered__x", "http://ui/dags/d/runs/x",
                           "started by provision's Asset event", {"fraud-detection.version":
                                                                   "1.0.0"}, 104.1, 53.7, 58.4)
    monitoring = {"prometheus": "http://127.0.0.1:9090", "alerts_fired": ["A (fraud_detection)"]}
    text = render_runtime([result], monitoring, 300)
    assert "run asset_triggered__x" in text and "http://ui/dags/d/runs/x" in text
    assert "alerts_fired: [\"A (fraud_detection)\"]" in text and "ALL STAGES PASSED" in text
    data = summary_json("runtime", [result], monitoring, 300, {})
    stage_json = data["stages"][0]
    assert stage_json["busy_s"] == 53.7 and stage_json["run_id"] == "asset_triggered__x"
