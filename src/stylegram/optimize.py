"""Optimising an image x for a criterion: L-BFGS (the paper) or Adam, with --tol, loss scaling, NaN recovery.

`optimise` is a free function of an objective x -> (loss, Losses); it knows nothing of photos, paintings or
scales. It yields after each iteration and never prints; the consumer stops it by leaving the loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from .errors import StylegramError
from .hardware import lbfgs_history
from .losses import Losses

LBFGS_FIRST_STEP = 0.05  # largest pixel change of an L-BFGS step without curvature information ([0, 1] units)
TOL_WINDOW = 10  # iterations over which --tol measures the loss's relative fall
MAX_FAILURES = 3  # non-finite losses survived (each: back to the last good iterate, fresh optimiser, half step)

Objective = Callable[[torch.Tensor], "tuple[torch.Tensor, Losses]"]


class NonFiniteLoss(StylegramError):
    """The loss stayed NaN/Inf after MAX_FAILURES recoveries; `x` is the last iterate with a finite loss."""

    def __init__(self, message: str, x: torch.Tensor) -> None:
        super().__init__(message)
        self.x = x


@dataclass
class Progress:
    """Where a run is: everything a checkpoint needs to continue it exactly."""

    scale: int = 0  # index of the current scale
    iteration: int = 0  # iterations done at this scale
    done: int = 0  # iterations done at earlier scales
    x: torch.Tensor | None = field(default=None, repr=False)
    optimizer: dict | None = field(default=None, repr=False)  # the optimiser's state_dict
    loss_scale: float | None = None  # the constant factor L-BFGS sees (see `optimise`)
    history: list[float] = field(default_factory=list)  # total loss per iteration at this scale
    failures: int = 0
    seconds: float = 0.0


def converged(history: list[float], tol: float) -> bool:
    """--tol: the loss fell by less than tol per iteration (relative) over the last TOL_WINDOW iterations."""
    if not tol or len(history) <= TOL_WINDOW:
        return False
    old, new = history[-1 - TOL_WINDOW], history[-1]
    return old - new < tol * TOL_WINDOW * abs(new)


def new_optimizer(x: torch.Tensor, optimizer: str = "lbfgs", lr: float = 0.02) -> torch.optim.Optimizer:
    if optimizer == "adam":
        return torch.optim.Adam([x], lr=lr)
    # max_iter=1 per step() call: one function evaluation per iteration, history kept in the state
    return torch.optim.LBFGS([x], lr=1, max_iter=1, history_size=lbfgs_history(x[0, 0].numel()),
                             tolerance_grad=0, tolerance_change=0)


@dataclass
class Step:
    """One accepted iteration (or tile visit) as the engine reports it: the losses before it, and on a scale's last
    step why the scale ended ("converged": --tol, "iterations": --iterations, "tiles": the last visit)."""

    losses: Losses
    ended: str | None = None
    tile: tuple[int, int] | None = None  # (visit, visits) on a tiled scale


def optimise(
    objective: Objective, progress: Progress, *, iterations: int, tol: float = 0.0, optimizer: str = "lbfgs",
    lr: float = 0.02, first_step: float = LBFGS_FIRST_STEP,
) -> Iterator[Step]:
    """Improve progress.x until `iterations` (counting progress.iteration already done) or --tol; yield a Step for
    each accepted iteration, with progress (x, optimiser state, history) up to date for a checkpoint.

    `first_step` is the largest pixel change of L-BFGS's first step (smaller from an already close start).
    Raises NonFiniteLoss when the loss stays NaN/Inf after MAX_FAILURES recoveries.
    """
    st = progress
    x = st.x.detach().contiguous().requires_grad_(True)
    opt = new_optimizer(x, optimizer, lr)
    if st.optimizer is not None:
        opt.load_state_dict(st.optimizer)
    good = x.detach().clone()  # the last iterate whose loss was finite
    closure, current = _closure(objective, x, opt, st, optimizer, first_step)
    failed = False
    try:
        while st.iteration < iterations and not converged(st.history, tol):
            before = x.detach().clone()
            current.clear()
            opt.step(closure)
            st.iteration += 1
            parts = current[0]
            if not math.isfinite(parts.total):
                failed = st.failures + 1 >= MAX_FAILURES
                opt = _recover(x, good, st, optimizer, lr, parts.total)
                closure, current = _closure(objective, x, opt, st, optimizer, first_step)
                continue
            good = before
            if optimizer == "adam":
                with torch.no_grad():
                    x.clamp_(0, 1)  # projected gradient: Adam's steps may leave the valid range
            st.history.append(parts.total)
            st.x, st.optimizer = x.detach(), opt.state_dict()
            ended = "iterations" if st.iteration >= iterations else "converged" if converged(st.history, tol) else None
            yield Step(parts, ended)
    finally:  # also when the consumer stops early
        if not failed:
            if not torch.isfinite(x).all():  # the very last step went astray: keep the last good iterate
                with torch.no_grad():
                    x.copy_(good)
            st.x = x.detach()


def _closure(objective: Objective, x: torch.Tensor, opt: torch.optim.Optimizer, st: Progress, optimizer: str,
             first_step: float) -> tuple[Callable[[], torch.Tensor], list[Losses]]:
    """The optimiser's closure, and the list it appends each evaluation's losses to."""
    current: list[Losses] = []

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        loss, parts = objective(x)
        current.append(parts)
        loss.backward()
        if optimizer == "adam":
            return loss
        if st.loss_scale is None:
            # torch's L-BFGS takes a unit step along the gradient when it has no curvature pairs and rejects
            # pairs with s.y < 1e-10: both absolute. Scaling the loss so that the first gradient's largest pixel
            # is `first_step` makes those steps visible; L-BFGS is scale-invariant after.
            top = float(x.grad.abs().max())
            st.loss_scale = first_step / top if top > 0 and math.isfinite(top) else 1.0
        x.grad.mul_(st.loss_scale)
        return loss.detach() * st.loss_scale

    return closure, current


def _recover(x: torch.Tensor, good: torch.Tensor, st: Progress, optimizer: str, lr: float, value: float
             ) -> torch.optim.Optimizer:
    """A non-finite loss: back to the last good iterate with a fresh optimiser and half the step, or give up."""
    st.failures += 1
    with torch.no_grad():
        x.copy_(good)
    if st.failures >= MAX_FAILURES:
        st.x = good
        raise NonFiniteLoss(f"the loss became {value} {st.failures} times (last good iterate kept); try a smaller "
                            "--style-weight, --lr or --precision fp32", good)
    if st.loss_scale is not None:
        st.loss_scale /= 2
    return new_optimizer(x, optimizer, lr)  # its history led here: start afresh
