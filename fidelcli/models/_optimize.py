"""Maximum likelihood of the models: the optimiser, its objective and gradients, standard errors,
and the discounted sum of expected purchases over a horizon.

The optimiser works on theta = log(params), which keeps every parameter positive. The objective is

    f(theta) = -LL(exp(theta)) / N + penalizer * sum(theta ** 2)

where LL is the weighted total log-likelihood and N the number of customers (sum of weights). The
penalizer is therefore an L2 penalty on the LOG-parameters, shrinking each parameter towards 1; it
is per customer, so its strength does not change with the size of the data.

Several scale-aware starting points are tried with L-BFGS-B (analytic gradient when the model gives
one, central finite differences otherwise); if none converges, Nelder-Mead restarts from the best
point and L-BFGS-B polishes the result. Standard errors come from the inverse Hessian of the
(penalized) total negative log-likelihood in theta, mapped back to the natural parameters with the
delta method (se(p) = p * se(theta)).

Internal to `fidelcli.models` (the model modules import it; nothing outside the package does).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize

from fidelcli.errors import ConfigError, FitError
from fidelcli.models._parallel import single_threaded_blas
from fidelcli.models.numerics import FloatArray
from fidelcli.stats import check_discount_rate

LogLik = Callable[[FloatArray], float]
LogLikGrad = Callable[[FloatArray], tuple[float, FloatArray]]

# theta = log(param) is kept in [-LOG_BOUND, LOG_BOUND]; an optimum on that bound means the data
# do not identify the parameter (e.g. nobody ever repeats), which we report as a FitError.
LOG_BOUND = 25.0
_BOUND_MARGIN = 0.5
_FD_STEP = 6e-6  # ~ cbrt(machine epsilon): central differences in theta
_HESS_STEP = 1e-4
_BAD = 1e30  # objective value returned where the likelihood is not finite


@dataclass(frozen=True)
class MLEResult:
    """Outcome of `maximize_likelihood` (natural parameters, total log-likelihood)."""

    params: dict[str, float]
    std_errors: dict[str, float]
    log_likelihood: float
    converged: bool
    attempts: tuple[str, ...]


def _fd_gradient(fun: Callable[[FloatArray], float], theta: FloatArray, f0: float | None = None
                 ) -> FloatArray:
    """Central finite-difference gradient of `fun` at `theta` (step ~ cbrt(eps))."""
    g = np.empty_like(theta)
    for i in range(theta.size):
        h = _FD_STEP * max(1.0, abs(theta[i]))
        e = np.zeros_like(theta)
        e[i] = h
        g[i] = (fun(theta + e) - fun(theta - e)) / (2 * h)
    return g


class _Objective:
    """-LL/N + penalty in theta = log(params), with its gradient; remembers the best point.

    The last evaluation is cached, so the optimiser's first call at a starting point that was just
    checked, or the log-likelihood at the best point, cost nothing more.
    """

    def __init__(self, loglik: LogLik, loglik_grad: LogLikGrad | None, n_customers: float,
                 penalizer: float) -> None:
        self.loglik = loglik
        self.loglik_grad = loglik_grad
        self.scale = 1.0 / n_customers
        self.penalizer = penalizer
        self.best_value = math.inf
        self.best_theta: FloatArray | None = None
        self.best_ll = math.nan  # unpenalized total log-likelihood at best_theta
        self._last: tuple[bytes, float, FloatArray | None] | None = None
        # value() evaluates the gradient too when there is one (the optimiser usually asks for it
        # at the same point next); a derivative-free search sets this to use `loglik` alone.
        self.value_only = False

    def _eval(self, theta: FloatArray, grad: bool) -> tuple[float, FloatArray | None]:
        """(total log-likelihood, its gradient in natural parameters or None), cached."""
        key = theta.tobytes()
        if self._last is not None and self._last[0] == key and (self._last[2] is not None
                                                                or not grad):
            return self._last[1], self._last[2]
        p = np.exp(theta)
        with np.errstate(all="ignore"):
            if self.loglik_grad is not None and (grad or not self.value_only):
                ll, g = self.loglik_grad(p)
                ll = float(ll)
            else:
                ll, g = float(self.loglik(p)), None
        self._last = (key, ll, g)
        return ll, g

    def _record(self, theta: FloatArray, v: float, ll: float) -> None:
        if v < self.best_value:
            self.best_value, self.best_theta, self.best_ll = v, theta.copy(), ll

    def value(self, theta: FloatArray) -> float:
        ll, _ = self._eval(theta, grad=False)
        if not math.isfinite(ll):
            return _BAD
        v = -ll * self.scale + self.penalizer * float(theta @ theta)
        self._record(theta, v, ll)
        return v

    def value_and_grad(self, theta: FloatArray) -> tuple[float, FloatArray]:
        if self.loglik_grad is None:
            v = self.value(theta)
            if v >= _BAD:
                return v, np.zeros_like(theta)
            return v, _fd_gradient(self.value, theta)
        ll, g = self._eval(theta, grad=True)
        assert g is not None
        if not (math.isfinite(ll) and np.all(np.isfinite(g))):
            return _BAD, np.zeros_like(theta)
        v = -ll * self.scale + self.penalizer * float(theta @ theta)
        self._record(theta, v, ll)
        return v, -g * np.exp(theta) * self.scale + 2 * self.penalizer * theta

    def total_neg_grad(self, theta: FloatArray) -> FloatArray:
        """Gradient of the total (unscaled, penalized) negative log-likelihood in theta."""
        return self.value_and_grad(theta)[1] / self.scale


def _hessian(obj: _Objective, theta: FloatArray) -> FloatArray:
    """Central-difference Hessian of the total penalized negative log-likelihood in theta."""
    k = theta.size
    h = np.empty((k, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = _HESS_STEP
        h[:, j] = (obj.total_neg_grad(theta + e) - obj.total_neg_grad(theta - e)) / (2 * _HESS_STEP)
    return 0.5 * (h + h.T)


def _newton_polish(obj: _Objective, theta: FloatArray, steps: int = 4) -> FloatArray:
    """Newton steps on the total penalized negative log-likelihood from the L-BFGS-B optimum.

    L-BFGS-B stops within its tolerance, about 1e-8 (relative) from the optimum in the parameters,
    at a point that depends on the rounding of each evaluation: the same likelihood summed over
    compressed rows or over every customer would stop at slightly different points. A few Newton
    steps (central-difference Hessian of the gradient) bring both to the optimum itself, about 1e-12
    apart. A step is kept only while the Hessian is positive definite, the step small and the
    gradient shrinking; otherwise the L-BFGS-B point stands.
    """
    v, g = obj.value_and_grad(theta)
    if v >= _BAD:
        return theta
    for _ in range(steps):
        h = _hessian(obj, theta)
        if not np.all(np.isfinite(h)):
            break
        try:
            np.linalg.cholesky(h)  # positive definite, or LinAlgError
            step = np.linalg.solve(h, g / obj.scale)
        except np.linalg.LinAlgError:
            break
        if not (np.all(np.isfinite(step)) and float(np.max(np.abs(step))) < 1e-2):
            break
        new = np.clip(theta - step, -LOG_BOUND, LOG_BOUND)
        v_new, g_new = obj.value_and_grad(new)
        if v_new >= _BAD or not float(np.linalg.norm(g_new)) < float(np.linalg.norm(g)):
            break
        theta, g = new, g_new
        if float(np.max(np.abs(step))) < 1e-13:
            break
    return theta


def _std_errors(obj: _Objective, theta: FloatArray) -> FloatArray:
    """Delta-method standard errors of exp(theta); NaN where the Hessian is not invertible."""
    try:
        h = _hessian(obj, theta)
        if not np.all(np.isfinite(h)):
            return np.full(theta.size, np.nan)
        cov = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        return np.full(theta.size, np.nan)
    var = np.diag(cov)
    se = np.full(theta.size, np.nan)
    ok = var > 0
    se[ok] = np.exp(theta[ok]) * np.sqrt(var[ok])
    return se


@single_threaded_blas()
def maximize_likelihood(
    loglik: LogLik,
    starts: Sequence[ArrayLike],
    *,
    names: Sequence[str],
    n_customers: float,
    model: str,
    loglik_grad: LogLikGrad | None = None,
    penalizer: float = 0.0,
) -> MLEResult:
    """Maximise a total log-likelihood over positive parameters.

    Parameters
    ----------
    loglik
        Natural parameters -> weighted total log-likelihood (may return -inf or NaN where invalid).
    starts
        Starting points in natural parameters, most promising first.
    names
        Parameter names, in the order of the arrays.
    n_customers
        Sum of the weights (scales the objective to a per-customer mean).
    model
        Model name for error messages.
    loglik_grad
        Optional natural parameters -> (total log-likelihood, gradient in natural parameters).
    penalizer
        L2 penalty on the log-parameters, per customer (see module docstring).

    Returns
    -------
    MLEResult with the natural parameters, standard errors, unpenalized total log-likelihood.

    Raises
    ------
    FitError
        No attempt reached a finite likelihood or a stationary point, or the optimum lies on the
        parameter bounds (the data do not identify the model).
    """
    obj = _Objective(loglik, loglik_grad, n_customers, penalizer)
    k = len(names)
    bounds = [(-LOG_BOUND, LOG_BOUND)] * k
    attempts: list[str] = []
    results: list[tuple[float, FloatArray, bool]] = []
    lbfgs_opts = {"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9, "maxcor": 20}
    # Once one start has converged, the others only have to show that they reach the same optimum
    # (it is not a local one): they run with a looser tolerance and are refined to the full one only
    # when they disagree with the best converged value.
    check_opts = {**lbfgs_opts, "ftol": 1e-8, "gtol": 1e-5}
    agree_check = 1e-8
    best_tight: tuple[float, FloatArray, float] | None = None  # (value, theta, ll) of a full run
    for start in starts:
        theta0 = np.clip(np.log(np.asarray(start, dtype=float)), -LOG_BOUND + 1, LOG_BOUND - 1)
        if obj.value(theta0) >= _BAD:
            attempts.append(f"L-BFGS-B from {format_params(names, np.exp(theta0))}: likelihood not finite")
            continue
        check = best_tight is not None
        res = optimize.minimize(obj.value_and_grad, theta0, jac=True, method="L-BFGS-B",
                                bounds=bounds, options=check_opts if check else lbfgs_opts)
        ok = bool(res.success) and res.fun < _BAD
        if check and ok and best_tight is not None:
            if abs(float(res.fun) - best_tight[0]) <= agree_check * max(1.0, abs(best_tight[0])):
                attempts.append(f"L-BFGS-B from {format_params(names, np.exp(theta0))}: converged to the "
                                "same optimum")
                # Agreement: the full-tolerance optimum stands (the check run is less precise).
                obj.best_value, obj.best_theta, obj.best_ll = best_tight
                results.append((best_tight[0], best_tight[1], True))
                break
            res = optimize.minimize(obj.value_and_grad, np.asarray(res.x), jac=True,
                                    method="L-BFGS-B", bounds=bounds, options=lbfgs_opts)
            ok = bool(res.success) and res.fun < _BAD
        attempts.append(f"L-BFGS-B from {format_params(names, np.exp(theta0))}: "
                        f"{'converged' if ok else 'failed (' + str(res.message) + ')'}")
        results.append((float(res.fun), np.asarray(res.x), ok))
        if ok and obj.best_theta is not None and (best_tight is None
                                                  or obj.best_value < best_tight[0]):
            best_tight = (obj.best_value, obj.best_theta.copy(), obj.best_ll)
        # Two converged starts that agree: the optimum is found, skip the remaining starts.
        good = sorted(r[0] for r in results if r[2])
        if len(good) >= 2 and abs(good[0] - good[1]) <= 1e-9 * max(1.0, abs(good[0])):
            break
    converged = any(r[2] for r in results)
    if not converged and obj.best_theta is not None and obj.best_value < _BAD:
        obj.value_only = True
        nm = optimize.minimize(obj.value, obj.best_theta, method="Nelder-Mead",
                               options={"maxiter": 4000 * k, "xatol": 1e-9, "fatol": 1e-13})
        obj.value_only = False
        res = optimize.minimize(obj.value_and_grad, np.clip(nm.x, -LOG_BOUND, LOG_BOUND),
                                jac=True, method="L-BFGS-B", bounds=bounds, options=lbfgs_opts)
        ok = bool(res.success) and res.fun < _BAD
        attempts.append(f"Nelder-Mead then L-BFGS-B from the best point: "
                        f"{'converged' if ok else 'failed (' + str(res.message) + ')'}")
        results.append((float(res.fun), np.asarray(res.x), ok))
        converged = ok
    if obj.best_theta is None or obj.best_value >= _BAD:
        raise FitError(
            f"{model}: the likelihood was not finite at any starting point",
            hint="check the data (units of t_x and T, x <= number of periods); tried: "
            + "; ".join(attempts),
        )
    theta = obj.best_theta
    if not converged:
        # L-BFGS-B often stops "abnormally" in the line search right at the optimum: accept the
        # point when the per-customer gradient is negligible, otherwise report the failure.
        grad = obj.value_and_grad(theta)[1]
        if float(np.max(np.abs(grad))) < 1e-5:
            converged = True
            attempts.append("accepted the best point: gradient below 1e-5 per customer")
    at_bound = np.abs(theta) >= LOG_BOUND - _BOUND_MARGIN
    if at_bound.any():
        bad = ", ".join(f"{names[int(i)]}={math.exp(theta[i]):.3g}" for i in np.flatnonzero(at_bound))
        raise FitError(
            f"{model}: the maximum likelihood runs off to the parameter bounds ({bad}); "
            "the data do not identify the model",
            hint="use more customers or a longer calibration period, or set penalizer > 0 "
            "(e.g. 0.01); tried: " + "; ".join(attempts),
        )
    if not converged:
        raise FitError(
            f"{model}: no optimisation attempt converged",
            hint="check the time unit of t_x and T, fit on more customers, or set penalizer > 0 "
            "(e.g. 0.01); tried: " + "; ".join(attempts),
        )
    theta = _newton_polish(obj, theta)
    ll = obj._eval(theta, grad=False)[0]
    se = _std_errors(obj, theta)
    params = {n: float(v) for n, v in zip(names, np.exp(theta), strict=True)}
    std_errors = {n: float(v) for n, v in zip(names, se, strict=True)}
    return MLEResult(params, std_errors, float(ll), converged, tuple(attempts))


def format_params(names: Sequence[str], values: FloatArray) -> str:
    """`(r=0.243, alpha=4.41, ...)`: parameters to 3 significant digits, for messages and repr."""
    return "(" + ", ".join(f"{n}={v:.3g}" for n, v in zip(names, values, strict=True)) + ")"


def discount_sum(cumulative: Callable[[FloatArray], FloatArray], *, horizon: int,
                 discount_rate_per_period: float, step: float = 1.0) -> FloatArray:
    """Sum over k = 1..horizon of (E(k*step) - E((k-1)*step)) / (1 + d)^k.

    Parameters
    ----------
    cumulative
        Maps an array of times (shape (m,)) to cumulative expectations of shape (n, m).
    horizon
        Number of periods.
    discount_rate_per_period
        d, the discount rate of one period (e.g. 0.01 per month): a number >= 0
        (`fidelcli.stats.check_discount_rate`).
    step
        Length of one period in the model's time unit (e.g. 52/12 weeks per month).

    Returns
    -------
    Discounted expected transactions, shape (n,).
    """
    try:
        whole = operator.index(horizon)  # an int or a NumPy integer; a float is refused, even 12.0
    except TypeError:
        whole = -1
    if whole < 0:
        raise ConfigError(f"horizon must be a whole number of periods >= 0, found {horizon!r}")
    rate = check_discount_rate(discount_rate_per_period, annual=False)
    if not (math.isfinite(step) and step > 0):
        raise ConfigError(f"step must be > 0, found {step!r}")
    times = np.arange(horizon + 1, dtype=float) * step
    cum = cumulative(times)
    increments = np.diff(cum, axis=-1)
    factors = (1.0 + rate) ** -np.arange(1, horizon + 1, dtype=float)
    return increments @ factors
