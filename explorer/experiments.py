"""Recipe experiments: train one model several ways and table the test results side by side.

    python -m explorer.experiments --dataset fashion --kind vae --latent-dim 16 \\
        --variants baseline ema-0.999 batchnorm [--epochs 30] [--out docs/experiments]

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
import time
from pathlib import Path

import torch

from .data import DataError, load_dataset
from .models import build_model
from .sweep import DATASETS, KINDS, default_model, default_recipe
from .training import evaluate, fast_precision, fit

# name -> ({TrainConfig field: value}, {ModelConfig field: value})
VARIANTS: dict[str, tuple[dict, dict]] = {
    "baseline": ({}, {}),
    "relu": ({}, {"activation": "relu"}),
    "silu": ({}, {"activation": "silu"}),
    "elu": ({}, {"activation": "elu"}),
    "batchnorm": ({}, {"norm": "batch"}),
    "layernorm": ({}, {"norm": "layer"}),
    "ema-0.999": ({"ema_decay": 0.999}, {}),
    "ema-0.9995": ({"ema_decay": 0.9995}, {}),
    "lr-final-0.01": ({"lr_final_fraction": 0.01}, {}),
    "kl-warmup-5": ({"kl_warmup_epochs": 5}, {}),
    "kl-warmup-10": ({"kl_warmup_epochs": 10}, {}),
    "kl-warmup-15": ({"kl_warmup_epochs": 15}, {}),
    "kl-warmup-30": ({"kl_warmup_epochs": 30}, {}),
    "kl-warmup-60": ({"kl_warmup_epochs": 60}, {}),
    "no-kl-warmup": ({"kl_warmup_epochs": 0}, {}),
    "wide-1024-512": ({}, {"hidden": (1024, 512)}),
    "deep-512-512-256": ({}, {"hidden": (512, 512, 256)}),
    "float32": ({"precision": "float32"}, {}),
}


def variant_spec(name: str, dataset: str, kind: str, latent_dim: int, *, full_data: bool,
                 epochs: int | None = None):
    """(TrainConfig, ModelConfig) of one named variant of the shipped recipe; ``a+b`` applies
    both variants (the later one wins where they set the same field)."""
    train_over, model_over = {}, {}
    for part in name.split("+"):
        train_over.update(VARIANTS[part][0])
        model_over.update(VARIANTS[part][1])
    train = default_recipe(dataset, kind, full_data=full_data)
    train = dataclasses.replace(train, precision=fast_precision())
    if epochs is not None:
        train = dataclasses.replace(train, epochs=epochs)
    train = dataclasses.replace(train, **train_over)
    return train, dataclasses.replace(default_model(kind, "mlp", latent_dim), **model_over)


def run_variant(name: str, train_set, test_set, dataset: str, kind: str, latent_dim: int,
                epochs: int | None = None) -> dict:
    tcfg, mcfg = variant_spec(name, dataset, kind, latent_dim, full_data=train_set.full, epochs=epochs)
    torch.manual_seed(tcfg.seed)
    model = build_model(mcfg)
    t0 = time.perf_counter()
    result = fit(model, train_set.images, test_set.images, tcfg, log=lambda _: None)
    seconds = time.perf_counter() - t0
    metrics = evaluate(model, test_set.images)
    return {"variant": name, "epochs": tcfg.epochs, "best_epoch": result.best_epoch, "loss": metrics["loss"],
            "recon": metrics["recon"], "kl": metrics["kl"], "psnr": metrics["psnr"],
            "train_seconds": result.seconds, "seconds": seconds}


def table(rows: list[dict], title: str) -> str:
    base = rows[0]["loss"]
    lines = [f"### {title}", "",
             f"Differences are against the first row ({rows[0]['variant']}). Loss: test loss in nats per "
             "image (the VAE's negative ELBO, one sample of z from a fixed seed).", "",
             "| variant | epochs (best) | test loss | Δ | recon | KL | PSNR dB | train s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['epochs']} ({r['best_epoch']}) | {r['loss']:.2f} | "
                     f"{r['loss'] - base:+.2f} | {r['recon']:.2f} | {r['kl']:.2f} | {r['psnr']:.2f} | "
                     f"{r['train_seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m explorer.experiments", description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=DATASETS, default="fashion", help="default: fashion")
    ap.add_argument("--kind", choices=KINDS, default="vae", help="default: vae")
    ap.add_argument("--latent-dim", type=int, default=16, help="default: 16")
    ap.add_argument("--variants", nargs="+", default=["baseline"], metavar="NAME",
                    help=f"default: baseline; join names with + to combine them; known: {', '.join(VARIANTS)}")
    ap.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    ap.add_argument("--out", type=Path, default=None, help="also write the table as Markdown into this folder")
    args = ap.parse_args(argv)
    unknown = [p for v in args.variants for p in v.split("+") if p not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    if args.latent_dim < 1 or (args.epochs is not None and args.epochs < 1):
        ap.error("--latent-dim and --epochs must be positive")
    try:
        train_set, test_set = load_dataset(args.dataset, "train"), load_dataset(args.dataset, "test")
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rows = []
    for name in args.variants:
        rows.append(run_variant(name, train_set, test_set, args.dataset, args.kind, args.latent_dim, args.epochs))
        r = rows[-1]
        print(f"{name:>18}: loss {r['loss']:.2f} (recon {r['recon']:.2f} + kl {r['kl']:.2f})  "
              f"best epoch {r['best_epoch']}/{r['epochs']}  {r['train_seconds']:.0f} s", flush=True)
    title = f"{args.dataset} {args.kind} z={args.latent_dim} ({train_set.source}, {len(train_set)} training images)"
    md = table(rows, title)
    print("\n" + md)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"{args.dataset}-{args.kind}-z{args.latent_dim}.md"
        path.write_text(md, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
