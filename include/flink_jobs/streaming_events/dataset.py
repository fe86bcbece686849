"""Recorded datasets on disk: what the jobs' ``file`` source replays.

``write_dataset(dir, seed, count)`` writes ``trades/part-00000.jsonl`` (one JSON trade per
line), ``market-data/part-00000.jsonl`` (ticks spanning the same event time) and
``manifest.json`` (seed, count, options). One file per stream: the jobs' file source reads
files in listing order, and one file keeps event time in order (out-of-orderness stays
within the generator's 2 s). ``python -m streaming_events.dataset DIR SEED COUNT``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .generator import (
    DEFAULT_LATE_RATE,
    generate_market_ticks,
    generate_trading_lines,
    ticks_covering,
)
from .schema import encode_event

CHUNK = 50_000


def write_dataset(directory: str | Path, seed: int, count: int, *,
                  malformed_rate: float = 0.0, late_rate: float = DEFAULT_LATE_RATE,
                  with_ticks: bool = True) -> dict:
    """Write a labelled dataset of ``count`` trades (and matching ticks); return the manifest."""
    root = Path(directory)
    (root / "trades").mkdir(parents=True, exist_ok=True)
    with open(root / "trades" / "part-00000.jsonl", "w") as out:
        for start in range(0, count, CHUNK):
            n = min(CHUNK, count - start)
            out.write("\n".join(generate_trading_lines(
                seed, start, n, malformed_rate=malformed_rate, late_rate=late_rate)) + "\n")
    ticks = ticks_covering(count) if with_ticks else 0
    if with_ticks:
        (root / "market-data").mkdir(parents=True, exist_ok=True)
        with open(root / "market-data" / "part-00000.jsonl", "w") as out:
            for start in range(0, ticks, CHUNK):
                batch = generate_market_ticks(seed, start, min(CHUNK, ticks - start))
                out.write("\n".join(encode_event(t) for t in batch) + "\n")
    manifest = {"seed": seed, "count": count, "ticks": ticks, "malformed_rate": malformed_rate,
                "late_rate": late_rate}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def read_lines(path: str | Path) -> list[str]:
    """Non-empty lines of every visible file under ``path`` (a file or a directory)."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
    return [line for f in files for line in f.read_text().splitlines() if line.strip()]


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit("usage: python -m streaming_events.dataset DIR SEED COUNT [MALFORMED_RATE]")
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    print(json.dumps(write_dataset(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                   malformed_rate=rate)))
