"""Plotly figures for the explorer: arrays in, a ``go.Figure`` out, nothing displayed here.

Compute, then figure, then display: the pages compute arrays (through the loaders and
``explorer.latent``), these functions turn them into figures, and the pages show them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .images import CLASS_COLORS, hex_to_rgb
from .vocab import KIND_COLORS, KIND_LABELS, KINDS

SELECTED_COLOR = "#111111"  # the clicked point on a latent map: visible on every class colour


def latent_scatter(coords: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *,
                   indices: np.ndarray | None = None, selected: int | None = None, neighbours: Sequence[int] = (),
                   axis_titles: tuple[str, str] = ("", ""), height: int = 560,
                   marker_size: float = 5.0) -> go.Figure:
    """A scatter of 2-D ``coords`` (n, 2), one trace per class (the legend names them).

    Each point's ``customdata`` is its row in ``coords``, so a click identifies the code; its
    ``text`` is its test image's index (``indices``, default the row), which the hover names
    as the page does.
    ``selected`` (a row) is drawn the way plotly draws a clicked point (large, black), through
    the traces' ``selectedpoints``, so that a click in the browser needs no new figure; it is
    drawn last (its class after the others, it after its class), so nothing hides it.
    ``neighbours`` are drawn as rings, in an extra trace that does not answer clicks.
    """
    coords = np.asarray(coords, dtype=np.float32)
    labels = np.asarray(labels)
    fig = go.Figure()
    rows = np.arange(len(coords))
    test_index = rows if indices is None else np.asarray(indices, dtype=np.int64)
    has_selection = selected is not None and 0 <= selected < len(coords)
    order = list(range(len(class_names)))
    if has_selection and int(labels[selected]) in order:  # its class drawn last, on top of the others
        order.append(order.pop(order.index(int(labels[selected]))))
    for c in order:
        name = class_names[c]
        m = labels == c
        if not m.any():
            continue
        members = rows[m]
        picked = None
        if has_selection:  # positions within this trace; [] marks the others as unselected
            picked = []
            if selected is not None and labels[selected] == c:  # the selected point last, on top of its class
                members = np.append(members[members != selected], selected)
                picked = [len(members) - 1]
        # WebGL: thousands of points are one canvas, not thousands of SVG paths that the browser
        # restyles, re-layers and repaints on every click (``python -m tools.bench`` prints the
        # latent map's click latency).
        fig.add_trace(go.Scattergl(
            x=coords[members, 0], y=coords[members, 1], mode="markers", name=str(name), legendrank=c,
            customdata=members, text=test_index[members], marker=dict(size=marker_size, color=CLASS_COLORS[c % 10], opacity=0.75),
            selectedpoints=picked,
            # Once something is selected, plotly fades unselected points: keep them as drawn, and
            # draw the selected one large and black (plotly does the same after a click).
            unselected=dict(marker=dict(opacity=0.75)),
            selected=dict(marker=dict(opacity=1.0, size=marker_size + 9, color=SELECTED_COLOR)),
            hovertemplate=f"Test image %{{text}}: {name}<extra></extra>",
        ))
    if len(neighbours):
        nb = np.asarray(neighbours, dtype=np.int64)
        fig.add_trace(go.Scatter(
            x=coords[nb, 0], y=coords[nb, 1], mode="markers", name="neighbours", hoverinfo="skip",
            marker=dict(size=marker_size + 7, color="rgba(0,0,0,0)", line=dict(width=2, color="#333")),
            showlegend=True))
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=10, b=10), legend=dict(itemsizing="constant"),
        xaxis_title=axis_titles[0], yaxis_title=axis_titles[1], dragmode="pan", clickmode="event+select",
        hovermode="closest", uirevision="keep")
    return fig


def loss_curves(history: Sequence[dict], best_epoch: int | None = None) -> go.Figure:
    """Loss per epoch (nats per image): train, validation (when held out) and test,
    with the PSNR of the test reconstructions on a second chart."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss (nats per image, lower is better)",
                                                        "Test PSNR (dB, higher is better)"))
    epochs = [row.get("epoch") for row in history]
    for name, key, color in (("train", "train_loss", "#1f77b4"), ("validation", "val_loss", "#ff7f0e"),
                             ("test", "test_loss", "#d62728")):
        ys = [row.get(key) for row in history]
        if any(y is not None for y in ys):
            fig.add_trace(go.Scatter(x=epochs, y=ys, mode="lines+markers", name=name, connectgaps=True,
                                     line=dict(color=color), marker=dict(size=4)), row=1, col=1)
    ps = [row.get("test_psnr") for row in history]
    if any(p is not None for p in ps):
        fig.add_trace(go.Scatter(x=epochs, y=ps, mode="lines+markers", name="test PSNR", connectgaps=True,
                                 line=dict(color="#2ca02c"), marker=dict(size=4)), row=1, col=2)
    if best_epoch and epochs and best_epoch != epochs[-1]:  # the best epoch was kept, not the last
        for col in (1, 2):
            # plotly's annotations say row and col are str; they are the subplot's numbers
            fig.add_vline(x=best_epoch, line=dict(dash="dot", color="#555"), row=1, col=col)  # pyright: ignore[reportArgumentType]
        fig.add_annotation(x=best_epoch, y=0.98, yref="y domain", text=f"kept: epoch {best_epoch}",
                           showarrow=False, xanchor="left", yanchor="top", row=1, col=1)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


def _kind_lines(fig: go.Figure, points: Sequence[tuple[str, int, float]], chosen_kind: str | None,
                y_of=None, hover: str | None = None) -> None:
    """One line per kind through ``points`` = (kind, latent size, value), in the kind's colour, the
    chosen kind's drawn heavier; ``y_of`` maps a value to its height (the value itself by default),
    and ``hover`` (a hovertemplate) sees the value as ``%{customdata}``."""
    for kind in KINDS:
        pts = sorted((z, v) for k, z, v in points if k == kind)
        if not pts:
            continue
        fig.add_trace(go.Scatter(
            x=[z for z, _ in pts], y=[v if y_of is None else y_of(v) for _, v in pts], mode="lines+markers",
            name=KIND_LABELS[kind], line=dict(color=KIND_COLORS[kind], width=4 if kind == chosen_kind else 2),
            marker=dict(size=9 if kind == chosen_kind else 6), customdata=[v for _, v in pts],
            hovertemplate=None if hover is None else hover + "<extra>" + KIND_LABELS[kind] + "</extra>"))


def loss_by_latent_size(points: Sequence[tuple[str, int, float]], chosen_kind: str | None = None) -> go.Figure:
    """Test loss against latent size, one line per kind; ``points`` = (kind, latent_dim, loss)."""
    fig = go.Figure()
    _kind_lines(fig, points, chosen_kind)
    sizes = sorted({z for _, z, _ in points})
    fig.update_xaxes(type="log", tickvals=sizes, ticktext=[str(z) for z in sizes], title_text="latent size")
    fig.update_yaxes(title_text="test loss (nats per image)")
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=10, b=10))
    return fig


def variance_kept(pca_points: Sequence[tuple[int, float, float]], model_points: Sequence[tuple[str, int, float]],
                  total_variance: float, chosen_kind: str | None = None) -> go.Figure:
    """PCA's explained-variance curve and the models' test reconstructions on one axis: the share
    of the test images' pixel variance a code of k numbers keeps. ``pca_points`` = (components,
    test MSE per pixel, explained share); ``model_points`` = (kind, latent size, test MSE per
    pixel), read as 1 − MSE / variance per pixel (``total_variance`` / 784), which for PCA is its
    explained variance."""
    per_pixel = total_variance / 784
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=[k for k, _, _ in pca_points], y=[share for _, _, share in pca_points], mode="lines+markers", name="PCA",
        line=dict(color="#555", dash="dash", width=2), marker=dict(size=5), customdata=[mse for _, mse, _ in pca_points],
        hovertemplate="%{x} components: %{y:.1%} of the variance (MSE %{customdata:.4f})<extra>PCA</extra>"))
    _kind_lines(fig, model_points, chosen_kind, y_of=lambda mse: 1 - mse / per_pixel,
                hover="latent size %{x}: %{y:.1%} of the variance (MSE %{customdata:.4f})")
    ticks = sorted({k for k, _, _ in pca_points} & {1, 2, 4, 8, 16, 32, 64})
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[str(t) for t in ticks],
                     title_text="numbers in the code (latent size, or PCA components)")
    fig.update_yaxes(title_text="test images' variance kept", tickformat=".0%", rangemode="tozero")
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.12))
    return fig


def feature_accuracy_by_latent_size(points: Sequence[tuple[str, int, float]], chosen_kind: str | None = None) -> go.Figure:
    """Codes-as-features accuracy against latent size, one line per kind; ``points`` = (kind,
    latent size, test accuracy in [0, 1])."""
    fig = go.Figure()
    _kind_lines(fig, points, chosen_kind, hover="latent size %{x}: %{y:.1%} right")
    sizes = sorted({z for _, z, _ in points})
    fig.update_xaxes(type="log", tickvals=sizes, ticktext=[str(z) for z in sizes], title_text="latent size")
    fig.update_yaxes(title_text="test accuracy of a linear classifier on the codes", tickformat=".0%")
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.12))
    return fig


def psnr_by_latent_size(sizes: Sequence[int], scores: Mapping[str, Sequence[float | None]], noisy_db: float,
                        chosen_size: int | None = None) -> go.Figure:
    """PSNR of each kind's output against latent size for one input (None: no such model), with the
    noisy input's PSNR as a dashed line: above it a model denoises, below it a model does harm."""
    fig = go.Figure()
    for kind in KINDS:
        pts = [(z, v) for z, v in zip(sizes, scores.get(kind, [])) if v is not None]
        if not pts:
            continue
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers",
                                 name=KIND_LABELS[kind], line=dict(color=KIND_COLORS[kind], width=4 if kind == "dae" else 2),
                                 hovertemplate="latent size %{x}: %{y:.1f} dB<extra>" + KIND_LABELS[kind] + "</extra>"))
    fig.add_hline(y=noisy_db, line=dict(dash="dash", color="#555"), annotation_text=f"noisy input {noisy_db:.1f} dB",
                  annotation_position="top left")
    if chosen_size is not None:
        fig.add_vline(x=chosen_size, line=dict(dash="dot", color="#999"))
    fig.update_xaxes(type="log", tickvals=list(sizes), ticktext=[str(z) for z in sizes], title_text="latent size")
    fig.update_yaxes(title_text="PSNR against the clean image (dB)")
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.12))
    return fig


def class_shares(shares: Sequence[float] | np.ndarray, sure_shares: Sequence[float] | np.ndarray,
                 class_names: Sequence[str], confident: float, height: int = 300) -> go.Figure:
    """What a classifier reads in a set of samples: one bar per class, its share of the samples,
    the part read with at least ``confident`` probability solid and the rest faded (the page says
    so: a legend would show one class's colour for all); a dashed line at the uniform share
    (1 / classes), where every class would be read equally often."""
    names = list(class_names)
    sure = [float(v) for v in sure_shares]
    unsure = [float(a) - b for a, b in zip(shares, sure)]
    colors = [CLASS_COLORS[k % len(CLASS_COLORS)] for k in range(len(names))]
    pct = f"{confident * 100:.0f} %"
    uniform = 1 / len(names)
    fig = go.Figure(data=[
        dict(type="bar", x=names, y=sure, marker=dict(color=colors), showlegend=False,
             hovertemplate="%{x}: %{y:.1%} read with ≥ " + pct + "<extra></extra>"),
        dict(type="bar", x=names, y=unsure, marker=dict(color=colors, opacity=0.35), showlegend=False,
             hovertemplate="%{x}: %{y:.1%} read with less<extra></extra>"),
    ], layout=dict(
        barmode="stack", height=height, margin=dict(l=10, r=60, t=10, b=10),
        xaxis=dict(type="category"), yaxis=dict(title=dict(text="share of the samples"), tickformat=".0%"),
        shapes=[dict(type="line", xref="paper", x0=0, x1=1, y0=uniform, y1=uniform,
                     line=dict(dash="dash", color="#888", width=1))],
        annotations=[dict(xref="paper", x=1, y=uniform, text="uniform", showarrow=False, xanchor="left",
                          font=dict(color="#888"))]))
    return fig


# The user's own image, on a map and on a grid: magenta, which no class colour is near and which
# the grid's yellow crosshair (the clicked point) is not.
OWN_COLOR = "#ff00c8"


def with_own_point(fig: go.Figure, xy: np.ndarray | Sequence[float], neighbours_xy: np.ndarray | None = None) -> go.Figure:
    """A copy of a latent map with the user's own image as a large star at ``xy`` and rings
    around its nearest test codes (``neighbours_xy`` (k, 2)); neither answers a click. WebGL
    traces, like the map's: plotly draws them on a canvas above every SVG trace."""
    out = go.Figure(fig)
    if neighbours_xy is not None and len(neighbours_xy):
        out.add_trace(go.Scattergl(
            x=neighbours_xy[:, 0], y=neighbours_xy[:, 1], mode="markers", name="your image's neighbours",
            hoverinfo="skip", marker=dict(size=14, color="rgba(0,0,0,0)", line=dict(width=2.5, color=OWN_COLOR))))
    out.add_trace(go.Scattergl(
        x=[float(xy[0])], y=[float(xy[1])], mode="markers", name="your image", customdata=[-1],
        marker=dict(size=28, symbol="star", color=OWN_COLOR, line=dict(width=2, color="#111")),
        hovertemplate="Your image<extra></extra>"))
    return out


# --------------------------------------------------------------------------- anomalies

def _log_scale(values: Sequence[np.ndarray]) -> bool:
    """Whether a statistic is better read on a log axis: all positive, spread over 2+ decades."""
    v = np.concatenate([np.asarray(a, dtype=np.float64) for a in values if len(a)])
    if not len(v) or v.min() <= 0:
        return False
    lo, hi = np.percentile(v, [1, 99.9])
    return bool(hi / max(lo, 1e-12) > 100)


def threshold_figure(sets: Mapping[str, np.ndarray], curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]],
                     colors: Mapping[str, str], *, threshold: float, unit: str, own: float | None = None,
                     bins: int = 60, height: int = 400) -> go.Figure:
    """The Anomalies page's two charts as one figure: on the left, overlaid histograms (share of
    each set's images per bin, shared bins) of a statistic, one colour per set, with the
    threshold as a dashed line and the user's own image as a magenta one; on the right, the ROC
    curves (false positive rate, true positive rate, AUC) of ``curves``, each named with its
    AUC, and the diagonal of chance. A log axis when the statistic spans decades.

    Drawn for speed, because Streamlit draws a chart anew whenever its figure changes (its
    element id hashes the figure), and this one changes on every step of the threshold: one
    figure, not two (one plotly plot to build in the browser); each histogram a filled step
    line, not 60 bars (one SVG path, not 60); the bins counted here, not 30,000 values sent;
    and the figure made in one constructor call from plain dicts (plotly's add_trace,
    add_vline and update_layout validate and relayout on every call: 15 ms against 2 here).
    ``python -m tools.browser_bench --only anomalies`` prints the page's redraw times."""
    arrays = {name: np.asarray(v, dtype=np.float64) for name, v in sets.items() if len(v)}
    log_x = _log_scale(list(arrays.values()))
    every = np.concatenate(list(arrays.values())) if arrays else np.zeros(1)
    lo, hi = np.percentile(every, [0.05, 99.95])
    if own is not None and np.isfinite(own) and (not log_x or own > 0):
        lo, hi = min(lo, own), max(hi, own)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.geomspace(lo, hi, bins + 1) if log_x else np.linspace(lo, hi, bins + 1)
    ranges = np.c_[edges[:-1], edges[1:]]
    data: list[dict] = []
    for name, v in arrays.items():
        counts, _ = np.histogram(np.clip(v, lo, hi), edges)
        share = counts / max(len(v), 1)
        r, g, b = hex_to_rgb(colors.get(name, "#888888"))
        data.append(dict(  # a step at each bin edge, the last bin closed at the top edge
            type="scatter", x=edges, y=np.r_[share, share[-1]], mode="lines", name=name, legend="legend",
            line=dict(shape="hv", color=f"rgb({r},{g},{b})", width=1.5), fill="tozeroy",
            fillcolor=f"rgba({r},{g},{b},0.35)", customdata=np.r_[ranges, ranges[-1:]],
            hovertemplate="%{customdata[0]:.4g} – %{customdata[1]:.4g}: %{y:.1%}<extra>" + name + "</extra>"))
    data.append(dict(type="scatter", x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#aaa"),
                     name="chance (AUC 0.5)", hoverinfo="skip", xaxis="x2", yaxis="y2", legend="legend2"))
    for name, (fpr, tpr, area) in curves.items():
        data.append(dict(type="scatter", x=fpr, y=tpr, mode="lines", name=f"{name}: AUC {area:.3f}",
                         line=dict(color=colors.get(name, "#888"), width=2.5), xaxis="x2", yaxis="y2",
                         legend="legend2", hovertemplate="false alarms %{x:.1%}, caught %{y:.1%}<extra></extra>"))
    shapes: list[dict] = []
    annotations: list[dict] = []

    def mark(x: float, text: str, line: dict, side: str) -> None:
        # the line (in data units, as add_vline draws it), and its label above the plot (the top
        # margin leaves it room); an annotation's x on a log axis is in powers of ten
        if log_x and x <= 0:  # no place on a log axis: said at its left end
            annotations.append(dict(x=0, y=1, xref="x domain", yref="paper", text=f"← {text} {x:.3g}, left of the axis",
                                    showarrow=False, xanchor="left", yanchor="bottom", font=dict(color=line.get("color"))))
            return
        shapes.append(dict(type="line", x0=x, x1=x, xref="x", y0=0, y1=1, yref="y domain", line=line))
        annotations.append(dict(x=float(np.log10(x)) if log_x else x, y=1, xref="x", yref="paper", text=text,
                                showarrow=False, xanchor=side, yanchor="bottom", font=dict(color=line.get("color"))))

    mark(threshold, "threshold", dict(dash="dash", width=2), "left")  # in the theme's text colour (live_chart)
    if own is not None and np.isfinite(own):
        mark(own, "your image", dict(color=OWN_COLOR, width=3), "right")
    return go.Figure(data=data, layout=dict(
        xaxis=dict(title=dict(text=unit), type="log" if log_x else "linear", domain=[0, 0.5]),
        yaxis=dict(title=dict(text="share of the set's images"), tickformat=".0%", rangemode="tozero"),
        xaxis2=dict(title=dict(text="false positive rate (normal images flagged)"), range=[-0.01, 1.01],
                    domain=[0.6, 1], anchor="y2"),
        yaxis2=dict(title=dict(text="true positive rate (anomalies caught)"), range=[-0.01, 1.01], anchor="x2"),
        height=height, margin=dict(l=10, r=10, t=30, b=10), shapes=shapes, annotations=annotations,
        # the legends' backgrounds are the theme's (live_chart)
        legend=dict(x=0.01, y=0.99, xanchor="left", yanchor="top"),
        legend2=dict(x=0.99, y=0.03, xanchor="right", yanchor="bottom")))
