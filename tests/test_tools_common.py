"""What the tools share (tools/common.py): latency summaries, the URL that picks a checkpoint, the sweep record."""

from __future__ import annotations

import json
import math
from urllib.parse import parse_qs

from explorer.checkpoints import read_meta
from explorer.vocab import arch_label
from tests.helpers import make_checkpoint
from tools.common import query, runs_at_once, summary, sweep_record


def test_summary():
    s = summary([10.0, 30.0, 20.0, 40.0, 1000.0])
    assert (s["n"], s["median_ms"], s["max_ms"]) == (5, 30.0, 1000.0)
    assert 40.0 < s["p95_ms"] < 1000.0 and s["all_ms"] == [10.0, 30.0, 20.0, 40.0, 1000.0]
    empty = summary([])
    assert empty["n"] == 0 and math.isnan(empty["median_ms"]) and empty["all_ms"] == []


def test_query_names_the_sidebar_labels(tmp_path):
    make_checkpoint(tmp_path / "mnist-dae-mlp-z4", kind="dae", z=4)
    meta = read_meta(tmp_path / "mnist-dae-mlp-z4")
    q = parse_qs(query(meta))
    # The architecture too: without it a link to a seed model (Fashion's linear AE) opens the sweep's MLP.
    assert q == {"dataset": ["MNIST"], "kind": ["DAE"], "arch": [arch_label(meta.architecture)], "z": ["4"]}


def test_sweep_record_sums_the_models(tmp_path):
    assert sweep_record(tmp_path) is None
    models = [{"id": "a", "wall_seconds": 5, "train_seconds": 3.0, "projection_seconds": 1.0},
              {"id": "b", "wall_seconds": 7, "train_seconds": 4.5, "projection_seconds": 2.0}]
    (tmp_path / "sweep.json").write_text(json.dumps({"command": "python train.py", "wall_seconds": 9.0, "models": models,
                                                     "jobs": 2, "torch_threads": 1}))
    r = sweep_record(tmp_path)
    assert r is not None and (r["train_s"], r["projection_s"]) == (7.5, 3.0)
    assert r["runs_at_once"] == "2 models at a time, 1 torch thread each" and r["models"] == models
    assert runs_at_once({"torch_threads": 2}) == "one model at a time, 2 torch threads"
