"""The benchmark's arithmetic: layer FLOPs add up to the model's, and the conv profile covers every layer."""

from __future__ import annotations

import pytest
from torch import nn

from explorer.models import ModelConfig, build_model
from tools import bench


def test_layer_flops_add_up_to_the_models_forward_pass():
    model = build_model(ModelConfig(kind="vae", arch="conv", latent_dim=8))
    # the first convolution: 14x14x32 outputs, each a 3x3 window of one channel
    assert bench.layer_flops(model.encoder[0], (1, 1, 28, 28), (1, 32, 14, 14)) == 2 * 14 * 14 * 32 * 9
    # the last conv-transpose: every one of the 14x14x32 inputs spreads over a 4x4 window
    assert bench.layer_flops(model.decoder[-1], (1, 32, 14, 14), (1, 1, 28, 28)) == 2 * 14 * 14 * 32 * 16
    rows = bench.conv_layer_profile(batch=1, repeats=1)
    assert len(rows) == sum(isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)) for m in model.modules()) == 8
    # forward + backward: 3 forward passes' worth, 2 for the layer that reads the images
    first_layer_fwd = 2 * 14 * 14 * 32 * 9
    forward = (sum(r["flops"] for r in rows) + first_layer_fwd) / 3
    assert forward == pytest.approx(bench.conv_flops_per_image(model))
    assert rows[0]["layer"].startswith("encoder.0 Conv2d 1→32") and rows[0]["flops"] == 2 * first_layer_fwd
    assert all(r["ms"] > 0 and r["gflops"] > 0 for r in rows)


def test_benchmark_table_names_the_conv_profile(tmp_path):
    results = {"machine": "test", "repeats": 1, "gflops": 100.0,
               "conv": {"seconds_per_epoch": 9.0, "ceiling_s": 3.0, "ratio": 3.0},
               "conv_layers": [{"layer": "encoder.0 Conv2d 1→32", "ms": 3.0, "gflops": 14.0, "flops_share": 0.02}]}
    bench.write_markdown(results, tmp_path)
    text = (tmp_path / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert "| encoder.0 Conv2d 1→32 | 3.00 | 14 | 2.0 % |" in text
    assert "9.0 s vs 3.0 s = 3.00×" in text and "(information)" in text  # no longer the target


def test_the_conv_target_is_the_peer_loop_and_its_loss():
    peer = {"reference_s": 40.0, "project_s": 12.0, "ratio": 0.3, "reference_loss": 300.0, "project_loss": 304.0,
            "loss_change": 4 / 300, "project_settings": "batch 128"}
    rows = {r[0].split(":")[0]: r for r in bench.rows_from({"conv_peer": peer})}
    speed = next(r for k, r in rows.items() if "pytorch/examples-style reference" in r[0])
    assert speed[1] == "12.0 s / 40.0 s = 0.30×" and speed[2] == "≤ 0.50×" and speed[3] == "met"
    assert rows["2. test loss after that epoch"][3] == "NOT met"  # 1.3 % worse


def test_the_reference_conv_loop_trains_the_same_network():
    import torch

    from explorer.training import evaluate

    torch.manual_seed(0)
    model = build_model(ModelConfig(kind="vae", arch="conv", latent_dim=2, channels=(4, 8), conv_dense=16))
    images = (torch.rand(256, 28, 28) * 255).to(torch.uint8)
    before = evaluate(model, images)["loss"]
    bench.reference_conv_epoch(model, images, seed=0)
    assert evaluate(model, images)["loss"] < before


def test_benchmark_table_has_the_first_click_and_redraw_targets(tmp_path):
    from tools.browser_bench import FIRST_TARGETS, first_figures
    from tools.common import summary

    runs = [{"wait_s": 10.0, "first_click_ms": 300.0, "compare_first_ms": 900.0,
             "compare_controls_ms": {"map: PCA": 200.0, "images: random": 700.0}},
            {"wait_s": 0.0, "first_click_ms": 1200.0, "compare_first_ms": 1100.0,
             "compare_controls_ms": {"map: PCA": 150.0, "images: random": 250.0}}]
    first = first_figures(runs)
    assert list(first) == list(FIRST_TARGETS)
    later, at_once, compare, controls = first.values()
    assert later["all_ms"] == [300.0] and at_once["all_ms"] == [1200.0], "10 s later and at once kept apart"
    assert compare["n"] == 2 and controls["n"] == 4
    app = {"start_s": 3.0, "clicks": {}, "peak_rss_mb": 500.0, "first": first,
           "changes": {"kind": summary([400.0, 450.0, 1200.0])}}
    rows = {r[0]: r for r in bench.rows_from({"app": app})}
    assert rows["9. first latent map click, 10 s after the first page → page redrawn: median / p95 over 1"][3] == "met"
    assert rows["9. Compare latent sizes, each of its controls → page redrawn: median / p95 over 4"][3] == "NOT met"
    kind = rows["10. sidebar change of kind → page redrawn, every page: median / p95 over 3"]
    assert kind[1] == "450 / 1125 ms" and kind[3] == "NOT met"


def test_benchmark_table_has_issue_16s_interactions():
    from tools.common import summary

    app = {"start_s": 3.0, "clicks": {}, "peak_rss_mb": 500.0,
           "reading": {"walk, latent 32: tile click → its code in the editor, page redrawn": summary([250.0, 280.0, 700.0]),
                       "latent arithmetic, MNIST VAE z8: slider step → decoded, read and redrawn": summary([120.0, 130.0])}}
    rows = {r[0]: r for r in bench.rows_from({"app": app})}
    walk = rows["12. walk, latent 32: tile click → its code in the editor, page redrawn: median / p95 over 3"]
    assert walk[2] == "≤ 300 ms median, ≤ 600 ms p95" and walk[3] == "NOT met"  # its p95 is over
    assert rows["12. latent arithmetic, MNIST VAE z8: slider step → decoded, read and redrawn: median / p95 over 2"][3] == "met"
