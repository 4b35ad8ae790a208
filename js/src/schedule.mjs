// Learning-rate schedules from the manifest's lr_schedule: the formulas of
// mlspec/runtime/schedules.py (PyTorch's StepLR, CosineAnnealingLR stepped per epoch, LinearLR),
// a pure function of (base rate, epoch, step, total epochs) so a resumed run gets the same rates.

/** The rate for optimizer step `step` (0-based, steps taken before it) in epoch `epoch` (0-based). */
export function scheduledRate(schedule, base, { epoch, step, epochs }) {
  if (!schedule || !schedule.kind || schedule.kind === "constant") return base;
  if (schedule.kind === "step") {
    return base * schedule.gamma ** Math.floor(epoch / schedule.step_epochs);
  }
  if (schedule.kind === "cosine") {
    const progress = epochs > 0 ? epoch / epochs : 0;
    return schedule.min_lr + ((base - schedule.min_lr) * (1 + Math.cos(Math.PI * progress))) / 2;
  }
  if (schedule.kind === "linear_warmup") {
    if (step < schedule.warmup_steps) {
      return base * (schedule.start_factor + ((1 - schedule.start_factor) * step) / schedule.warmup_steps);
    }
    return base;
  }
  throw new Error(`manifest.json: lr_schedule kind ${JSON.stringify(schedule.kind)} is not one of constant, step, cosine, linear_warmup`);
}
