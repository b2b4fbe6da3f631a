"""Gaussian copula: impose Spearman rank correlations on uniforms, per docs/model.md.

Correlated drivers keep their own uniform streams; the sampler maps them to standard
normals, mixes them with the Cholesky factor of the Pearson matrix `2 sin(pi rho_s / 6)`
(kernels/copula.py) and hands the normal scores to the inverse CDFs, which is U = Phi(Z),
X = F^-1(U) without the round trip. Marginals are untouched.
"""

from __future__ import annotations

import numpy as np

from .errors import ScenarioError

PSD_TOLERANCE = 1e-10


def pearson_from_spearman(rho_s: np.ndarray) -> np.ndarray:
    """Pearson correlation of the latent normals that gives Spearman `rho_s` (exact for normals)."""
    return 2.0 * np.sin(np.pi * np.asarray(rho_s, dtype=float) / 6.0)


def correlation_matrix(scenario) -> tuple[list[str], np.ndarray]:
    """The correlated drivers (in driver order) and their latent Pearson matrix."""
    order = scenario.drivers()
    names = sorted({n for c in scenario.correlations for n in c.drivers}, key=order.index)
    index = {n: i for i, n in enumerate(names)}
    rho = np.eye(len(names))
    for c in scenario.correlations:
        i, j = index[c.drivers[0]], index[c.drivers[1]]
        rho[i, j] = rho[j, i] = pearson_from_spearman(c.spearman)
    return names, rho


def check_correlations(scenario) -> None:
    """Reject a correlation matrix that is not positive semi-definite, naming its worst pairs."""
    if not scenario.correlations:
        return
    names, rho = correlation_matrix(scenario)
    values, vectors = np.linalg.eigh(rho)
    if values[0] >= -PSD_TOLERANCE:
        return
    v = vectors[:, 0]
    # Pairs whose terms pull v' rho v most below zero are the ones in conflict.
    blame = [(v[i] * v[j] * rho[i, j], names[i], names[j])
             for i in range(len(names)) for j in range(i + 1, len(names)) if rho[i, j] != 0]
    blame.sort()
    pairs = "; ".join(f"{a} / {b}" for _, a, b in blame[:3])
    raise ScenarioError("correlations", f"the matrix is not positive semi-definite (smallest eigenvalue "
                        f"{values[0]:.3g}); the pairs in conflict include {pairs}")


def cholesky_factor(rho: np.ndarray) -> np.ndarray:
    """Lower factor L with L L' = rho; semi-definite matrices get an eigenvalue-based factor."""
    try:
        return np.linalg.cholesky(rho)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(rho)
        return vectors * np.sqrt(np.clip(values, 0.0, None))



def spearman_from_pearson(rho: np.ndarray) -> np.ndarray:
    """Inverse of `pearson_from_spearman`."""
    return 6.0 / np.pi * np.arcsin(np.asarray(rho, dtype=float) / 2.0)


def nearest_correlation(rho: np.ndarray, min_eigenvalue: float = 1e-8, tol: float = 1e-12,
                        max_iter: int = 10_000) -> np.ndarray:
    """The nearest correlation matrix in the Frobenius norm (Higham 2002, alternating projections
    with Dykstra's correction), its eigenvalues then floored at `min_eigenvalue` so that it is
    safely positive definite."""
    y = np.array(rho, dtype=float)
    correction = np.zeros_like(y)
    for _ in range(max_iter):
        r = y - correction
        values, vectors = np.linalg.eigh(r)
        x = (vectors * np.clip(values, 0.0, None)) @ vectors.T
        correction = x - r
        previous = y
        y = x.copy()
        np.fill_diagonal(y, 1.0)
        if np.linalg.norm(y - previous, "fro") <= tol * max(1.0, np.linalg.norm(y, "fro")):
            break
    values, vectors = np.linalg.eigh((y + y.T) / 2.0)
    y = (vectors * np.clip(values, min_eigenvalue, None)) @ vectors.T
    scale = 1.0 / np.sqrt(np.diag(y))
    y = y * scale[:, None] * scale[None, :]
    np.fill_diagonal(y, 1.0)
    return (y + y.T) / 2.0


def repaired_correlations(scenario) -> list[tuple[str, str, float | None, float]]:
    """(driver a, driver b, requested Spearman or None, repaired Spearman) for every pair that
    the nearest valid matrix correlates, requested pairs first in their given order."""
    names, rho = correlation_matrix(scenario)
    spearman = spearman_from_pearson(nearest_correlation(rho))
    index = {n: i for i, n in enumerate(names)}
    out, seen = [], set()
    for c in scenario.correlations:
        a, b = c.drivers
        out.append((a, b, c.spearman, float(spearman[index[a], index[b]])))
        seen.add(frozenset((a, b)))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if frozenset((names[i], names[j])) not in seen and abs(spearman[i, j]) > 1e-9:
                out.append((names[i], names[j], None, float(spearman[i, j])))
    return out
