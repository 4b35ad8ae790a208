"""What a training run uses for an update parameter that the spec leaves unset.

A spec may omit a setting (a hand-written .pbtxt, an import from a tool that has no such
setting). The converter then fixes it to PyTorch's default, and inspection must show that same
value rather than a blank, so both read it from here.
"""

from __future__ import annotations

_UNSET: dict[str, float | int | bool] = {
    "learning_rate": 1e-3,
    "mini_batch_size": 32,
    "momentum": 0.0,
    "nesterov": False,
    "weight_decay": 0.0,
    "beta1": 0.9,
    "beta2": 0.999,
    "eps": 1e-8,
    "epochs": 1,
    "shuffle": True,
    "seed": 0,
    "proximal_mu": 0.0,
}
# torch.optim.AdamW's default; Adam and SGD default to no decay.
_ADAMW_UNSET_WEIGHT_DECAY = 0.01


def unset_default(name: str, optimizer_kind: str | None = None) -> float | int | bool:
    """The value used for `name` when the spec omits it (KeyError for unknown names)."""
    if name == "weight_decay" and optimizer_kind == "adamw":
        return _ADAMW_UNSET_WEIGHT_DECAY
    return _UNSET[name]
