"""Latent-space geometry for the explorer: grids, planes, clicks, paths and neighbours.

Everything here is plain numpy, so the decisions the app makes (which latent point a click
means, where a test code lands on the decoded grid, what lies between two codes) are
tested without Streamlit.

A decoded grid shows a 2-D plane of the latent space. Its two plane coordinates ``(u, v)``
run left→right and bottom→top (y up, as on a chart). Along each axis a fraction
``f`` in (0, 1) of the image width maps to a coordinate either evenly, ``u = extent·(2f − 1)``,
or by Gaussian quantiles, ``u = σ·Φ⁻¹(f)`` with ``σ = extent / 3``: equal steps of
probability under N(0, σ²), as in Kingma & Welling 2013, "Auto-Encoding Variational Bayes",
fig. 4 (with the default extent 3, σ = 1: the VAE's prior).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

SPACINGS = ("even", "quantile")
_STD_NORMAL = NormalDist()


# --------------------------------------------------------------------------- axis mapping

_inv_cdf = np.vectorize(_STD_NORMAL.inv_cdf, otypes=[np.float64])
_cdf = np.vectorize(_STD_NORMAL.cdf, otypes=[np.float64])


def fraction_to_coord(f, extent: float, spacing: str = "even") -> np.ndarray:
    """Fraction ``f`` in (0, 1) along an axis -> plane coordinate.

    even: [−extent, extent] linearly; quantile: σ·Φ⁻¹(f) with σ = extent / 3.
    """
    _check(extent, spacing)
    f = np.asarray(f, dtype=np.float64)
    if spacing == "even":
        return extent * (2.0 * f - 1.0)
    eps = 1e-6  # keep Φ⁻¹ finite at the very edge
    return (extent / 3.0) * _inv_cdf(np.clip(f, eps, 1.0 - eps))


def plane_limit(extent: float, spacing: str = "even") -> float:
    """The largest |coordinate| a grid of this range shows: a click can land nowhere further out."""
    return float(np.abs(fraction_to_coord(0.0, extent, spacing)))


def coord_to_fraction(u, extent: float, spacing: str = "even") -> np.ndarray:
    """Inverse of ``fraction_to_coord`` (may fall outside [0, 1] for even spacing)."""
    _check(extent, spacing)
    u = np.asarray(u, dtype=np.float64)
    if spacing == "even":
        return (u / extent + 1.0) / 2.0
    return _cdf(u / (extent / 3.0))


def axis_values(n: int, extent: float, spacing: str = "even") -> np.ndarray:
    """The coordinates of ``n`` tile centres along one axis, ascending, shape (n,)."""
    if n < 1:
        raise ValueError(f"a grid needs at least one tile per side, got {n}")
    return fraction_to_coord((np.arange(n) + 0.5) / n, extent, spacing)


def grid_coords(n: int, extent: float, spacing: str = "even") -> np.ndarray:
    """Plane coordinates of an n×n grid of tiles, (n, n, 2), row 0 at the top (largest v)."""
    vals = axis_values(n, extent, spacing)
    u, v = np.meshgrid(vals, vals[::-1])  # rows: v descending (y up), columns: u ascending
    return np.stack([u, v], axis=-1)


def pixel_to_plane(x: float, y: float, width: float, height: float, extent: float,
                   spacing: str = "even") -> tuple[float, float]:
    """A click at pixel (x, y) of an image displayed ``width``×``height`` -> plane (u, v).

    Pixel ``x`` covers [x, x+1): its centre is at fraction (x + 0.5) / width. So clicking the
    centre pixel of a tile gives exactly that tile's coordinate.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"displayed size must be positive, got {width}×{height}")
    fx = (np.clip(x, 0, width - 1) + 0.5) / width
    fy = (np.clip(y, 0, height - 1) + 0.5) / height
    u = fraction_to_coord(fx, extent, spacing)
    v = fraction_to_coord(1.0 - fy, extent, spacing)  # y grows downwards on screen
    return float(u), float(v)


def plane_to_pixel(uv: np.ndarray, width: float, height: float, extent: float,
                   spacing: str = "even") -> np.ndarray:
    """Plane coordinates (n, 2) -> pixel positions (n, 2) on the image (x right, y down)."""
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    fx = coord_to_fraction(uv[:, 0], extent, spacing)
    fy = 1.0 - coord_to_fraction(uv[:, 1], extent, spacing)
    return np.stack([fx * width - 0.5, fy * height - 0.5], axis=1)


def tile_at(x: float, y: float, width: float, height: float, nrows: int, ncols: int) -> tuple[int, int]:
    """Which tile (row, col) of an nrows×ncols mosaic a click at pixel (x, y) hits."""
    col = int(np.clip(x * ncols // max(width, 1e-9), 0, ncols - 1))
    row = int(np.clip(y * nrows // max(height, 1e-9), 0, nrows - 1))
    return row, col


def _check(extent: float, spacing: str) -> None:
    if spacing not in SPACINGS:
        raise ValueError(f"unknown spacing {spacing!r}; choose one of {', '.join(SPACINGS)}")
    if not extent > 0:
        raise ValueError(f"extent must be positive, got {extent}")


# --------------------------------------------------------------------------- planes

@dataclass(frozen=True)
class Plane:
    """A 2-D plane in latent space: ``point(u, v) = origin + u·axes[0] + v·axes[1]``.

    origin (d,), axes (2, d) orthonormal; ``labels`` name the two coordinates for display.
    """

    origin: np.ndarray
    axes: np.ndarray
    labels: tuple[str, str] = ("u", "v")

    def points(self, uv: np.ndarray) -> np.ndarray:
        """Plane coordinates (..., 2) -> latent codes (..., d), float32."""
        uv = np.asarray(uv, dtype=np.float64)
        return (self.origin + uv @ self.axes).astype(np.float32)

    def coords(self, codes: np.ndarray) -> np.ndarray:
        """Latent codes (n, d) -> their orthogonal projection's plane coordinates (n, 2)."""
        return ((np.asarray(codes, dtype=np.float64) - self.origin) @ self.axes.T).astype(np.float32)


def dims_plane(latent_dim: int, i: int, j: int, anchor: np.ndarray | None = None) -> Plane:
    """The plane of latent dimensions i and j through ``anchor`` (default: the origin).

    Its coordinates are the codes' own values z[i], z[j]; the other dimensions stay at the
    anchor's values.
    """
    if not (0 <= i < latent_dim and 0 <= j < latent_dim) or i == j:
        raise ValueError(f"need two different dimensions in 0..{latent_dim - 1}, got {i} and {j}")
    origin = np.zeros(latent_dim) if anchor is None else np.asarray(anchor, dtype=np.float64).copy()
    origin[[i, j]] = 0.0
    axes = np.zeros((2, latent_dim))
    axes[0, i] = axes[1, j] = 1.0
    return Plane(origin, axes, (f"z{i}", f"z{j}"))


def pca_plane(codes: np.ndarray, anchor: np.ndarray | None = None) -> Plane:
    """The plane through ``anchor`` (default: the origin) along the codes' first two
    principal directions (sign-fixed, so the same codes give the same plane)."""
    from .projections import pca_fit

    codes = np.asarray(codes, dtype=np.float64)
    _, comps = pca_fit(codes, 2)
    origin = np.zeros(codes.shape[1]) if anchor is None else np.asarray(anchor, dtype=np.float64)
    return Plane(origin.copy(), comps, ("PC1", "PC2"))


PLANES = ("dims", "pca")
MEAN_ANCHOR = "mean"  # a plane through the mean of the test codes (the UI's anchors are test images)


def make_plane(mode: str, codes: np.ndarray, i: int = 0, j: int = 1, anchor: np.ndarray | None = None) -> Plane:
    """The plane the grid shows: ``"dims"`` (latent dimensions i and j) or ``"pca"`` (the codes'
    first two principal directions), through ``anchor`` (default: the origin).

    For latent size 2 both give the whole latent space; "dims" keeps its true coordinates.
    """
    codes = np.asarray(codes)
    d = codes.shape[1]
    if d < 2:
        raise ValueError(f"a latent plane needs at least 2 latent dimensions, the model has {d}")
    if mode == "pca":
        return pca_plane(codes, anchor)
    if mode == "dims":
        return dims_plane(d, i, j, anchor)
    raise ValueError(f"unknown plane {mode!r}; choose one of {', '.join(PLANES)}")


VAE_EXTENT = 3.0  # a VAE's codes follow the prior N(0, I): ±3 covers 99.7 % of each coordinate


def grid_extent(kind: str, plane_coords: Callable[[], np.ndarray]) -> float:
    """The default half-width of a latent grid: ``VAE_EXTENT`` for a VAE, else the spread of the
    test codes on the plane (``spread_extent``); ``plane_coords`` is called only when needed."""
    return VAE_EXTENT if kind == "vae" else spread_extent(plane_coords())


def spread_extent(coords: np.ndarray, q: float = 0.99) -> float:
    """A grid extent covering the bulk of ``coords`` (n, 2): the q-quantile of |u| and |v|,
    rounded up to a half. Used as the default range for an AE, whose codes are not N(0, I)."""
    coords = np.abs(np.asarray(coords, dtype=np.float64))
    coords = coords[np.isfinite(coords).all(axis=1)] if coords.ndim == 2 else coords
    if coords.size == 0:
        return 3.0
    value = float(np.quantile(coords, q))
    return max(0.5, float(np.ceil(value * 2.0) / 2.0))


# --------------------------------------------------------------------------- paths

def lerp(a: np.ndarray, b: np.ndarray, t) -> np.ndarray:
    """Linear interpolation; ``t`` scalar or (k,) -> (d,) or (k, d)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.asarray(t, np.float64)
    return ((1.0 - t)[..., None] * a + t[..., None] * b).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, t) -> np.ndarray:
    """Spherical interpolation (Shoemake 1985; used for latent paths by White 2016,
    "Sampling Generative Networks"): follows the great circle between a and b, with the norm
    interpolated linearly, so midpoints keep a typical length under a Gaussian prior.
    Falls back to ``lerp`` when a and b are (anti)parallel or one is zero."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.asarray(t, np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-12 or nb < 1e-12:
        return lerp(a, b, t)
    cos = np.clip(np.dot(a / na, b / nb), -1.0, 1.0)
    omega = np.arccos(cos)
    if np.sin(omega) < 1e-6:
        return lerp(a, b, t)
    ua, ub = a / na, b / nb
    direction = (np.sin((1.0 - t) * omega)[..., None] * ua + np.sin(t * omega)[..., None] * ub) / np.sin(omega)
    norm = (1.0 - t) * na + t * nb
    return (direction * norm[..., None]).astype(np.float32)


INTERPOLATIONS = {"linear": lerp, "spherical": slerp}


def interpolate(a: np.ndarray, b: np.ndarray, t, method: str = "linear") -> np.ndarray:
    if method not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {method!r}; choose one of {', '.join(INTERPOLATIONS)}")
    return INTERPOLATIONS[method](a, b, t)


# --------------------------------------------------------------------------- neighbours, samples

def nearest_neighbours(codes: np.ndarray, query: np.ndarray, k: int, exclude: int | None = None) -> np.ndarray:
    """Row indices of the ``k`` codes (n, d) nearest to ``query`` (d,) in Euclidean distance,
    nearest first; ``exclude`` leaves out one row (the query's own)."""
    codes = np.asarray(codes, dtype=np.float64)
    d2 = ((codes - np.asarray(query, dtype=np.float64)) ** 2).sum(axis=1)
    if exclude is not None:
        d2[exclude] = np.inf
    k = int(min(k, np.isfinite(d2).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(d2, k - 1)[:k]
    return part[np.argsort(d2[part], kind="stable")]


def prior_samples(n: int, latent_dim: int, temperature: float = 1.0, seed: int = 0) -> np.ndarray:
    """``n`` draws from N(0, temperature² I), (n, latent_dim) float32; same seed, same draws."""
    if temperature < 0:
        raise ValueError(f"temperature must be 0 or more, got {temperature}")
    rng = np.random.default_rng(seed)
    return (temperature * rng.standard_normal((n, latent_dim))).astype(np.float32)


def prior_block(n: int, side: int, latent_dim: int, temperature: float = 1.0, seed: int = 0) -> np.ndarray:
    """The top-left n×n block of a ``side``×``side`` grid of prior draws, (n*n, latent_dim), row by row.

    The sample at row r, column c is draw ``r * side + c`` whatever ``n`` is, so a larger grid
    only adds rows and columns, and a chosen sample keeps its place and its code.
    """
    if not 1 <= n <= side:
        raise ValueError(f"a block of {n}×{n} does not fit a grid of {side}×{side}")
    z = prior_samples(side * side, latent_dim, temperature, seed).reshape(side, side, latent_dim)
    return np.ascontiguousarray(z[:n, :n].reshape(n * n, latent_dim))


def place_on_map(view: str, codes: np.ndarray, map_coords: np.ndarray, code: np.ndarray, k: int = 8) -> np.ndarray:
    """Where a new ``code`` goes on a stored 2-D map (n, 2) of ``codes`` (n, d): (2,) float32.

    ``raw``: the code itself (latent size 2). ``pca``: projected like the stored codes (the map
    is ``projections.pca_2d`` of them, so a stored code lands exactly on its own point). ``tsne``
    has no formula for a new point: the mean position of its ``k`` nearest codes, which is how
    openTSNE starts placing new points before optimising them (``TSNEEmbedding.prepare_partial``).
    """
    from .projections import pca_fit

    code = np.asarray(code, dtype=np.float64).ravel()
    if view == "raw":
        return code[:2].astype(np.float32)
    if view == "pca":
        mean, comps = pca_fit(codes, 2)
        return ((code - mean) @ comps.T).astype(np.float32)
    if view == "tsne":
        rows = nearest_neighbours(codes, code, min(k, len(codes)))
        return np.asarray(map_coords, dtype=np.float64)[rows].mean(axis=0).astype(np.float32)
    raise ValueError(f"unknown map {view!r}")
