"""What every benchmark returns, and how the runner prints it.

A figure is never reported alone: each comes with a baseline measured in the same run on
the same machine (a bare endpoint, a full scan, the small dataset), so the ratio says
something even on a slow or busy machine.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Result:
    name: str
    value: float
    unit: str
    baseline_name: str
    baseline: float
    target: str | None = None
    passed: bool | None = None

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    def line(self) -> str:
        verdict = "" if self.passed is None else ("  PASS" if self.passed else "  FAIL")
        target = f"  target {self.target}" if self.target else ""
        return (f"{self.name}: {self.value:.2f} {self.unit}  | {self.baseline_name}: "
                f"{self.baseline:.2f} {self.unit}  | ratio {self.ratio:.2f}{target}{verdict}")


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: the value below which pct% of samples fall."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def progress(message: str) -> None:
    """Long set-up steps say what they are doing (on stderr, so results stay clean)."""
    print(f"  .. {message}", file=sys.stderr, flush=True)
