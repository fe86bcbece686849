"""The load-test plan: ramp steps, SLO thresholds, and the index range of each producer.

Pure Python (no Airflow, no boto3): the DAG builds a :class:`LoadPlan` from its Params and
fans :meth:`LoadPlan.producer_specs` out to mapped producer tasks. Ramp step ``i`` of
``k`` runs at ``target * i / k`` events/s for ``duration / k`` seconds. Producer ``p`` of
``N`` sends ``1/N`` of every step's rate and owns the contiguous event-index range
``[start_index, start_index + planned_count)`` of the shared deterministic generator, so
the N producers together send exactly the events one producer would have sent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class RampStep:
    events_per_s: float
    seconds: float


@dataclass(frozen=True)
class Slos:
    """Thresholds; ``None`` disables a check."""

    max_p99_latency_ms: float | None = 5000.0
    max_backpressure_ratio: float | None = 0.5
    zero_failed_records: bool = True
    min_achieved_ratio: float | None = 0.9


@dataclass(frozen=True)
class ProducerSpec:
    """What one mapped producer does; JSON-serialisable for XCom."""

    producer: int
    producers: int
    stream: str
    seed: int
    start_index: int
    planned_count: int
    steps: list[dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProducerSpec:
        return cls(**data)


@dataclass(frozen=True)
class LoadPlan:
    stream: str
    target_events_per_s: int
    duration_s: int
    ramp_steps: int = 1
    producers: int = 1
    seed: int = 42
    slos: Slos = field(default_factory=Slos)

    def __post_init__(self) -> None:
        problems = []
        if self.target_events_per_s < 1:
            problems.append(f"target_events_per_s must be >= 1, got {self.target_events_per_s}")
        if self.duration_s < 1:
            problems.append(f"duration_s must be >= 1, got {self.duration_s}")
        if not 1 <= self.ramp_steps <= self.duration_s:
            problems.append(f"ramp_steps must be between 1 and duration_s ({self.duration_s}), "
                            f"got {self.ramp_steps}")
        if self.producers < 1:
            problems.append(f"producers must be >= 1, got {self.producers}")
        if problems:
            raise ValueError("invalid load-test plan: " + "; ".join(problems))

    @property
    def steps(self) -> list[RampStep]:
        k = self.ramp_steps
        return [RampStep(self.target_events_per_s * i / k, self.duration_s / k)
                for i in range(1, k + 1)]

    @property
    def planned_events(self) -> int:
        return round(sum(s.events_per_s * s.seconds for s in self.steps))

    def producer_specs(self) -> list[ProducerSpec]:
        """One spec per producer: its share of each step's rate and its own index range."""
        n = self.producers
        total = self.planned_events
        shares = [total // n + (1 if p < total % n else 0) for p in range(n)]
        specs, start = [], 0
        for p in range(n):
            steps = [{"events_per_s": s.events_per_s / n, "seconds": s.seconds}
                     for s in self.steps]
            specs.append(ProducerSpec(p, n, self.stream, self.seed, start, shares[p], steps))
            start += shares[p]
        return specs

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["steps"] = [asdict(s) for s in self.steps]
        data["planned_events"] = self.planned_events
        return data
