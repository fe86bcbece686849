"""risk-analytics on the real local cluster: every aggregate equals the Python reference."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from include.flink_jobs.streaming_events import read_lines

from . import risk_reference as ref
from .flink_client import read_output, submit, wait_state

pytestmark = [pytest.mark.flink, pytest.mark.slow]


def _keyed(rows: list[dict], key: str) -> dict:
    out = {}
    for row in rows:
        k = (row["window_start"], row[key])
        assert k not in out, f"duplicate window row {k}"
        out[k] = row
    return out


def test_risk_aggregates_equal_the_python_reference(
        platform_config, flink_cluster, risk_dataset, submitted_jobs, tmp_path):
    job_id = submit(platform_config, "risk_analytics", tmp_path, source="file",
                    input_dir=risk_dataset)
    submitted_jobs.append(job_id)
    wait_state(flink_cluster, job_id, {"FINISHED"}, timeout_s=240)
    trades = [json.loads(x) for x in read_lines(risk_dataset / "trades")]
    ticks = [json.loads(x) for x in read_lines(risk_dataset / "market-data")]

    vwap = _keyed(read_output(tmp_path, "risk/vwap"), "symbol")
    expected = ref.vwap_windows(trades)
    assert set(vwap) == set(expected)
    for key, want in expected.items():
        got = vwap[key]
        assert Decimal(str(got["notional"])) == want["notional"], key
        assert Decimal(str(got["volume"])) == want["volume"], key
        assert got["trade_count"] == want["trade_count"], key
        assert abs(Decimal(str(got["vwap"])) - want["vwap"]) <= Decimal("0.01"), key

    exposure = _keyed(read_output(tmp_path, "risk/exposure"), "account_id")
    expected = ref.exposure_windows(trades)
    assert set(exposure) == set(expected)
    for key, want in expected.items():
        assert Decimal(str(exposure[key]["net_notional"])) == want["net_notional"], key
        assert Decimal(str(exposure[key]["gross_notional"])) == want["gross_notional"], key
        assert exposure[key]["trade_count"] == want["trade_count"], key

    vol = _keyed(read_output(tmp_path, "risk/volatility"), "symbol")
    expected = ref.volatility_windows(ticks)
    assert set(vol) == set(expected)
    for key, want in expected.items():
        assert vol[key]["return_count"] == want["return_count"], key
        assert abs(vol[key]["volatility"] - want["volatility"]) <= 1e-6 * want["volatility"] + 1e-12

    joined = _keyed(read_output(tmp_path, "risk/trade-market"), "symbol")
    expected = ref.trade_market_windows(trades, ticks)
    assert set(joined) == set(expected) and expected
    for key, want in expected.items():
        got = joined[key]
        assert abs(Decimal(str(got["avg_mid"])) - want["avg_mid"]) <= Decimal("0.0001"), key
        assert got["tick_count"] == want["tick_count"], key
        bps = (want["vwap"] - want["avg_mid"]) / want["avg_mid"] * 10000
        assert abs(Decimal(str(got["slippage_bps"])) - bps) <= Decimal("0.01"), key

    assert read_output(tmp_path, "dead-letter/risk-analytics") == []
