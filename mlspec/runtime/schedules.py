"""Learning-rate schedules declared in a spec's update_parameters.lr_schedule.

A schedule is a pure function of (base rate, epoch, step, total epochs), never a stateful
object stepped along with training, so a resumed run computes exactly the rate an uninterrupted
one would, and a callback that changes the base rate simply changes what the schedule scales.
The formulas follow PyTorch's StepLR, CosineAnnealingLR (stepped once per epoch) and LinearLR.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

ScheduleKind = Literal["constant", "step", "cosine", "linear_warmup"]


@dataclass(frozen=True)
class Schedule:
    kind: ScheduleKind = "constant"
    step_epochs: int = 1
    gamma: float = 1.0
    min_lr: float = 0.0
    warmup_steps: int = 0
    start_factor: float = 1.0

    def rate(self, base: float, *, epoch: int, step: int, epochs: int) -> float:
        """The rate for the optimizer step numbered `step` (0-based) in epoch `epoch` (0-based)."""
        if self.kind == "step":
            return base * self.gamma ** (epoch // self.step_epochs)
        if self.kind == "cosine":
            progress = epoch / epochs if epochs > 0 else 0.0
            return self.min_lr + (base - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2
        if self.kind == "linear_warmup" and step < self.warmup_steps:
            return base * (self.start_factor + (1 - self.start_factor) * step / self.warmup_steps)
        return base


def schedule_from_dict(entry: Mapping[str, object] | None) -> Schedule:
    """Read the manifest's lr_schedule: {kind, ...the spec's fields for that kind} or null."""
    if not entry:
        return Schedule()
    fields = {key: entry[key] for key in Schedule.__dataclass_fields__ if key in entry}
    return Schedule(**fields)  # type: ignore[arg-type]
