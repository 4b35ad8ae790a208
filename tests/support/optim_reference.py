"""Hand-written numpy versions of PyTorch's optimizers and gradient clipping, the yardstick for tests.

Everything here is written out from PyTorch's documented update rules (torch.optim.SGD, Adam,
AdamW, torch.nn.utils.clip_grad_norm_ and clip_grad_value_) so that the artifacts and the
runtime are judged by an independent formula, never by their own output. Arrays are updated in
float64 unless the caller passes float32; parameters and gradients are dicts keyed by weight name
("fc1.weights"), which is how the ORT session exposes them.

Per-step semantics (t counts steps from 1):

SGD(lr, momentum, nesterov, weight_decay), dampening 0:
    d = g + weight_decay * p
    if momentum: buf = d on the first step, else buf = momentum * buf + d
                 d = d + momentum * buf if nesterov else buf
    p = p - lr * d

Adam(lr, beta1, beta2, eps, weight_decay)  (L2 penalty added to the gradient):
    g = g + weight_decay * p
    m = beta1 * m + (1 - beta1) * g ;  v = beta2 * v + (1 - beta2) * g^2
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

AdamW: as Adam without the L2 term, after first decaying p = p * (1 - lr * weight_decay).

clip_grad_norm_(max_norm): total = sqrt(sum of every squared element of every gradient);
    every gradient is scaled by min(1, max_norm / (total + 1e-6)).
clip_grad_value_(c): every element is clamped to [-c, c].
"""

from __future__ import annotations

from collections.abc import MutableMapping

import numpy as np
import numpy.typing as npt

Arrays = MutableMapping[str, npt.NDArray[np.floating]]


def clip_grad_norm_(grads: Arrays, max_norm: float) -> float:
    """Scale all gradients in place like torch.nn.utils.clip_grad_norm_; return the total norm."""
    total = float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads.values())))
    coefficient = min(1.0, max_norm / (total + 1e-6))
    for name in grads:
        grads[name] = grads[name] * coefficient
    return total


def clip_grad_value_(grads: Arrays, clip_value: float) -> None:
    for name in grads:
        grads[name] = np.clip(grads[name], -clip_value, clip_value)


class SGD:
    def __init__(
        self, lr: float, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0
    ) -> None:
        self.lr = lr
        self.momentum = momentum
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self.buffers: dict[str, npt.NDArray[np.floating]] = {}

    def step(self, params: Arrays, grads: Arrays) -> None:
        for name, grad in grads.items():
            direction = grad + self.weight_decay * params[name] if self.weight_decay else grad
            if self.momentum:
                previous = self.buffers.get(name)
                buffer = direction.copy() if previous is None else self.momentum * previous + direction
                self.buffers[name] = buffer
                direction = direction + self.momentum * buffer if self.nesterov else buffer
            params[name] = params[name] - self.lr * direction


class Adam:
    """torch.optim.Adam (decoupled=False: weight decay is an L2 term added to the gradient)."""

    decoupled = False

    def __init__(
        self,
        lr: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weight_decay = weight_decay
        self.step_count = 0
        self.first: dict[str, npt.NDArray[np.floating]] = {}
        self.second: dict[str, npt.NDArray[np.floating]] = {}

    def step(self, params: Arrays, grads: Arrays) -> None:
        self.step_count += 1
        t = self.step_count
        for name, raw_grad in grads.items():
            param = params[name]
            grad = raw_grad
            if self.decoupled:
                param = param * (1.0 - self.lr * self.weight_decay)
            elif self.weight_decay:
                grad = raw_grad + self.weight_decay * param
            m = self.beta1 * self.first.get(name, np.zeros_like(grad)) + (1.0 - self.beta1) * grad
            v = self.beta2 * self.second.get(name, np.zeros_like(grad)) + (1.0 - self.beta2) * grad * grad
            self.first[name], self.second[name] = m, v
            denominator = np.sqrt(v) / np.sqrt(1.0 - self.beta2**t) + self.eps
            params[name] = param - (self.lr / (1.0 - self.beta1**t)) * m / denominator


class AdamW(Adam):
    """torch.optim.AdamW: the weight decay shrinks the parameter directly, before the Adam step."""

    decoupled = True

    def __init__(
        self,
        lr: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(lr, beta1, beta2, eps, weight_decay)


def mse_gradient(
    prediction: npt.NDArray[np.floating], target: npt.NDArray[np.floating]
) -> npt.NDArray[np.floating]:
    """d mean((prediction - target)^2) / d prediction = 2 (prediction - target) / (number of elements).

    The mean runs over every element, batch included, as PyTorch's MSELoss(reduction="mean") does.
    """
    return 2.0 * (prediction - target) / target.size


def dense_mse_gradients(
    params: Arrays, x: npt.NDArray[np.floating], target: npt.NDArray[np.floating]
) -> Arrays:
    """Gradients of mean((x @ W.T + b - target)^2) over every element, for the layer named "fc".

    d loss / d prediction = 2 (prediction - target) / (number of elements), then the chain rule
    through the dense layer: dW = dy.T @ x, db = sum of dy over the batch. Computed in float64.
    """
    x64, t64 = x.astype(np.float64), target.astype(np.float64)
    dy = mse_gradient(x64 @ params["fc.weights"].T + params["fc.bias"], t64)
    return {"fc.weights": dy.T @ x64, "fc.bias": dy.sum(axis=0)}
