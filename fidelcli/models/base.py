"""Public base of the models: settings, fitted attributes and JSON round trip (`FittedModel`), the
continuous-time purchase models' fit and predictions (`PurchaseModel`), and the prediction protocol
every purchase model satisfies, BG/BB included (`PurchasePredictor`).

The maximum likelihood behind every fit is in `_optimize`, the input checks in `_validation`
(private modules of this package); callers outside `fidelcli.models` use this module and the model
classes only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any, ClassVar, Protocol, Self

import numpy as np
from numpy.typing import ArrayLike

from fidelcli.errors import FitError, ModelFileError
from fidelcli.models._optimize import (
    LogLik,
    LogLikGrad,
    MLEResult,
    discount_sum,
    format_params,
    maximize_likelihood,
)
from fidelcli.models._parallel import BLOCK_ROWS
from fidelcli.models._validation import check_penalizer, check_purchase_data, check_values, compress
from fidelcli.models.numerics import FloatArray


class Fitted(Protocol):
    """What a fitted model shows, purchase or spend model alike: its name and parameters, its fit
    summary (`*_` attributes) and its JSON form."""

    name: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]

    @property
    def penalizer(self) -> float: ...
    @property
    def params_(self) -> dict[str, float]: ...
    @property
    def std_errors_(self) -> dict[str, float]: ...
    @property
    def log_likelihood_(self) -> float: ...
    @property
    def converged_(self) -> bool: ...

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        """The predict-ready model saved by `to_dict`."""
        ...


class PurchasePredictor(Fitted, Protocol):
    """The predictions of a purchase model, continuous (BG/NBD, MBG/NBD, Pareto/NBD: x, t_x, T and
    times in the model's unit) or discrete (BG/BB: x, t_x, n and whole transaction opportunities).

    Every method takes each customer's history (x, t_x, T) and broadcasts over it.
    """

    def __init__(self, *, penalizer: float = 0.0) -> None:
        """Store the settings (a refit of the same model: `type(model)(penalizer=...)`)."""

    def fit(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, /, *,
            weights: ArrayLike | None = None) -> Self:
        """Fit on the histories (each row standing for `weights` customers); returns self."""
        ...

    def p_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, /) -> FloatArray:
        """P(alive) at the end of the history."""
        ...

    def expected_purchases(self, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, /
                           ) -> FloatArray:
        """Expected purchases in (T, T + t] given the history."""
        ...

    def expected_purchases_new(self, t: ArrayLike, /) -> FloatArray:
        """Expected repeat purchases of a new customer in (0, t]."""
        ...

    def discounted_expected_transactions(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, /, *,
                                         horizon: int, discount_rate_per_period: float,
                                         step: float = 1.0) -> FloatArray:
        """Sum over k = 1..horizon of the expected purchases of step k discounted by (1 + d)^k."""
        ...

    def horizon_predictions(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, /, *, length: float,
                            steps: int, discount_rate_per_period: float, p_alive: bool = True,
                            ) -> tuple[FloatArray | None, FloatArray, FloatArray]:
        """(P(alive) or None, expected purchases in (T, T + length], the same discounted in
        `steps` equal steps), one value per row."""
        ...


def separate_horizon_predictions(model: PurchasePredictor, x: ArrayLike, t_x: ArrayLike,
                                 T: ArrayLike, *, length: float, steps: int,
                                 discount_rate_per_period: float, p_alive: bool = True,
                                 ) -> tuple[FloatArray | None, FloatArray, FloatArray]:
    """`horizon_predictions` from the three separate predictions: `p_alive` (unless
    `p_alive=False`), `expected_purchases(length, ...)` and
    `discounted_expected_transactions(..., horizon=steps, step=length / steps)`."""
    alive = model.p_alive(x, t_x, T) if p_alive else None
    expected = model.expected_purchases(length, x, t_x, T)
    discounted = model.discounted_expected_transactions(
        x, t_x, T, horizon=steps, discount_rate_per_period=discount_rate_per_period, step=length / steps)
    return alive, expected, discounted


class FittedModel:
    """Settings, fitted attributes and JSON round trip shared by every model.

    Subclasses set `name` and `param_names` and fill the fitted attributes through `_store`.
    """

    name: ClassVar[str] = ""
    param_names: ClassVar[tuple[str, ...]] = ()

    params_: dict[str, float]
    std_errors_: dict[str, float]
    log_likelihood_: float
    n_customers_: float
    converged_: bool
    n_distinct_: int | None
    fit_attempts_: tuple[str, ...]

    def __init__(self, *, penalizer: float = 0.0) -> None:
        # Settings only (scikit-learn's rule): `fit` checks them (`check_penalizer`).
        self.penalizer = penalizer

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"{type(self).__name__}(penalizer={self.penalizer})"
        return f"{type(self).__name__}({format_params(self.param_names, self._theta())[1:-1]})"

    def _store(self, result: MLEResult, n_customers: float, n_distinct: int) -> None:
        self.params_ = result.params
        self.std_errors_ = result.std_errors
        self.log_likelihood_ = result.log_likelihood
        self.n_customers_ = float(n_customers)
        self.converged_ = result.converged
        self.n_distinct_ = int(n_distinct)
        self.fit_attempts_ = result.attempts

    def _theta(self) -> FloatArray:
        """Fitted natural parameters as an array, in `param_names` order."""
        if not hasattr(self, "params_"):
            raise FitError(f"{self.name} model is not fitted",
                           hint="call fit() first or load a saved model with from_dict()")
        return np.array([self.params_[n] for n in self.param_names])

    def _fit_mle(self, loglik: LogLik, starts: Sequence[ArrayLike], n_customers: float,
                 n_distinct: int, loglik_grad: LogLikGrad | None = None) -> None:
        """Run `maximize_likelihood` after the identifiability checks common to every model."""
        k = len(self.param_names)
        if n_distinct < k:
            raise FitError(
                f"{self.name}: {n_distinct} distinct customer histories cannot identify "
                f"{k} parameters",
                hint="fit on more customers (hundreds at least)",
            )
        result = maximize_likelihood(loglik, starts, names=self.param_names,
                                     n_customers=n_customers, model=self.name,
                                     loglik_grad=loglik_grad,
                                     penalizer=check_penalizer(self.penalizer))
        self._store(result, n_customers, n_distinct)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description: name, params, log_likelihood, n_customers, std_errors,
        converged (NaN standard errors become None)."""
        self._theta()
        return {
            "name": self.name,
            "params": {n: float(self.params_[n]) for n in self.param_names},
            "log_likelihood": _finite_or_none(self.log_likelihood_),
            "n_customers": _finite_or_none(self.n_customers_),
            "std_errors": {n: _finite_or_none(self.std_errors_.get(n, math.nan))
                           for n in self.param_names},
            "converged": bool(self.converged_),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        """Restore a predict-ready model saved with `to_dict`.

        Raises
        ------
        ModelFileError
            The dict is for another model or misses a parameter.
        """
        if not isinstance(d, dict):
            raise ModelFileError(f"a saved model must be a JSON object, found {type(d).__name__}")
        if d.get("name") != cls.name:
            raise ModelFileError(f"saved model is {d.get('name')!r}, expected {cls.name!r}",
                              hint="load it with the matching model class")
        params = d.get("params")
        if not isinstance(params, dict):
            raise ModelFileError(f"saved {cls.name} model has no params",
                              hint="save the model again with --save-model")
        missing = [n for n in cls.param_names if n not in params]
        if missing:
            raise ModelFileError(f"saved {cls.name} model misses parameter(s) {missing}",
                              hint="save the model again with --save-model")
        values: dict[str, float] = {}
        for n in cls.param_names:
            v = params[n]
            if not isinstance(v, int | float) or isinstance(v, bool) or not (
                    math.isfinite(v) and v > 0):
                raise ModelFileError(f"saved {cls.name} parameter {n} must be a positive number, "
                                  f"found {v!r}")
            values[n] = float(v)
        model = cls()
        model.params_ = values
        se = d.get("std_errors") or {}
        model.std_errors_ = {n: (math.nan if se.get(n) is None else float(se[n]))
                             for n in cls.param_names}
        model.log_likelihood_ = _float_or_nan(d.get("log_likelihood"))
        model.n_customers_ = _float_or_nan(d.get("n_customers"))
        model.converged_ = bool(d.get("converged", False))
        model.n_distinct_ = None
        model.fit_attempts_ = ()
        return model


def _finite_or_none(v: float) -> float | None:
    """JSON has no NaN: unknown values (a model restored without its fit summary) become null."""
    return float(v) if math.isfinite(v) else None


def _float_or_nan(v: Any) -> float:
    return math.nan if v is None else float(v)


class PurchaseModel(FittedModel):
    """Base of the continuous-time purchase models fitted on (x, t_x, T).

    Subclasses implement `_fit_compressed(x, t_x, T, w)`, `_loglik_rows(params, x, t_x, T)`,
    `_expected(t, x, t_x, T)` (conditional expectation, broadcasting), `p_alive` and
    `expected_purchases_new`.
    """

    def fit(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, *,
            weights: ArrayLike | None = None) -> Self:
        """Fit by maximum likelihood on compressed (x, t_x, T) rows.

        Parameters
        ----------
        x
            Number of repeat purchases in the calibration period.
        t_x
            Time of the last repeat purchase since the first purchase (0 when x = 0).
        T
            Time between the first purchase and the end of calibration.
        weights
            Number of customers each row stands for (default 1).

        Returns
        -------
        self, with params_, std_errors_, log_likelihood_ (total), n_customers_, converged_,
        n_distinct_.

        Raises
        ------
        InputError
            NaN, negative or inconsistent values.
        FitError
            The data cannot identify the model, or every optimisation attempt failed.
        """
        check_penalizer(self.penalizer)
        xa, ta, Ta, w = check_purchase_data(x, t_x, T, weights)
        cx, ct, cT, cw = compress(xa, ta, Ta, weights=w)
        if cw.size == 0:
            raise FitError(f"{self.name}: no customers to fit", hint="check the input filters")
        if not (cT > 0).any():
            raise FitError(f"{self.name}: every customer has T = 0, so nothing was observed",
                           hint="T is the time from the first purchase to the end of "
                           "calibration; move --calibration-end later")
        if float((cx * cw).sum()) == 0.0:
            raise FitError(f"{self.name}: no customer made a repeat purchase (x = 0 for all), so "
                           "the purchase rate cannot be estimated",
                           hint="use a longer calibration period, or a historical CLV")
        self._fit_compressed(cx, ct, cT, cw)
        return self

    def _fit_compressed(self, x: FloatArray, t_x: FloatArray, T: FloatArray,
                        w: FloatArray) -> None:
        raise NotImplementedError

    def _loglik_rows(self, params: FloatArray, x: FloatArray, t_x: FloatArray,
                     T: FloatArray) -> FloatArray:
        raise NotImplementedError

    def _expected(self, t: FloatArray, x: FloatArray, t_x: FloatArray,
                  T: FloatArray) -> FloatArray:
        raise NotImplementedError

    def _curve(self, x: FloatArray, t_x: FloatArray, T: FloatArray, t: FloatArray) -> FloatArray:
        """Cumulative expected purchases of the rows (x, t_x, T of shape (n, 1)) at times t (m,)."""
        return self._expected(t[None, :], x, t_x, T)

    def p_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        """Probability that a customer with history (x, t_x, T) is still alive at T."""
        raise NotImplementedError

    def expected_purchases_new(self, t: ArrayLike) -> FloatArray:
        """E[X(t)]: expected repeat purchases of a new customer in (0, t]."""
        raise NotImplementedError

    def log_likelihood_individual(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        """Log-likelihood of each customer's (x, t_x, T) under the fitted parameters."""
        xa, ta, Ta, _ = check_purchase_data(x, t_x, T, None)
        return self._loglik_rows(self._theta(), xa, ta, Ta)

    def expected_purchases(self, t: ArrayLike, x: ArrayLike, t_x: ArrayLike,
                           T: ArrayLike) -> FloatArray:
        """Expected number of purchases in (T, T + t] given the history (broadcasts)."""
        self._theta()
        return self._expected(check_values(t, "t"), check_values(x, "x"),
                              check_values(t_x, "t_x"), check_values(T, "T"))

    def horizon_predictions(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, *, length: float,
                            steps: int, discount_rate_per_period: float, p_alive: bool = True,
                            ) -> tuple[FloatArray | None, FloatArray, FloatArray]:
        """P(alive), expected purchases in (T, T + length] and their discounted sum in `steps`
        equal steps (`separate_horizon_predictions`; the BG/NBD family shares their terms)."""
        return separate_horizon_predictions(self, x, t_x, T, length=length, steps=steps,
                                            discount_rate_per_period=discount_rate_per_period,
                                            p_alive=p_alive)

    def discounted_expected_transactions(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, *,
                                         horizon: int, discount_rate_per_period: float,
                                         step: float = 1.0) -> FloatArray:
        """Sum over k = 1..horizon of (E[Y(k step)] - E[Y((k-1) step)]) / (1 + d)^k.

        Parameters
        ----------
        x, t_x, T
            Customers' histories.
        horizon
            Number of periods.
        discount_rate_per_period
            Discount rate d of one period.
        step
            Length of one period in the model's time unit.

        Returns
        -------
        Discounted expected purchases per customer (multiply by margin x spend for CLV).
        """
        self._theta()
        xa, ta, Ta = (check_values(v, n).reshape(-1, 1)
                      for v, n in ((x, "x"), (t_x, "t_x"), (T, "T")))
        out = np.empty(xa.shape[0])
        for lo in range(0, out.size, BLOCK_ROWS):  # blocks keep the (rows x steps) temporaries small
            b = slice(lo, lo + BLOCK_ROWS)
            out[b] = discount_sum(partial(self._curve, xa[b], ta[b], Ta[b]), horizon=horizon,
                                  discount_rate_per_period=discount_rate_per_period, step=step)
        return out
