"""Value of information from a Monte Carlo sample (docs/value-of-information.md, "Method").

A two-option decision: `incremental` holds, per iid trial, the net benefit of option 1 minus
option 0. EVPI is the expected loss of deciding now rather than with every uncertainty
resolved; the EVPPI of a driver (or group) is that loss removed by learning the driver alone.
EVPPI follows Strong, Oakley & Brennan (2014): regress the incremental benefit on the driver's
uniform scores, and take the EVPI of the fitted values. One driver: group means when it has
few distinct values, else a binned GCV smoothing spline; a group: a Gaussian process or an
additive regression spline, whichever predicts held-out trials better.
Pure numerics: no files, no scenarios; the caller turns a ValueError into a user error.
scipy and scikit-learn are imported where used, so that importing this module stays cheap.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

#: Fewest trials accepted: below this no standard error means anything.
MIN_TRIALS = 50
#: Most drivers in a group: a GP on more inputs needs far more trials than a run has.
MAX_GROUP = 20
#: A driver with at most this many distinct values gets exact conditional means per value.
MAX_DISTINCT = 64
#: Pseudo-trials at the pooled variance that each bin's variance is shrunk with, so that a
#: tiny or constant bin cannot take an infinite weight or a zero bootstrap noise.
PRIOR_TRIALS = 10
#: Trials of the GP subsample its hyperparameters are fitted on (maximum marginal likelihood
#: costs O(m^3) per step, ~40 steps a start; 400 trials pin the length scales down well).
GP_HYPER_TRIALS = 400
#: Extra random starts of the GP hyperparameter optimizer.
GP_RESTARTS = 1
#: Trials the GP posterior mean is evaluated at for the outer average (all when fewer):
#: the prediction costs n * m kernel terms, and beyond this the outer Monte Carlo error is far
#: below the fitting error of an m-trial fit.
GP_EVAL_TRIALS = 50_000
#: Kernel-matrix entries per prediction chunk (32 MB of float64).
GP_CHUNK_ENTRIES = 4_000_000
#: Trials held out of every group fit to choose between the two regressions by their error.
HOLDOUT_TRIALS = 5_000
#: Trials the regression spline of a group is fitted on (all, when fewer, less the holdout).
SPLINE_FIT_TRIALS = 50_000
#: Interior knots of each driver's cubic regression spline, in uniform-score units.
SPLINE_KNOTS = (0.25, 0.5, 0.75)
#: Pairwise products of the drivers' scores join the regression spline up to this group size.
MAX_PAIRS_GROUP = 8
#: A group member with at most this many distinct values enters the regression spline as categories.
MAX_CATEGORIES = 8


def _as_incremental(incremental) -> np.ndarray:
    """The incremental net benefits as a finite float vector of at least MIN_TRIALS trials."""
    d = np.asarray(incremental, dtype=float)
    if d.ndim != 1:
        raise ValueError(f"incremental must be a 1-D array of per-trial values, got shape {d.shape}")
    if d.size < MIN_TRIALS:
        raise ValueError(f"value of information needs at least {MIN_TRIALS} trials, got {d.size}")
    if not np.all(np.isfinite(d)):
        raise ValueError("incremental contains NaN or infinite values")
    return d


def _as_drivers(drivers, n: int) -> np.ndarray:
    """The drivers as a finite (n, p) float matrix, 1 <= p <= MAX_GROUP."""
    x = np.asarray(drivers, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"drivers must be a 1-D or 2-D array, got shape {x.shape}")
    if x.shape[0] != n:
        raise ValueError(f"drivers has {x.shape[0]} trials but incremental has {n}: the lengths must match")
    if not 1 <= x.shape[1] <= MAX_GROUP:
        raise ValueError(f"a driver group needs 1 to {MAX_GROUP} drivers, got {x.shape[1]}")
    if not np.all(np.isfinite(x)):
        raise ValueError("drivers contains NaN or infinite values")
    return x


def _check_options(gp_trials: int, replicates: int) -> None:
    """Reject subsample and replicate counts too small to estimate anything."""
    if int(gp_trials) != gp_trials or gp_trials < MIN_TRIALS:
        raise ValueError(f"gp_trials must be a whole number of at least {MIN_TRIALS}, got {gp_trials}")
    if int(replicates) != replicates or replicates < 2:
        raise ValueError(f"replicates must be a whole number of at least 2, got {replicates}")


def _sorted_scores(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort order, the uniform scores in that order, and where each run of tied values starts."""
    n = x.size
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    del xs
    # Ranks start+1 .. end share their average (start + 1 + end) / 2; the score is (rank - 0.5) / n.
    # Each run's start + end (its end: the next start, or n) is summed in place, and repeated over
    # the run only when some value is tied: a million-trial column holds no more copies than that.
    u = np.empty(starts.size)
    np.add(starts[:-1], starts[1:], out=u[:-1])
    u[-1] = starts[-1] + n
    u /= 2.0 * n
    if starts.size < n:
        u = np.repeat(u, np.diff(starts, append=n))
    return order, u, starts


def uniform_scores(x: np.ndarray) -> np.ndarray:
    """(average rank - 0.5) / n of each value: a strictly increasing map of x onto (0, 1), ties averaged."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"uniform_scores takes a 1-D array, got shape {x.shape}")
    if np.isnan(x).any():
        raise ValueError("uniform_scores: x contains NaN, which has no rank")
    order, u_sorted, _ = _sorted_scores(x)
    u = np.empty_like(u_sorted)
    u[order] = u_sorted
    return u


def _regret(g: np.ndarray) -> np.ndarray:
    """Loss per trial (along axis 0) of the option with the higher mean against the best one."""
    mean = g.mean(axis=0)
    if np.ndim(mean) == 0:  # one column: the loss of one option only, in one array
        loss = np.negative(g) if mean > 0 else g.copy()
        return np.maximum(loss, 0.0, out=loss)
    return np.where(mean > 0, np.maximum(-g, 0.0), np.maximum(g, 0.0))


def _value_and_se(g: np.ndarray) -> tuple[float, float]:
    """mean(max(g, 0)) - max(mean(g), 0) as the mean regret, and its Monte Carlo standard error."""
    r = _regret(g)
    return float(r.mean()), float(r.std(ddof=1) / math.sqrt(r.size))


def _weighted_value(f: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The EVPI of fitted values f (K,) or (K, R) that stand for counts[k] trials each."""
    share = (counts / counts.sum())[:, None] if f.ndim == 2 else counts / counts.sum()
    mean = (share * f).sum(axis=0)
    return np.where(mean > 0, (share * np.maximum(-f, 0.0)).sum(axis=0), (share * np.maximum(f, 0.0)).sum(axis=0))


def evpi(incremental: np.ndarray) -> dict:
    """EVPI = E[max(D, 0)] - max(E[D], 0) of the incremental net benefit D, with its standard error.

    Computed as the mean regret, so it is exactly 0.0 when every trial favours the same option.
    """
    d = _as_incremental(incremental)
    value, se = _value_and_se(d)
    mean = float(d.mean())
    return {"value": value, "se": se, "choose": int(mean > 0), "mean": mean,
            "mean_se": float(d.std(ddof=1) / math.sqrt(d.size)),
            "share_favouring_1": float(np.mean(d > 0)), "trials": int(d.size)}


def _group_stats(d_sorted: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and shrunk variance of d over consecutive runs that begin at `starts`."""
    counts = np.diff(np.r_[starts, d_sorted.size])
    means = np.add.reduceat(d_sorted, starts) / counts
    ss = np.add.reduceat((d_sorted - np.repeat(means, counts)) ** 2, starts)
    dof = d_sorted.size - starts.size
    pooled = ss.sum() / dof if dof > 0 else float(d_sorted.var())
    var = (ss + PRIOR_TRIALS * pooled) / (counts - 1 + PRIOR_TRIALS)
    # A floor keeps the spline weights finite when d is constant within every bin.
    return counts, means, np.maximum(var, 1e-12 * float(d_sorted.var()) + 1e-300)


def _bootstrap(values: np.ndarray, reference: float) -> tuple[float, float]:
    """Standard deviation of bootstrap replicates and their mean minus the estimate (the bias)."""
    return float(values.std(ddof=1)), float(values.mean() - reference)


def _result(value: float, se_fit: float, se_outer: float, bias: float, method: str, fitted: int,
            detail: dict) -> dict:
    """The EVPPI result dict; the two standard-error parts add in quadrature."""
    return {"value": value, "se": math.hypot(se_fit, se_outer), "bias": bias, "capped": False,
            "method": method, "trials_fitted": fitted,
            "detail": {"se_fit": se_fit, "se_outer": se_outer, **detail}}


def _group_means(d_sorted: np.ndarray, starts: np.ndarray, rng: np.random.Generator, replicates: int) -> dict:
    """EVPPI of a driver with few distinct values: the exact conditional mean of each value.

    SE: a parametric bootstrap of the group means (mean + N(0, se^2)) and the outer average.
    """
    counts, means, var = _group_stats(d_sorted, starts)
    value, se_outer = _value_and_se(np.repeat(means, counts))
    noise = rng.standard_normal((means.size, replicates)) * np.sqrt(var / counts)[:, None]
    se_fit, bias = _bootstrap(_weighted_value(means[:, None] + noise, counts), float(_weighted_value(means, counts)))
    return _result(value, se_fit, se_outer, bias, "group means", int(d_sorted.size),
                   {"groups": int(means.size), "replicates": replicates})


def _bin_count(n: int) -> int:
    """Equal-count bins for the spline: >= 200 trials each, 20 to 200 bins.

    200 trials make a bin mean close to normal and its variance good to ~10 %; 20 bins resolve
    the shape of any smooth E[D | u]; past 200 (a bin 0.005 wide in u) the binning error of a
    smooth curve is negligible, while the GCV search costs O(K^2) per step: at 500 bins it took
    0.17 s a driver, 44 drivers 7.5 s; at 200, 6x less.
    """
    return int(np.clip(n // 200, 20, 200))


def _bin_starts(n: int, k: int, tie_starts: np.ndarray) -> np.ndarray:
    """Starts of about k equal-count bins of the sorted trials, moved so that no tie run is split."""
    wanted = np.round(np.linspace(0, n, k + 1)[:-1]).astype(np.int64)
    at = np.searchsorted(tie_starts, wanted, side="left")
    return np.unique(tie_starts[at[at < tie_starts.size]])


def _reinsch_parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Q^T's three diagonals, R's bands and Q^T densely, of the natural cubic spline on knots x.

    Green & Silverman (1994), section 2.1: the penalty integral of f''^2 is g' Q R^-1 Q' g.
    """
    h = np.diff(x)
    k = x.size
    qt = np.stack([1 / h[:-1], -1 / h[:-1] - 1 / h[1:], 1 / h[1:]])
    r = np.zeros((3, k - 2))
    r[2] = (h[:-1] + h[1:]) / 3
    r[1, 1:] = h[1:-1] / 6
    rows = np.arange(k - 2)
    dense = np.zeros((k - 2, k))
    for j in range(3):
        dense[rows, rows + j] = qt[j]
    return qt, r, dense


def _penalty_bands(qt: np.ndarray, iw: np.ndarray) -> np.ndarray:
    """Upper bands of Q^T W^-1 Q (pentadiagonal) in LAPACK symmetric banded storage."""
    c = np.zeros((3, qt.shape[1]))
    c[2] = qt[0] ** 2 * iw[:-2] + qt[1] ** 2 * iw[1:-1] + qt[2] ** 2 * iw[2:]
    c[1, 1:] = qt[1, :-1] * qt[0, 1:] * iw[1:-2] + qt[2, :-1] * qt[1, 1:] * iw[2:-1]
    c[0, 2:] = qt[2, :-2] * qt[0, 2:] * iw[2:-2]
    return c


class _Smoother:
    """Weighted cubic smoothing spline in Reinsch form: min sum w (y - f)^2 + lam * int f''^2.

    Banded solves only. scipy's make_smoothing_spline solves the same problem, but hides the
    GCV lam (needed again for the bootstrap) and loses accuracy at large lam (near-linear fits).
    """

    def __init__(self, x: np.ndarray, w: np.ndarray):
        self.x, self.iw = x, 1 / w
        self.qt, self.r, self.qt_dense = _reinsch_parts(x)
        self.c = _penalty_bands(self.qt, self.iw)

    def _qty(self, y: np.ndarray) -> np.ndarray:
        qt = self.qt if y.ndim == 1 else self.qt[..., None]
        return qt[0] * y[:-2] + qt[1] * y[1:-1] + qt[2] * y[2:]

    def fit(self, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
        """Fitted values g = y - lam W^-1 Q gamma at the knots, and gamma = (R + lam Q'W^-1 Q)^-1 Q'y.

        gamma holds the fit's second derivatives at the interior knots; y is (K,) or (K, R).
        """
        from scipy.linalg import solveh_banded

        gamma = solveh_banded(self.r + lam * self.c, self._qty(y))
        qt = self.qt if y.ndim == 1 else self.qt[..., None]
        q_gamma = np.zeros_like(y)
        q_gamma[:-2] += qt[0] * gamma
        q_gamma[1:-1] += qt[1] * gamma
        q_gamma[2:] += qt[2] * gamma
        iw = self.iw if y.ndim == 1 else self.iw[:, None]
        return y - lam * iw * q_gamma, gamma

    def degrees_of_freedom(self, lam: float) -> float:
        """Trace of the hat matrix: K - lam tr((R + lam Q'W^-1 Q)^-1 Q'W^-1 Q)."""
        from scipy.linalg import solveh_banded

        z = solveh_banded(self.r + lam * self.c, self.qt_dense)
        rows = np.arange(z.shape[0])
        tr = sum(np.sum(z[rows, rows + j] * self.qt[j] * self.iw[j:j + rows.size]) for j in range(3))
        return self.x.size - lam * float(tr)

    def gcv(self, y: np.ndarray, w: np.ndarray, log_lam: float) -> float:
        """Weighted generalized cross-validation score (Craven & Wahba 1979) at lam = 10**log_lam."""
        lam = 10.0 ** log_lam
        k = self.x.size
        resid = y - self.fit(y, lam)[0]
        free = k - self.degrees_of_freedom(lam)
        return k * float(np.sum(w * resid ** 2)) / free ** 2 if free > 0.5 else math.inf


def _gcv_lambda(smoother: _Smoother, y: np.ndarray, w: np.ndarray) -> float:
    """The lam minimizing GCV: a grid over log10 lam, then Brent between the best point's neighbours.

    With knots in (0, 1) and mean weight 1 the fit interpolates below lam ~ K^-3 and is a straight
    line above ~1e2, so the grid spans 10^-3 K^-3 .. 10^4.
    """
    from scipy.optimize import minimize_scalar

    grid = np.arange(math.log10(smoother.x.size ** -3.0) - 3, 4.0 + 1e-9, 1.0)
    scores = [smoother.gcv(y, w, s) for s in grid]
    best = int(np.argmin(scores))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    found = minimize_scalar(lambda s: smoother.gcv(y, w, s), bounds=(lo, hi), method="bounded",
                            options={"xatol": 0.02})
    return 10.0 ** (found.x if found.fun <= scores[best] else grid[best])


#: Points `_natural_spline` evaluates at a time: its formula's dozen temporaries of 2^14 values
#: stay in cache and take 1.5 MiB, where 200,000 trials at once took 18 MiB.
SPLINE_BLOCK = 1 << 14


def _natural_spline(x: np.ndarray, g: np.ndarray, gamma: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The natural cubic spline with values g and second derivatives (0, gamma, 0) at knots x, at `at`.

    Green & Silverman (1994), section 2.4; linear beyond the end knots, as a smoothing spline is.
    Evaluated SPLINE_BLOCK points at a time (each value is computed alone, so the blocks change
    no bit of it).
    """
    second, h = np.r_[0.0, gamma, 0.0], np.diff(x)
    out = np.empty(at.shape)
    for lo in range(0, at.size, SPLINE_BLOCK):
        out[lo:lo + SPLINE_BLOCK] = _natural_spline_block(x, g, second, h, at[lo:lo + SPLINE_BLOCK])
    return out


def _natural_spline_block(x: np.ndarray, g: np.ndarray, second: np.ndarray, h: np.ndarray,
                          at: np.ndarray) -> np.ndarray:
    i = np.clip(np.searchsorted(x, at, side="right") - 1, 0, x.size - 2)
    left, right = at - x[i], x[i + 1] - at
    inside = (left * g[i + 1] + right * g[i]) / h[i] - left * right / 6 * (
        (1 + left / h[i]) * second[i + 1] + (1 + right / h[i]) * second[i])
    slope_lo = (g[1] - g[0]) / h[0] - h[0] * second[1] / 6
    slope_hi = (g[-1] - g[-2]) / h[-1] + h[-1] * second[-2] / 6
    below = g[0] + slope_lo * (at - x[0])
    above = g[-1] + slope_hi * (at - x[-1])
    return np.where(at < x[0], below, np.where(at > x[-1], above, inside))


def _smoothing_spline(u_sorted: np.ndarray, d_sorted: np.ndarray, bins: np.ndarray,
                      rng: np.random.Generator, replicates: int) -> dict:
    """EVPPI of a continuous driver: a GCV smoothing spline of bin means of d on bin means of u.

    Weights count / variance. SE: a parametric bootstrap of the bin means refitted with the same
    lam (fitting part) and the regret's spread over the trials (outer part).
    """
    counts, dbar, var = _group_stats(d_sorted, bins)
    ubar = np.add.reduceat(u_sorted, bins) / counts
    w = counts / var
    w = w / w.mean()
    smoother = _Smoother(ubar, w)
    lam = _gcv_lambda(smoother, dbar, w)
    fitted, gamma = smoother.fit(dbar, lam)
    g = _natural_spline(ubar, fitted, gamma, u_sorted)
    value, se_outer = _value_and_se(g)
    noisy = dbar[:, None] + rng.standard_normal((dbar.size, replicates)) * np.sqrt(var / counts)[:, None]
    replicas = _weighted_value(smoother.fit(noisy, lam)[0], counts)
    se_fit, bias = _bootstrap(replicas, float(_weighted_value(fitted, counts)))
    return _result(value, se_fit, se_outer, bias, "smoothing spline", int(d_sorted.size),
                   {"bins": int(bins.size), "lam": float(lam), "effective_df": float(smoother.degrees_of_freedom(lam)),
                    "replicates": replicates})


def _single_driver(x: np.ndarray, d: np.ndarray, rng: np.random.Generator, replicates: int, trivial: bool) -> dict:
    """EVPPI of one driver: group means for a discrete driver, else the binned smoothing spline."""
    order, u_sorted, tie_starts = _sorted_scores(x)
    bins = _bin_starts(x.size, _bin_count(x.size), tie_starts)
    discrete = tie_starts.size <= MAX_DISTINCT or bins.size < 5
    if trivial:
        return _zero("group means" if discrete else "smoothing spline")
    d_sorted = d[order]
    if discrete:
        return _group_means(d_sorted, tie_starts, rng, replicates)
    del order, tie_starts  # a million trials' sort order and tie runs: not needed by the spline
    return _smoothing_spline(u_sorted, d_sorted, bins, rng, replicates)


def _gp_hyperparameters(u: np.ndarray, d: np.ndarray, random_state: int):
    """Kernel C * RBF(ARD) + White with hyperparameters by maximum marginal likelihood (y normalized).

    Bounds in uniform-score units: a length scale of 10 is flat across (0, 1), one of 0.02 a
    feature 1/50 wide. Warnings about a bound being reached (an irrelevant driver) are expected.
    """
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    p = u.shape[1]
    kernel = (ConstantKernel(1.0, (1e-2, 1e2)) * RBF(np.full(p, 0.5), (2e-2, 1e1))
              + WhiteKernel(0.5, (1e-6, 1e1)))
    gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=GP_RESTARTS,
                                  random_state=random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp.fit(u, d)
    return gp.kernel_, float(gp.log_marginal_likelihood_value_)


class _LatentGP:
    """GP posterior of the latent function E[D | u] under a fitted C * RBF + White kernel.

    The algebra of GaussianProcessRegressor(normalize_y=True) written out, so that the white noise
    stays out of the posterior covariance and the mean is cheap to evaluate at many points.
    """

    def __init__(self, kernel, u: np.ndarray, d: np.ndarray):
        from scipy.linalg import cho_solve

        self.amplitude = float(kernel.k1.k1.constant_value)
        self.length = np.asarray(kernel.k1.k2.length_scale, dtype=float) * np.ones(u.shape[1])
        self.shift, self.scale = float(d.mean()), float(d.std()) or 1.0
        self.train = u / self.length
        gram = self._cross(self.train)
        self.chol = np.linalg.cholesky(gram + (float(kernel.k2.noise_level) + 1e-10) * np.eye(u.shape[0]))
        self.gram = gram
        self.alpha = cho_solve((self.chol, True), (d - self.shift) / self.scale)

    def _cross(self, scaled: np.ndarray) -> np.ndarray:
        """Signal kernel between scaled inputs and the scaled training inputs."""
        from scipy.spatial.distance import cdist

        k = cdist(scaled, self.train, "sqeuclidean")
        np.exp(-0.5 * k, out=k)
        return self.amplitude * k

    def mean(self, u: np.ndarray) -> np.ndarray:
        """Posterior mean at u, in chunks that bound the cross-kernel matrix's memory."""
        step = max(1, GP_CHUNK_ENTRIES // self.train.shape[0])
        parts = [self._cross(u[i:i + step] / self.length) @ self.alpha for i in range(0, u.shape[0], step)]
        return self.shift + self.scale * np.concatenate(parts)

    def training_posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and covariance of the latent function at the training inputs (no noise)."""
        from scipy.linalg import solve_triangular

        v = solve_triangular(self.chol, self.gram, lower=True)
        cov = self.gram - v.T @ v
        return self.shift + self.scale * (self.gram @ self.alpha), self.scale ** 2 * cov


def _cholesky(cov: np.ndarray) -> np.ndarray:
    """A square root L (L L' = cov) of a PSD covariance: Cholesky with the smallest jitter that works."""
    scale = max(float(np.mean(np.diag(cov))), 1e-300)
    for exponent in range(-10, -3):
        try:
            return np.linalg.cholesky(cov + (scale * 10.0 ** exponent) * np.eye(cov.shape[0]))
        except np.linalg.LinAlgError:
            continue
    vals, vecs = np.linalg.eigh(cov)
    return vecs * np.sqrt(np.clip(vals, 0.0, None))


def _gaussian_process(u: np.ndarray, d: np.ndarray, fit_at: np.ndarray, rng: np.random.Generator,
                      replicates: int) -> tuple[dict, "_LatentGP"]:
    """EVPPI of a driver group by GP regression of d on the uniform scores `u`, fitted on the
    trials `fit_at`, and the fitted GP.

    SE: draws of the latent posterior at the m fitting trials (fitting part) and the regret's
    spread over the evaluated trials (outer part).
    """
    n = d.size
    m = fit_at.size
    random_state = int(rng.integers(2 ** 31 - 1))
    hyper = min(GP_HYPER_TRIALS, m)
    kernel, log_ml = _gp_hyperparameters(u[fit_at[:hyper]], d[fit_at[:hyper]], random_state)
    gp = _LatentGP(kernel, u[fit_at], d[fit_at])
    eval_at = np.arange(n) if n <= GP_EVAL_TRIALS else np.sort(rng.choice(n, GP_EVAL_TRIALS, replace=False))
    value, se_outer = _value_and_se(gp.mean(u[eval_at]))
    mean, cov = gp.training_posterior()
    draws = mean[:, None] + _cholesky(cov) @ rng.standard_normal((m, replicates))
    se_fit, bias = _bootstrap(_regret(draws).mean(axis=0), float(_regret(mean).mean()))
    return _result(value, se_fit, se_outer, bias, "gaussian process", m,
                   {"kernel": str(kernel), "log_marginal_likelihood": log_ml, "hyperparameter_trials": hyper,
                    "trials_evaluated": int(eval_at.size), "replicates": replicates}), gp


def _spline_basis(u: np.ndarray, levels: list[np.ndarray]) -> np.ndarray:
    """The design of an additive cubic regression spline in each score (u, u^2, u^3 and a
    truncated cubic at each knot), with the products u_i u_j of every pair in small groups, so
    that a multiplicative effect (adoption x realization) is captured to first order. A driver
    with few distinct values (`levels[j]` not empty: a risk event's 0/1) gets one indicator per
    value but the first instead: a cubic in a two-valued score would be collinear."""
    columns = [np.ones(u.shape[0])]
    for j in range(u.shape[1]):
        x = u[:, j]
        if levels[j].size:
            columns += [(x == level).astype(float) for level in levels[j][1:]]
            continue
        columns += [x, x * x, x ** 3] + [np.maximum(x - knot, 0.0) ** 3 for knot in SPLINE_KNOTS]
    if u.shape[1] <= MAX_PAIRS_GROUP:
        columns += [u[:, i] * u[:, j] for i in range(u.shape[1]) for j in range(i + 1, u.shape[1])]
    return np.column_stack(columns)


def _regression_spline(u: np.ndarray, d: np.ndarray, fit_at: np.ndarray, levels: list[np.ndarray],
                       rng: np.random.Generator, replicates: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares of d on the spline design at `fit_at`: fitted values there, and `replicates`
    draws of them from the coefficients' sampling distribution (beta ~ N(beta_hat, s^2 (X'X)^-1))."""
    design = _spline_basis(u[fit_at], levels)
    beta, _, rank, _ = np.linalg.lstsq(design, d[fit_at], rcond=None)
    fitted = design @ beta
    dof = max(fit_at.size - rank, 1)
    sigma2 = float(np.sum((d[fit_at] - fitted) ** 2)) / dof
    cov = sigma2 * np.linalg.pinv(design.T @ design)
    draws = fitted[:, None] + design @ (_cholesky(cov) @ rng.standard_normal((beta.size, replicates)))
    return fitted, draws, beta


def _holdout_r2(predicted: np.ndarray, actual: np.ndarray) -> float:
    """The share of the held-out trials' variance a regression explains (negative: worse than their mean)."""
    return 1.0 - float(np.mean((actual - predicted) ** 2)) / float(np.var(actual))


def _group(x: np.ndarray, d: np.ndarray, rng: np.random.Generator, gp_trials: int, replicates: int) -> dict:
    """EVPPI of a driver group: a Gaussian process (interactions, on m trials) or an additive
    regression spline (on up to 50,000 trials), whichever predicts held-out trials better.

    A GP fitted on a few hundred trials of a noisy, heavy-tailed net benefit can interpolate the
    noise (its marginal likelihood does not forbid it) and then reports a large EVPPI with a
    small standard error; the held-out trials catch that, and the spline, which cannot, is used.
    """
    n = d.size
    u = np.column_stack([uniform_scores(col) for col in x.T])
    combos, key = np.unique(u, axis=0, return_inverse=True)
    if combos.shape[0] <= MAX_DISTINCT:  # risk events and other discrete drivers: exact means per combination
        order = np.argsort(key.ravel(), kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(key.ravel()[order]) != 0])
        return _group_means(d[order], starts, rng, replicates)
    levels = [np.unique(col) if np.unique(col).size <= MAX_CATEGORIES else np.empty(0) for col in u.T]
    order = rng.permutation(n)
    hold = order[:min(HOLDOUT_TRIALS, n // 4)]
    rest = order[hold.size:]
    gp_result, gp = _gaussian_process(u, d, rest[:min(int(gp_trials), rest.size)], rng, replicates)
    fit_at = np.sort(rest[:SPLINE_FIT_TRIALS])
    fitted, draws, beta = _regression_spline(u, d, fit_at, levels, rng, replicates)
    scores = {"gaussian process": _holdout_r2(gp.mean(u[hold]), d[hold]),
              "regression spline": _holdout_r2(_spline_basis(u[hold], levels) @ beta, d[hold])}
    if scores["gaussian process"] > scores["regression spline"]:
        return {**gp_result, "detail": {**gp_result["detail"], "holdout_r2": scores}}
    value, se_outer = _value_and_se(fitted)
    se_fit, bias = _bootstrap(_regret(draws).mean(axis=0), value)
    return _result(value, se_fit, se_outer, bias, "regression spline", int(fit_at.size),
                   {"holdout_r2": scores, "columns": int(beta.size), "replicates": replicates})


def _zero(method: str) -> dict:
    """The result when every trial favours the same option: no information can change the decision."""
    return _result(0.0, 0.0, 0.0, 0.0, method, 0, {"reason": "every trial favours the same option"})


def _capped(result: dict, evpi_value: float) -> dict:
    """Cap the EVPPI at the EVPI estimate (a partial perfect information is worth no more than perfect)."""
    if result["value"] <= evpi_value:
        return result
    detail = {**result["detail"], "uncapped_value": result["value"]}
    return {**result, "value": evpi_value, "capped": True, "detail": detail}


def evppi(drivers: np.ndarray, incremental: np.ndarray, *, seed: int = 0, gp_trials: int = 1500,
          replicates: int = 200) -> dict:
    """EVPPI of a driver (drivers (n,)) or a group (drivers (n, p)) by nonparametric regression.

    Strong, Oakley & Brennan (2014); capped at the EVPI estimate, deterministic for a given seed.
    Returns value, se (fitting and outer parts in quadrature), bias (bootstrap, indicative), capped,
    method ("group means", "smoothing spline", "gaussian process" or "regression spline"),
    trials_fitted and detail.
    """
    d = _as_incremental(incremental)
    x = _as_drivers(drivers, d.size)
    _check_options(gp_trials, replicates)
    rng = np.random.default_rng(seed)
    total = evpi(d)
    trivial = total["value"] == 0.0
    if x.shape[1] == 1:
        result = _single_driver(x[:, 0], d, rng, replicates, trivial)
    else:
        result = _zero("gaussian process") if trivial else _group(x, d, rng, gp_trials, replicates)
    return _capped({**result, "detail": {**result["detail"], "evpi": total["value"]}}, total["value"])
