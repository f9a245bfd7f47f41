"""What several tools share: latency summaries, the URL that chooses a checkpoint, the sweep record."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

from explorer.metadata import CheckpointMeta
from explorer.vocab import sidebar_choice

ROOT = Path(__file__).resolve().parent.parent   # the project folder: app.py, checkpoints/, docs/


def tool_parser(name: str, doc: str | None, checkpoints_help: str) -> argparse.ArgumentParser:
    """The command line of ``python -m tools.<name>``: its docstring as help, and ``--checkpoints``."""
    p = argparse.ArgumentParser(prog=f"python -m tools.{name}", description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", type=Path, default=ROOT / "checkpoints",
                   help=f"{checkpoints_help} (default: checkpoints/)")
    return p


def summary(ms: list[float]) -> dict:
    """{n, median_ms, p95_ms, max_ms, all_ms} of latencies in milliseconds (p95: linear
    interpolation); nan figures for no latencies at all."""
    if not ms:
        return {"n": 0, "median_ms": float("nan"), "p95_ms": float("nan"), "max_ms": float("nan"), "all_ms": []}
    a = np.asarray(ms, dtype=np.float64)
    return {"n": int(a.size), "median_ms": float(np.median(a)), "p95_ms": float(np.percentile(a, 95)),
            "max_ms": float(a.max()), "all_ms": [round(float(v), 1) for v in a]}


def query(meta: CheckpointMeta) -> str:
    """The URL query that makes the sidebar choose this checkpoint (its widgets are bound to the
    URL under their keys, with their displayed labels)."""
    return urlencode(sidebar_choice(meta.dataset.name, meta.kind, meta.architecture, meta.latent_dim))


def runs_at_once(sweep: dict) -> str:
    """How the sweep shared the machine, as ``<out>/sweep.json`` records it."""
    jobs, threads = sweep.get("jobs", 1), sweep["torch_threads"]
    each = f"{threads} torch thread{'s' if threads != 1 else ''}"
    return f"{jobs} models at a time, {each} each" if jobs > 1 else f"one model at a time, {each}"


def sweep_record(folder: Path, name: str = "sweep.json") -> dict | None:
    """``<folder>/<name>`` (written by train.py: sweep.json, or sweep-seeds.json for ``--set seeds``)
    with the per-model seconds summed, or None.

    Keys: everything the file holds (command, wall_seconds, models, device, cpu_count, jobs,
    torch_threads, …), plus ``train_s`` and ``projection_s`` summed over the models and
    ``runs_at_once`` in words.
    """
    path = Path(folder) / name
    if not path.is_file():
        return None
    sw = json.loads(path.read_text())
    return {**sw, "runs_at_once": runs_at_once(sw),
            "train_s": sum(m["train_seconds"] for m in sw["models"]),
            "projection_s": sum(m["projection_seconds"] for m in sw["models"])}
