"""Recipe experiments: train one model several ways and table the test results side by side.

    python -m tools.experiments --dataset fashion --kind vae --latent-dim 16 \\
        --variants baseline no-kl-warmup lr-2e-3+relu [--epochs 30] [--out docs/experiments]

Each variant is the shipped recipe (``sweep.default_recipe`` / ``default_model``) with a
few fields replaced, so a comparison differs in exactly what its name says. The runs are
sequential and use the same seed; timings are only comparable within one run of this
script on an otherwise idle machine. With ``--out``, the table is also written there as
Markdown, named after the dataset, kind and latent size.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

from explorer.data import DataError, load_dataset
from explorer.io import check_writable
from explorer.models import build_model
from explorer.sweep import default_model, default_recipe
from explorer.training import TrainingDiverged, evaluate, fast_precision, fit
from explorer.vocab import DATASETS, KINDS

# name -> ({TrainConfig field: value}, {ModelConfig field: value}). Batch norm, layer norm and an
# EMA of the weights were tried and removed (commit c5ece2b has the code that built them;
# docs/experiments/README.md their tables).
VARIANTS: dict[str, tuple[dict, dict]] = {
    "baseline": ({}, {}),
    "relu": ({}, {"activation": "relu"}),
    "silu": ({}, {"activation": "silu"}),
    "elu": ({}, {"activation": "elu"}),
    "lr-final-0.01": ({"lr_final_fraction": 0.01}, {}),
    "lr-1e-3": ({"lr": 1e-3}, {}),
    "lr-2e-3": ({"lr": 2e-3}, {}),
    "lr-3e-3": ({"lr": 3e-3}, {}),
    "lr-4e-3": ({"lr": 4e-3}, {}),
    "lr-6e-3": ({"lr": 6e-3}, {}),
    "batch-128": ({"batch_size": 128}, {}),
    "batch-512": ({"batch_size": 512}, {}),
    "kl-warmup-5": ({"kl_warmup_epochs": 5}, {}),
    "kl-warmup-10": ({"kl_warmup_epochs": 10}, {}),
    "kl-warmup-15": ({"kl_warmup_epochs": 15}, {}),
    "kl-warmup-30": ({"kl_warmup_epochs": 30}, {}),
    "kl-warmup-60": ({"kl_warmup_epochs": 60}, {}),
    "no-kl-warmup": ({"kl_warmup_epochs": 0}, {}),
    "wide-1024-512": ({}, {"hidden": (1024, 512)}),
    "deep-512-512-256": ({}, {"hidden": (512, 512, 256)}),
    "float32": ({"precision": "float32"}, {}),
    "seed-1": ({"seed": 1}, {}),
    "no-flow": ({}, {"flow_steps": 0}),
    "iaf-1": ({}, {"flow_steps": 1}),
    "iaf-2": ({}, {"flow_steps": 2}),
    "iaf-4": ({}, {"flow_steps": 4}),
    "test-every-1": ({"test_every": 1}, {}),
    **{f"epochs-{n}": ({"epochs": n}, {}) for n in (3, 4, 6, 8, 10, 12, 15, 20, 25, 30, 40, 60)},
}


def variant_spec(name: str, dataset: str, kind: str, latent_dim: int, *, epochs: int | None = None):
    """(TrainConfig, ModelConfig) of one named variant of the shipped recipe; ``a+b`` applies
    both variants (the later one wins where they set the same field)."""
    train_over, model_over = {}, {}
    for part in name.split("+"):
        train_over.update(VARIANTS[part][0])
        model_over.update(VARIANTS[part][1])
    train = default_recipe(dataset, kind)
    train = dataclasses.replace(train, precision=fast_precision())
    if epochs is not None:
        train = dataclasses.replace(train, epochs=epochs)
    train = dataclasses.replace(train, **train_over)
    return train, dataclasses.replace(default_model(kind, "mlp", latent_dim), **model_over)


def run_variant(name: str, train_set, test_set, dataset: str, kind: str, latent_dim: int,
                epochs: int | None = None) -> dict:
    """Train one variant; its row of the table (test metrics of the float32 weights, before
    the rounding a shipped checkpoint gets, so they can differ from the report's in the 2nd decimal)."""
    tcfg, mcfg = variant_spec(name, dataset, kind, latent_dim, epochs=epochs)
    torch.manual_seed(tcfg.seed)
    model = build_model(mcfg)
    try:
        result = fit(model, train_set.images, test_set.images, tcfg, log=lambda _: None)
    except TrainingDiverged as e:
        return {"variant": name, "epochs": tcfg.epochs, "diverged": str(e)}
    metrics = evaluate(model, test_set.images)
    kept = result.history[(result.best_epoch or len(result.history)) - 1]
    return {"variant": name, "epochs": tcfg.epochs, "best_epoch": result.best_epoch, "loss": metrics["loss"],
            "val_loss": kept.get("val_loss"),
            "recon": metrics["recon"], "kl": metrics["kl"], "psnr": metrics["psnr"], "train_seconds": result.seconds}


def table(rows: list[dict], title: str) -> str:
    base = rows[0].get("loss")  # None when the first variant diverged: no differences then
    has_val = any(r.get("val_loss") is not None for r in rows)
    val_base = rows[0].get("val_loss")
    lines = [f"### {title}", "",
             f"Differences are against the first row ({rows[0]['variant']}). Loss: test loss in nats per "
             "image (the VAE's negative ELBO, one sample of z from a fixed seed)."
             + (" Validation loss: the same on the training images held out (of the epoch kept); "
                "choices are made on it, the test set only measures." if has_val else ""), "",
             "| variant | epochs (best) |" + (" val loss | Δ val |" if has_val else "")
             + " test loss | Δ | recon | KL | PSNR dB | train s |",
             "|---|---|" + ("---|---|" if has_val else "") + "---|---|---|---|---|---|"]
    for r in rows:
        if "diverged" in r:
            lines.append(f"| {r['variant']} | {r['epochs']} | diverged | | | | | |" + (" | |" if has_val else ""))
            continue
        delta = "—" if base is None else f"{r['loss'] - base:+.2f}"
        val = ""
        if has_val:
            v = r.get("val_loss")
            dv = "—" if v is None or val_base is None else f"{v - val_base:+.2f}"
            val = f" {v:.2f} | {dv} |" if v is not None else " | |"
        lines.append(f"| {r['variant']} | {r['epochs']} ({r['best_epoch']}) |{val} {r['loss']:.2f} | {delta} | "
                     f"{r['recon']:.2f} | {r['kl']:.2f} | {r['psnr']:.2f} | {r['train_seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.experiments", description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--dataset", choices=DATASETS, default="fashion", help="default: fashion")
    ap.add_argument("--kind", choices=KINDS, default="vae", help="default: vae")
    ap.add_argument("--latent-dim", type=int, default=16, help="default: 16")
    ap.add_argument("--variants", nargs="+", default=["baseline"], metavar="NAME",
                    help=f"default: baseline; join names with + to combine them; known: {', '.join(VARIANTS)}")
    ap.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    ap.add_argument("--data-dir", type=Path, default=None, help="folder with the IDX files (default: as train.py finds them)")
    ap.add_argument("--out", type=Path, default=None,
                    help="also write the table as Markdown into this folder (default: print it only)")
    args = ap.parse_args(argv)
    unknown = [p or "(empty)" for v in args.variants for p in v.split("+") if p not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    if args.latent_dim < 1 or (args.epochs is not None and args.epochs < 1):
        ap.error("--latent-dim and --epochs must be at least 1")
    if args.out:  # find out now, not after an hour of training, that the table cannot be written
        try:
            check_writable(args.out)
        except OSError as e:
            print(f"error: cannot write to {args.out}: {e.strerror or e}. Choose another --out.", file=sys.stderr)
            return 2
    try:
        train_set = load_dataset(args.dataset, "train", data_dir=args.data_dir)
        test_set = load_dataset(args.dataset, "test", data_dir=args.data_dir)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rows = []
    for name in args.variants:
        rows.append(run_variant(name, train_set, test_set, args.dataset, args.kind, args.latent_dim, args.epochs))
        r = rows[-1]
        if "diverged" in r:
            print(f"{name:>18}: diverged ({r['diverged']})", flush=True)
            continue
        print(f"{name:>18}: loss {r['loss']:.2f} (recon {r['recon']:.2f} + kl {r['kl']:.2f})  "
              f"best epoch {r['best_epoch']}/{r['epochs']}  {r['train_seconds']:.0f} s", flush=True)
    title = f"{args.dataset} {args.kind} z={args.latent_dim} ({train_set.source}, {len(train_set)} training images)"
    md = table(rows, title)
    print("\n" + md)
    if args.out:
        path = args.out / f"{args.dataset}-{args.kind}-z{args.latent_dim}.md"
        path.write_text(md, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
