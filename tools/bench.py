"""The benchmark: speed figures with their targets, printed and written to docs/BENCHMARKS.md.

    python -m tools.bench [--skip-browser] [--repeats 3] [--out docs]

Machines here are noisy, so every comparison is a ratio taken within one run, and every
timing is the median of repeated runs. Figures:
  1. training throughput: the project's loop against the pytorch/examples VAE loop
  2. the conv VAE's loop against a pytorch/examples-style loop on the same network, one
     epoch each; its seconds per epoch against its arithmetic ceiling, and each of its
     layers timed alone (where the time goes), as information
  3. the full default sweep (from checkpoints/sweep.json, written by train.py)
  4./5./7. app start, click-to-image latency and server memory, in a real browser
  9./10. first clicks on a fresh server, Compare, and page redraws after a sidebar change, in a real browser
  11. the Anomalies page's redraws after a threshold step, a change of corruption and of model
  6. decode and encode cost
  8. t-SNE: openTSNE against scikit-learn
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.checkpoints import CheckpointError
from explorer.data import load_dataset
from explorer.models import ModelConfig, build_model
from explorer.training import TrainConfig, evaluate, fast_precision, fit
from tools.common import ROOT, sweep_record


def median_time(fn, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


# --------------------------------------------------------------------------- 1. the reference loop

class ReferenceVAE(nn.Module):
    """pytorch/examples vae/main.py, as written there (784-400-20, sigmoid output)."""

    def __init__(self, z: int = 20):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, z)
        self.fc22 = nn.Linear(400, z)
        self.fc3 = nn.Linear(z, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


class _ItemDataset(torch.utils.data.Dataset):
    """One float tensor per item, as torchvision's MNIST + ToTensor() hands them out."""

    def __init__(self, images_u8: torch.Tensor):
        self.images = images_u8

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i].unsqueeze(0).float() / 255.0


def reference_epoch(train_u8: torch.Tensor, seed: int) -> ReferenceVAE:
    torch.manual_seed(seed)
    model = ReferenceVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(_ItemDataset(train_u8), batch_size=128, shuffle=True)
    model.train()
    for data in loader:
        opt.zero_grad()
        recon, mu, logvar = model(data)
        bce = F.binary_cross_entropy(recon, data.view(-1, 784), reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        (bce + kld).backward()
        opt.step()
    return model


@torch.inference_mode()
def reference_test_loss(model: ReferenceVAE, test_u8: torch.Tensor) -> float:
    torch.manual_seed(1234)
    x = test_u8.reshape(-1, 784).float() / 255.0
    recon, mu, logvar = model(x)
    bce = F.binary_cross_entropy(recon, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return float((bce + kld) / len(x))


# What the project's loop changes in the recipe, besides its in-memory batches, BCE with logits,
# fused Adam and flushed denormals: twice the batch with twice the learning rate (the loss
# after one epoch holds within 1 %), and bfloat16 products where the CPU multiplies them natively.
PROJECT_BATCH, PROJECT_LR = 256, 2e-3


def project_epoch(train_u8, test_u8, seed: int, batch_size: int, lr: float, precision: str):
    torch.manual_seed(seed)
    model = build_model(ModelConfig(kind="vae", latent_dim=20, hidden=(400,)))
    cfg = TrainConfig(epochs=1, batch_size=batch_size, lr=lr, lr_final_fraction=1.0, precision=precision, seed=seed)
    fit(model, train_u8, test_u8, cfg, log=lambda m: None)
    return model


def bench_training(repeats: int) -> dict:
    tr, te = load_dataset("fashion", "train"), load_dataset("fashion", "test")
    precision = fast_precision("cpu")
    ref_t, ref_loss, proj_t, proj_loss = [], [], [], []
    for r in range(repeats):  # alternate, so drift in machine speed hits both alike
        t0 = time.perf_counter()
        m = reference_epoch(tr.images, seed=r)
        ref_t.append(time.perf_counter() - t0)
        ref_loss.append(reference_test_loss(m, te.images))
        t0 = time.perf_counter()
        m = project_epoch(tr.images, te.images, seed=r, batch_size=PROJECT_BATCH, lr=PROJECT_LR, precision=precision)
        proj_t.append(time.perf_counter() - t0 - _eval_seconds(m, te.images))
        proj_loss.append(evaluate(m, te.images)["loss"])
    ref, proj = statistics.median(ref_t), statistics.median(proj_t)
    rl, pl = statistics.median(ref_loss), statistics.median(proj_loss)
    return {"reference_s": ref, "project_s": proj, "ratio": proj / ref, "reference_loss": rl,
            "project_loss": pl, "loss_change": (pl - rl) / rl,
            "project_settings": f"batch {PROJECT_BATCH}, lr {PROJECT_LR:g}, {precision}",
            "reference_times": ref_t, "project_times": proj_t, "reference_losses": ref_loss, "project_losses": proj_loss}


def _eval_seconds(model, test_u8) -> float:
    """fit() evaluates the test set after each epoch; the reference loop does not: subtract it."""
    t0 = time.perf_counter()
    evaluate(model, test_u8)
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- 2. conv

def machine_gflops(n: int = 1024, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    _ = a @ b  # warm-up
    t, _ = median_time(lambda: a @ b, repeats)
    return 2 * n ** 3 / t / 1e9


def conv_flops_per_image(model) -> float:
    """Multiply-adds ×2 of one forward pass of one image, counted from the layers' shapes."""
    flops = 0.0

    def count(mod, inp, out):
        nonlocal flops
        flops += layer_flops(mod, tuple(inp[0].shape), tuple(out.shape))

    hooks = [m.register_forward_hook(count) for m in model.modules()]
    with torch.inference_mode():
        model.encode(torch.rand(1, 1, 28, 28))
        model.decode(torch.zeros(1, model.cfg.latent_dim))
    for h in hooks:
        h.remove()
    return flops


def bench_conv(gflops: float, epochs_images: int = 60_000) -> dict:
    tr, te = load_dataset("fashion", "train"), load_dataset("fashion", "test")
    model = build_model(ModelConfig(kind="vae", arch="conv", latent_dim=8))
    n = 12_000  # a fifth of an epoch, scaled up
    cfg = TrainConfig(epochs=1, batch_size=128, lr=1e-3, lr_final_fraction=1.0)
    t0 = time.perf_counter()
    fit(model, tr.images[:n], te.images[:500], cfg, log=lambda m: None)
    seconds = (time.perf_counter() - t0) * epochs_images / n
    per_image = conv_flops_per_image(model) * 3  # forward + backward ≈ 3 forward passes
    ceiling = per_image * epochs_images / (gflops * 1e9)
    return {"seconds_per_epoch": seconds, "ceiling_s": ceiling, "ratio": seconds / ceiling}


def reference_conv_epoch(model, train_u8: torch.Tensor, seed: int) -> None:
    """One epoch of ``model`` (the project's conv VAE, its layers as they are) trained the way
    pytorch/examples vae/main.py trains: NCHW float32 tensors, a DataLoader over a dataset that
    returns one float tensor per item, the decoder's sigmoid and F.binary_cross_entropy, plain Adam."""
    torch.manual_seed(seed)
    model = model.to(memory_format=torch.contiguous_format)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(_ItemDataset(train_u8), batch_size=128, shuffle=True)
    model.train()
    for data in loader:
        opt.zero_grad()
        mu, logvar = model.encode(data)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        recon = torch.sigmoid(model.decode(z))
        bce = F.binary_cross_entropy(recon, data, reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        (bce + kld).backward()
        opt.step()


CONV_PEER = ModelConfig(kind="vae", arch="conv", latent_dim=8)  # the benchmark's conv VAE, as in figure 2


def bench_conv_peer(repeats: int = 1) -> dict:
    """Figure 2's target (issue 17): the project's loop against ``reference_conv_epoch`` on the same
    architecture, one whole Fashion-MNIST epoch each, alternated; the project at the reference's batch
    and learning rate, with its own channels-last layout and bfloat16 products where the CPU has them."""
    tr, te = load_dataset("fashion", "train"), load_dataset("fashion", "test")
    precision = fast_precision("cpu")
    ref_t, ref_loss, proj_t, proj_loss = [], [], [], []
    for r in range(repeats):
        torch.manual_seed(r)
        model = build_model(CONV_PEER)
        t0 = time.perf_counter()
        reference_conv_epoch(model, tr.images, seed=r)
        ref_t.append(time.perf_counter() - t0)
        ref_loss.append(evaluate(model, te.images)["loss"])
        torch.manual_seed(r)
        model = build_model(CONV_PEER)
        cfg = TrainConfig(epochs=1, batch_size=128, lr=1e-3, lr_final_fraction=1.0, precision=precision, seed=r)
        t0 = time.perf_counter()
        fit(model, tr.images, te.images, cfg, log=lambda m: None)
        proj_t.append(time.perf_counter() - t0 - _eval_seconds(model, te.images))
        proj_loss.append(evaluate(model, te.images)["loss"])
    ref, proj = statistics.median(ref_t), statistics.median(proj_t)
    rl, pl = statistics.median(ref_loss), statistics.median(proj_loss)
    return {"reference_s": ref, "project_s": proj, "ratio": proj / ref, "reference_loss": rl, "project_loss": pl,
            "loss_change": (pl - rl) / rl, "project_settings": f"batch 128, lr 0.001, {precision}, channels-last",
            "reference_times": ref_t, "project_times": proj_t}


def layer_flops(mod: nn.Module, in_shape: tuple, out_shape: tuple) -> float:
    """Multiply-adds ×2 of one layer's forward pass over a whole batch."""
    if isinstance(mod, nn.Linear):
        return 2 * in_shape[0] * mod.in_features * mod.out_features
    if isinstance(mod, nn.Conv2d):
        return 2 * math.prod(out_shape) * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]
    if isinstance(mod, nn.ConvTranspose2d):
        return 2 * math.prod(in_shape) * mod.out_channels * mod.kernel_size[0] * mod.kernel_size[1]
    return 0.0


def conv_layer_profile(batch: int = 128, repeats: int = 20) -> list[dict]:
    """Where the conv VAE's arithmetic time goes: each Linear / conv layer timed alone,
    forward + backward at the input shape and memory layout it sees in training. The layer
    that reads the images needs no input gradient, so its backward is one product, not two.
    The timing includes a scalar loss on the output (a mean of squares) and its gradient."""
    model = build_model(ModelConfig(kind="vae", arch="conv", latent_dim=8))
    seen = {}  # layer -> (input shape, input strides, output shape)

    def record(layer, inputs, output):
        seen.setdefault(layer, (tuple(inputs[0].shape), inputs[0].stride(), tuple(output.shape)))

    hooks = [layer.register_forward_hook(record) for layer in model.modules()
             if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        x = torch.rand(batch, 1, 28, 28)  # (N, 1, 28, 28), as fit() feeds it
        model.loss_parts(x, x)
    for h in hooks:
        h.remove()
    first = next(iter(seen))
    rows = []
    for name, layer in model.named_modules():
        if layer not in seen:
            continue
        in_shape, in_stride, out_shape = seen[layer]
        x = torch.empty_strided(in_shape, in_stride).uniform_().requires_grad_(layer is not first)

        def step():
            layer.zero_grad(set_to_none=True)
            layer(x).square().mean().backward()

        for _ in range(3):
            step()
        t, _ = median_time(step, repeats)
        flops = layer_flops(layer, in_shape, out_shape) * (2 if layer is first else 3)
        rows.append({"layer": f"{name} {type(layer).__name__} {in_shape[1]}→{out_shape[1]}", "ms": t * 1000,
                     "gflops": flops / t / 1e9, "flops": flops})
    total = sum(r["flops"] for r in rows)
    for r in rows:
        r["flops_share"] = r["flops"] / total
    return rows


# --------------------------------------------------------------------------- 6. decode / encode

def bench_decode(checkpoints: Path, repeats: int) -> dict:
    from explorer.checkpoints import load_checkpoint
    from tools.report import decode_grid_image

    ck = load_checkpoint(checkpoints / "fashion-vae-mlp-z2")
    te = load_dataset("fashion", "test")
    decode_s, _ = median_time(lambda: decode_grid_image(ck.model, 25, 3.0), repeats)

    from explorer.sweep import encode_all

    encode_s, _ = median_time(lambda: encode_all(ck.model, te.images), repeats)
    out = {"decode_grid_25_ms": decode_s * 1000, "encode_10k_ms": encode_s * 1000}
    from explorer import classifier

    try:
        reader = classifier.load(classifier.folder_of(checkpoints, "fashion"))
    except CheckpointError:  # no classifier: the figure is left out
        return out
    from explorer.inference import decode
    from explorer.latent import grid_coords

    tiles = decode(ck.model, grid_coords(30, 3.0).reshape(-1, 2))  # the latent grid's tiles at its finest
    out["read_grid_30_ms"] = median_time(lambda: reader.probabilities(tiles), repeats)[0] * 1000
    out["read_grid_30_trained_ms"] = median_time(
        lambda: classifier.probabilities(reader.net, tiles, 64), repeats)[0] * 1000
    return out


# --------------------------------------------------------------------------- 8. t-SNE

def tsne_2d_sklearn(codes: np.ndarray, seed: int = 0) -> np.ndarray:
    """scikit-learn's t-SNE, which the benchmark times against ``explorer.projections.tsne_2d``."""
    from sklearn.manifold import TSNE

    codes = np.asarray(codes, dtype=np.float32)
    perplexity = float(min(30.0, max(2.0, (len(codes) - 1) / 3.0)))
    return TSNE(perplexity=perplexity, random_state=seed, init="pca").fit_transform(codes).astype(np.float32)


def bench_tsne(checkpoints: Path, repeats: int) -> dict:
    from explorer.checkpoints import load_checkpoint
    from explorer.projections import tsne_2d

    codes = load_checkpoint(checkpoints / "fashion-vae-mlp-z8").codes()["codes"]
    ot, _ = median_time(lambda: tsne_2d(codes, 0), repeats)
    sk, _ = median_time(lambda: tsne_2d_sklearn(codes, 0), max(1, repeats // 2))
    return {"n": len(codes), "opentsne_s": ot, "sklearn_s": sk}


# --------------------------------------------------------------------------- table

def rows_from(results: dict) -> list[tuple[str, str, str, str]]:
    """(figure, value, target, verdict) rows."""
    out = []

    def verdict(ok):
        return "met" if ok else "NOT met"

    if "training" in results:
        t = results["training"]
        out.append((f"1. VAE 784-400-20, one Fashion-MNIST epoch: project ({t['project_settings']}) / reference time",
                    f"{t['project_s']:.2f} s / {t['reference_s']:.2f} s = {t['ratio']:.2f}×", "≤ 0.50×",
                    verdict(t["ratio"] <= 0.5)))
        out.append(("1. test loss after that epoch: project vs reference",
                    f"{t['project_loss']:.2f} vs {t['reference_loss']:.2f} nats ({100 * t['loss_change']:+.2f} %)",
                    "within ±1 % (lower is fine)", verdict(t["loss_change"] <= 0.01)))
    if "conv_peer" in results:
        c = results["conv_peer"]
        out.append((f"2. conv VAE (z=8), one Fashion-MNIST epoch: project ({c['project_settings']}) / "
                    "pytorch/examples-style reference on the same network",
                    f"{c['project_s']:.1f} s / {c['reference_s']:.1f} s = {c['ratio']:.2f}×", "≤ 0.50×",
                    verdict(c["ratio"] <= 0.5)))
        out.append(("2. test loss after that epoch: project vs reference",
                    f"{c['project_loss']:.2f} vs {c['reference_loss']:.2f} nats ({100 * c['loss_change']:+.2f} %)",
                    "within ±1 % (lower is fine)", verdict(c["loss_change"] <= 0.01)))
    if "conv" in results:
        c = results["conv"]
        out.append(("2. conv VAE (z=8), seconds per Fashion-MNIST epoch vs arithmetic ceiling (information)",
                    f"{c['seconds_per_epoch']:.1f} s vs {c['ceiling_s']:.1f} s = {c['ratio']:.2f}×", "—", "—"))
    if "gflops" in results:
        out.append(("   machine: fp32 matmul throughput", f"{results['gflops']:.0f} GFLOP/s", "—", "—"))
    if "sweep" in results:
        s = results["sweep"]
        out.append(("3. full default sweep `python train.py` (from checkpoints/sweep.json)",
                    f"{s['wall_seconds'] / 60:.1f} min ({s['runs_at_once']}; summed over the models: training "
                    f"{s['train_s'] / 60:.1f}, projections {s['projection_s'] / 60:.1f})", "≤ 20 min",
                    verdict(s["wall_seconds"] <= 1200)))
    if "app" in results:
        a = results["app"]
        out.append(("4. app start: launch to first page rendered in Chromium", f"{a['start_s']:.2f} s", "≤ 4 s",
                    verdict(a["start_s"] <= 4)))
        for name, v in a["clicks"].items():
            out.append((f"5. {name}: median / p95 over {v['n']}", f"{v['median_ms']:.0f} / {v['p95_ms']:.0f} ms",
                        "≤ 300 / ≤ 600 ms", verdict(v["median_ms"] <= 300 and v["p95_ms"] <= 600)))
        from tools.browser_bench import FIRST_TARGETS

        for name, v in a.get("first", {}).items():
            _, _, target, median_ms, p95_ms = FIRST_TARGETS[name]
            out.append((f"9. {name}: median / p95 over {v['n']}", f"{v['median_ms']:.0f} / {v['p95_ms']:.0f} ms",
                        target, verdict(v["median_ms"] <= median_ms and v["p95_ms"] <= p95_ms)))
        for name, v in a.get("changes", {}).items():
            out.append((f"10. sidebar change of {name} → page redrawn, every page: median / p95 over {v['n']}",
                        f"{v['median_ms']:.0f} / {v['p95_ms']:.0f} ms", "≤ 500 / ≤ 1000 ms",
                        verdict(v["median_ms"] <= 500 and v["p95_ms"] <= 1000)))
        from tools.browser_bench import ANOMALY_TARGETS

        for name, v in a.get("anomalies", {}).items():
            _, target, median_ms = ANOMALY_TARGETS[name]
            out.append((f"11. {name}: median / p95 over {v['n']}", f"{v['median_ms']:.0f} / {v['p95_ms']:.0f} ms",
                        target, verdict(v["median_ms"] <= median_ms)))
        from tools.browser_bench import WALK_TARGET, WALK_TARGET_MS

        for name, v in a.get("reading", {}).items():
            out.append((f"12. {name}: median / p95 over {v['n']}", f"{v['median_ms']:.0f} / {v['p95_ms']:.0f} ms",
                        WALK_TARGET, verdict(v["median_ms"] <= WALK_TARGET_MS[0] and v["p95_ms"] <= WALK_TARGET_MS[1])))
        out.append(("7. app server peak resident memory after every page × every checkpoint",
                    f"{a['peak_rss_mb']:.0f} MB", "≤ 800 MB", verdict(a["peak_rss_mb"] <= 800)))
    if "decode" in results:
        d = results["decode"]
        out.append(("6. decode a 25×25 latent grid into one image", f"{d['decode_grid_25_ms']:.1f} ms", "—", "—"))
        out.append(("6. encode the 10,000 Fashion-MNIST test images", f"{d['encode_10k_ms']:.0f} ms", "—", "—"))
        if "read_grid_30_ms" in d:
            out.append(("6. classifier reads a 30×30 grid's 900 tiles: for inference / as trained",
                        f"{d['read_grid_30_ms']:.0f} / {d['read_grid_30_trained_ms']:.0f} ms", "—", "—"))
    if "tsne" in results:
        t = results["tsne"]
        faster = "openTSNE" if t["opentsne_s"] <= t["sklearn_s"] else "scikit-learn"
        out.append((f"8. t-SNE of {t['n']:,} codes: openTSNE vs scikit-learn",
                    f"{t['opentsne_s']:.1f} s vs {t['sklearn_s']:.1f} s", "the sweep uses the faster",
                    f"{faster} is faster" + ("" if faster == "openTSNE" else " — switch the sweep")))
    return out


def write_markdown(results: dict, out: Path) -> None:
    rows = rows_from(results)
    lines = ["# Benchmarks", "",
             f"Written by `python -m tools.bench` on {time.strftime('%Y-%m-%d')}, "
             f"{results['machine']}. Timings are medians of {results['repeats']} runs; comparisons are ratios "
             "taken within the same run.", "",
             "| figure | value | target | verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    if "sweep" in results:
        lines += ["", "Where the sweep's time goes (seconds):", "", "| model | training | projections |", "|---|---:|---:|"]
        lines += [f"| {m.id} | {m.train_seconds:.1f} | {m.projection_seconds:.1f} |"
                  for m in results["sweep"]["models"]]
    if "conv_layers" in results:
        lines += ["", "Where the conv VAE's time goes: each layer alone, forward + backward at batch 128 "
                  "(each at the input shape and memory layout it sees in training), against the fp32 "
                  "matmul throughput above:", "",
                  "| layer | ms | GFLOP/s | share of the arithmetic |", "|---|---:|---:|---:|"]
        lines += [f"| {r['layer']} | {r['ms']:.2f} | {r['gflops']:.0f} | {100 * r['flops_share']:.1f} % |"
                  for r in results["conv_layers"]]
    lines += ["", "Raw figures:", "", "```json", json.dumps(results, indent=1, default=float), "```", ""]
    out.mkdir(parents=True, exist_ok=True)
    (out / "BENCHMARKS.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", type=Path, default=ROOT / "checkpoints")
    p.add_argument("--out", type=Path, default=ROOT / "docs", help="where BENCHMARKS.md goes (default: docs)")
    p.add_argument("--repeats", type=int, default=3, help="runs per timing, the median is kept (default: 3)")
    p.add_argument("--skip-browser", action="store_true", help="leave out app start, clicks and memory")
    p.add_argument("--only", nargs="+", metavar="FIGURE", default=None,
                   help="run only these figures (gflops training conv_peer conv conv_layers decode tsne app) and "
                        "print them; docs/BENCHMARKS.md is then left as it is (default: all, and write it)")
    args = p.parse_args(argv)

    import os
    import platform

    results: dict = {"machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, torch {torch.__version__}, "
                                f"{torch.get_num_threads()} threads", "repeats": args.repeats}
    steps = [("gflops", lambda: machine_gflops()),
             ("training", lambda: bench_training(args.repeats)),
             ("conv_peer", lambda: bench_conv_peer(args.repeats)),
             ("conv", lambda: bench_conv(results["gflops"])),
             ("conv_layers", lambda: conv_layer_profile()),
             ("decode", lambda: bench_decode(args.checkpoints, max(5, args.repeats))),
             ("tsne", lambda: bench_tsne(args.checkpoints, args.repeats))]
    sw = sweep_record(args.checkpoints)
    if sw is not None:
        results["sweep"] = {k: sw[k] for k in ("wall_seconds", "models", "runs_at_once", "train_s", "projection_s")}
    if not args.skip_browser:
        from tools.browser_bench import bench_app

        steps.append(("app", lambda: bench_app(args.checkpoints)))
    if args.only:
        unknown = set(args.only) - {name for name, _ in steps} - {"app"}
        if unknown:
            p.error(f"--only: no figure {', '.join(sorted(unknown))}")
        needed = set(args.only) | ({"gflops"} if "conv" in args.only else set())
        steps = [(name, fn) for name, fn in steps if name in needed]
        results.pop("sweep", None)
    for name, fn in steps:
        t0 = time.perf_counter()
        print(f"… {name}", flush=True)
        results[name] = fn()
        print(f"  done in {time.perf_counter() - t0:.0f}s", flush=True)
    rows = rows_from(results)
    w = max(len(r[0]) for r in rows)
    print()
    for a, b, c, d in rows:
        print(f"{a:<{w}}  {b:<40}  target {c:<26}  {d}")
    if args.only:
        print("\n(--only: docs/BENCHMARKS.md left as it is)")
        return 0
    write_markdown(results, args.out)
    print(f"\nwrote {args.out / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
