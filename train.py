"""Train autoencoders (AE, DAE, VAE) on MNIST and Fashion-MNIST and write checkpoints.

With no flags this reproduces the shipped set in checkpoints/: {mnist, fashion} x
{ae, dae, vae} x latent {2, 4, 8, 16, 32}, MLP architecture. Examples:

  python train.py --dataset fashion --kind vae --latent-dims 2 8 --epochs 10 --out runs/
  python train.py --resume            # continue an interrupted sweep where it stopped
  python train.py --classifiers       # the reading classifiers the app reads decoded images with
  python train.py --set seeds         # the course documents' own networks (conv VAE, linear AE, ...)
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from explorer.config import RECIPES
from explorer.vocab import ACTIVATIONS, ARCHS, DATASETS, KINDS, LATENT_DIMS, dataset_title, kind_label


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=[*DATASETS, "all"], default="all",
                   help=f"dataset to train on (default: all = {' and '.join(DATASETS)})")
    p.add_argument("--kind", choices=[*KINDS, "all"], default="all",
                   help="model kind: autoencoder, denoising autoencoder, variational autoencoder (default: all)")
    p.add_argument("--set", choices=["sweep", "seeds"], default="sweep", dest="model_set",
                   help="sweep: datasets x kinds x latent sizes of one architecture, as chosen below; seeds: the "
                        "course documents' own networks with their own settings (explorer/seeds.py: seed 000's "
                        "convolutional VAE, simple and deep AEs, seed 004's convolutional and linear AEs), about "
                        "15 minutes on 2 CPU cores; --dataset and --kind filter them (default: sweep)")
    p.add_argument("--latent-dims", type=positive_int, nargs="+", default=None, metavar="Z",
                   help=f"latent sizes to train (default: {' '.join(map(str, LATENT_DIMS))})")
    p.add_argument("--arch", choices=[*ARCHS, "all"], default="mlp",
                   help="architecture: mlp (784-512-256-z) or conv (conv encoder, conv-transpose decoder) (default: mlp)")
    p.add_argument("--hidden", type=positive_int, nargs="+", default=None, metavar="H",
                   help="mlp hidden widths, encoder order (default: 512 256)")
    p.add_argument("--activation", choices=ACTIVATIONS, default=None,
                   help="activation of the hidden layers (default: silu for the VAE, relu for the AE and DAE)")
    p.add_argument("--flow-steps", type=non_negative_int, default=None, metavar="K",
                   help="inverse autoregressive flow steps on the VAE's posterior; 0 for a plain diagonal "
                        "Gaussian (default: 2 at latent size 2, else 0)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="epochs per model (default: the shipped recipe's, per dataset and kind: "
                        + "; ".join(f"{dataset_title(ds)}: " + ", ".join(f"{kind_label(k)} {RECIPES[ds][k][0]}" for k in KINDS)
                                    for ds in DATASETS) + "; MNIST keeps its best validation epoch)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="batch size (default: the recipe's: 256)")
    p.add_argument("--lr", type=positive_float, default=None,
                   help="Adam learning rate, decayed by a cosine to a tenth (default: the recipe's: 0.003 for the "
                        "VAE, 0.002 for the AE and DAE)")
    p.add_argument("--precision", choices=["auto", "float32", "bfloat16"], default="auto",
                   help="arithmetic of the matrix products while training (weights stay float32): auto = bfloat16 "
                        "where the CPU or GPU multiplies it natively (Intel AMX / AVX-512 BF16, recent CUDA GPUs), "
                        "else float32 (default: auto)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="random seed; same seed, same result on one machine (default: 0)")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA or MPS when present, else CPU), cpu, cuda, cuda:N or mps (default: auto)")
    p.add_argument("--out", type=Path, default=Path("checkpoints"), help="output folder (default: checkpoints)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder holding the IDX .gz files (default: $LATENT_EXPLORER_DATA, data/<dataset>/, "
                        "/usr/share/datasets/fashion-mnist, then the download cache)")
    p.add_argument("--download", action="store_true",
                   help="download missing datasets from the canonical mirrors into the cache (needs internet)")
    p.add_argument("--resume", action="store_true",
                   help="continue interrupted runs from their last completed epoch and skip finished checkpoints "
                        "(default: off: every run starts over)")
    p.add_argument("--jobs", type=positive_int, default=None, metavar="N",
                   help="models trained at once, each in its own process with its share of the cores; more than "
                        "one turns the progress bars off (default: 2 on a CPU with 2 cores or more, else 1; 1 for "
                        "--set seeds, whose convolutions use the cores better one model at a time)")
    p.add_argument("--classifiers", action="store_true",
                   help="train the small image classifiers the app reads decoded images with (one per --dataset, "
                        "into <out>/classifiers/; about a minute or two each on 2 CPU cores) instead of autoencoders; "
                        "--epochs and --seed override their recipe")
    p.add_argument("--dry-run", action="store_true", help="list the runs that would be trained and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bars (one line per epoch is still printed)")
    return p


def pick_device(name: str) -> str:
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"train.py: error: --device {name}: CUDA is not available on this machine; use --device cpu")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise SystemExit("train.py: error: --device mps: MPS is not available on this machine; use --device cpu")
    if name != "cpu" and not name.startswith("cuda") and name != "mps":
        raise SystemExit(f"train.py: error: --device {name!r}: choose auto, cpu, cuda, cuda:N or mps")
    return name


def _stop_on_sigterm(signum, frame):
    # `kill` (a scheduler, a closed session) ends a sweep as Ctrl-C does: its workers are stopped with
    # it. Left to the default, the parent died alone and its workers trained on, unseen.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import signal

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    t0 = time.perf_counter()  # the sweep's wall time includes loading the data
    from explorer.io import line_buffered_stdout

    line_buffered_stdout()  # one line per epoch, shown as it is written

    from tqdm.auto import tqdm

    from explorer.checkpoints import CheckpointError, read_meta, recover_interrupted
    from explorer.data import DataError, load_dataset
    from explorer.io import check_writable
    from explorer.sweep import default_jobs, plan, run_all, seed_plan, threads_per_job
    from explorer.training import TrainingDiverged, fast_precision, same_settings

    if args.model_set == "seeds":
        given = [f"--{k.replace('_', '-')}" for k in ("latent_dims", "hidden", "activation", "flow_steps")
                 if getattr(args, k) is not None] + (["--arch"] if args.arch != "mlp" else [])
        if given:
            print(f"train.py: error: --set seeds trains the seeds' own networks; {', '.join(given)} do not apply to it",
                  file=sys.stderr)
            return 2
    datasets = DATASETS if args.dataset == "all" else (args.dataset,)
    kinds = KINDS if args.kind == "all" else (args.kind,)
    archs = ARCHS if args.arch == "all" else (args.arch,)
    device = pick_device(args.device)

    try:
        data = {ds: (load_dataset(ds, "train", data_dir=args.data_dir, download_missing=args.download),
                     load_dataset(ds, "test", data_dir=args.data_dir, download_missing=args.download))
                for ds in datasets}
    except DataError as e:
        print(f"train.py: {e}", file=sys.stderr)
        return 2
    for ds, (tr, te) in data.items():
        print(f"{ds}: {len(tr)} train / {len(te)} test images from {tr.source}")
    if args.classifiers:
        return train_classifiers(args, data, device)

    overrides = {k: v for k, v in {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                                   "seed": args.seed}.items() if v is not None}
    overrides["precision"] = fast_precision(device) if args.precision == "auto" else args.precision
    if args.model_set == "seeds":
        specs = seed_plan(datasets, kinds, overrides=overrides)
    else:
        specs = plan(datasets, kinds, args.latent_dims or LATENT_DIMS, archs, overrides=overrides,
                     hidden=tuple(args.hidden) if args.hidden else None, activation=args.activation,
                     flow_steps=args.flow_steps)
    if args.dry_run:
        for s in specs:
            warmup = f", KL warm-up {s.train.kl_warmup_epochs} epochs" if s.train.kl_warmup_epochs else ""
            flow = f", IAF {s.model.flow_steps} steps" if s.model.flow_steps else ""
            print(f"{s.id}: {s.train.epochs} epochs, batch {s.train.batch_size}, lr {s.train.lr}, "
                  f"{s.model.activation}{flow}, {s.train.precision}{warmup}")
        return 0

    try:
        check_writable(args.out)
    except OSError as e:
        print(f"train.py: cannot write to {args.out}: {e.strerror or e}. Choose another --out.", file=sys.stderr)
        return 2

    for line in recover_interrupted(args.out):
        print(f"{args.out}: {line}")
    todo = []
    for i, spec in enumerate(specs, 1):
        if args.resume and (args.out / spec.id).is_dir():
            try:
                meta = read_meta(args.out / spec.id)
                if meta.model_config == spec.model and same_settings(meta.train_config, spec.train):
                    print(f"[{i}/{len(specs)}] {spec.id}: already trained, skipped (--resume)")
                    continue
            except CheckpointError:
                pass  # broken: train it again
        todo.append((i, spec))
    # The seeds' convolutional networks train faster with every core on one model than with the cores
    # split between two (seed 000's VAE: an epoch in 30 s alone, in 120 s beside another, on 2 cores).
    default = 1 if args.model_set == "seeds" else default_jobs(device)
    jobs = min(args.jobs or default, max(1, len(todo)))
    if jobs > 1:
        print(f"training {len(todo)} models, {jobs} at a time, {threads_per_job(jobs)} thread"
              f"{'s' if threads_per_job(jobs) > 1 else ''} each")
    failures = 0
    timings = {}
    outcomes = run_all(todo, len(specs), data, args.out, device=device, resume=args.resume, jobs=jobs,
                       progress=None if args.quiet else tqdm, log=lambda m: tqdm.write(m))
    with contextlib.closing(outcomes):  # a generator: closing it stops the workers
        try:
            for o in outcomes:
                if o.error is None:
                    timings[o.index] = o.timing
                elif isinstance(o.error, TrainingDiverged):
                    print(f"train.py: {o.error}", file=sys.stderr)
                    failures += 1
                elif isinstance(o.error, OSError):
                    print(f"train.py: could not write {o.spec.id} to {args.out}: {o.error.strerror or o.error}. "
                          "Nothing half-written was left; free some space or choose another --out.", file=sys.stderr)
                    return 1
                else:  # ValueError: a resume state saved with other settings
                    print(f"train.py: {o.error}", file=sys.stderr)
                    return 2
        except KeyboardInterrupt:
            print("\ntrain.py: interrupted. Finished checkpoints are intact; continue with the same command "
                  "and --resume.", file=sys.stderr)
            return 130
    wall = time.perf_counter() - t0
    print(f"done: {len(specs) - failures}/{len(specs)} models in {wall:.0f}s -> {args.out}")
    if not failures and timings:
        record_sweep(args.out, argv, wall, [timings[i] for i in sorted(timings)], device, jobs,
                     name="sweep-seeds.json" if args.model_set == "seeds" else "sweep.json")
    return 1 if failures else 0


def train_classifiers(args: argparse.Namespace, data: dict, device: str) -> int:
    """``--classifiers``: one reading classifier per dataset, written atomically to <out>/classifiers/<dataset>."""
    import dataclasses

    from explorer import classifier
    from explorer.io import check_writable
    from explorer.training import fast_precision

    if device != "cpu":
        print(f"train.py: --classifiers trains on the CPU (they take a minute or two); --device {args.device} is ignored")
    precision = fast_precision("cpu") if args.precision == "auto" else args.precision
    recipes = {ds: dataclasses.replace(classifier.RECIPES[ds], **{k: v for k, v in {
        "epochs": args.epochs, "seed": args.seed, "batch_size": args.batch_size, "lr": args.lr}.items()
        if v is not None}) for ds in data}
    if args.dry_run:
        for ds, r in recipes.items():
            print(f"classifier {ds}: {r.epochs} epochs, batch {r.batch_size}, lr {r.lr}, shift ±{r.shift} px, "
                  f"width {r.width}, {precision}")
        return 0
    try:
        check_writable(args.out / classifier.FOLDER)
    except OSError as e:
        print(f"train.py: cannot write to {args.out}: {e.strerror or e}. Choose another --out.", file=sys.stderr)
        return 2
    for ds, (tr, te) in data.items():
        try:
            net, meta = classifier.train(tr, te, recipes[ds], precision=precision)
            saved = classifier.save(classifier.folder_of(args.out, ds), net, meta)
        except KeyboardInterrupt:
            print("\ntrain.py: interrupted; the classifiers already written are intact.", file=sys.stderr)
            return 130
        except OSError as e:
            print(f"train.py: could not write the {ds} classifier to {args.out}: {e.strerror or e}. Nothing "
                  "half-written was left; free some space or choose another --out.", file=sys.stderr)
            return 1
        print(f"classifier {ds}: test accuracy {saved.test_accuracy * 100:.2f} % of {saved.test_count:,} "
              f"(stored weights), {saved.seconds:.0f} s -> {classifier.folder_of(args.out, ds)}")
    return 0


def record_sweep(out: Path, argv: list[str] | None, wall: float, timings: list[dict], device: str, jobs: int,
                 name: str = "sweep.json") -> None:
    """Keep how long this sweep took (the report quotes it) in ``<out>/<name>``: sweep.json for the
    default sweep, sweep-seeds.json for ``--set seeds``."""
    import platform

    import torch

    from explorer.io import write_json
    from explorer.sweep import cpu_cores, threads_per_job

    write_json(out / name, {
        "command": "python train.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "wall_seconds": wall, "models": timings, "device": device,
        "cpu_count": cpu_cores(), "jobs": jobs,
        "torch_threads": threads_per_job(jobs) if jobs > 1 else torch.get_num_threads(),
        "machine": platform.machine(), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })


if __name__ == "__main__":
    sys.exit(main())
