"""The training sweep: which runs make up the shipped set, and one run from data to checkpoint.

``default_recipe`` holds the settings of every shipped model; ``plan`` expands a choice of
datasets × kinds × latent sizes × architectures into ``RunSpec``s, applying the user's
overrides; ``run`` trains one spec and writes its checkpoint (codes and maps included).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .checkpoints import checkpoint_id, rounded_like_saved, save_checkpoint
from .config import RECIPES
from .data import Dataset
from .io import line_buffered_stdout
from .metadata import CheckpointMeta
from .models import ModelConfig, build_model
from .noise import NoiseConfig
from .projections import maps_for
from .training import TrainConfig, TrainingDiverged, evaluate, fit, to_floats

MAP_SAMPLE = 5000   # test images whose codes and maps each checkpoint carries
MAP_SEED = 0
RESUME_DIR = ".resume"
FLOW_STEPS_AT_Z2 = 2  # IAF steps of the shipped VAEs with latent size 2 (see default_model)
TEST_EVERY = 5        # epochs between measurements of the test set (and the last epoch)


@dataclass(frozen=True)
class RunSpec:
    dataset: str
    model: ModelConfig
    train: TrainConfig

    @property
    def id(self) -> str:
        return checkpoint_id(self.dataset, self.model.kind, self.model.architecture, self.model.latent_dim)


def default_recipe(dataset: str, kind: str) -> TrainConfig:
    """The settings the shipped checkpoints were trained with (precision is left at float32
    here; ``train.py --precision auto``, its default, picks bfloat16 where the hardware has it).

    The whole sweep must fit in 20 minutes on two CPU cores, so epochs go where the report's
    targets need them: most to the VAE, whose ELBO is held to a target. Batches of 256 at twice
    the learning rate did as well as batches of 128 per second of training. The VAE's KL weight
    warms up over its first 10 epochs (Bowman et al. 2016; Sønderby et al. 2016): it lowered the
    test -ELBO at every latent size tried and costs nothing. Both datasets have 60,000 training
    images and a fixed number of epochs with cosine decay; the test set chooses nothing, so it
    is measured every ``TEST_EVERY`` epochs only.
    MNIST holds 10 % of its training digits out: the epoch kept, and the epochs and learning
    rates below, were chosen on them. Fashion-MNIST keeps its last epoch.
    The comparisons behind each choice, with the commands that print them, are in
    docs/experiments/README.md; the sweep's time is in docs/RESULTS.md.
    """
    noise = NoiseConfig() if kind == "dae" else None
    warmup = 10 if kind == "vae" else 0
    epochs, batch, lr = RECIPES[dataset][kind]
    return TrainConfig(epochs=epochs, batch_size=batch, lr=lr, noise=noise, kl_warmup_epochs=warmup,
                       val_fraction=0.1 if dataset == "mnist" else 0.0, test_every=TEST_EVERY)


def default_model(kind: str, arch: str, latent_dim: int, hidden: tuple[int, ...] | None = None) -> ModelConfig:
    """The network of a shipped model: 784-512-256-z and its mirror. The VAE uses SiLU, which
    gave a lower test -ELBO than ReLU; the AE and DAE keep ReLU, which meets their targets.

    The VAE with latent size 2 also reshapes its posterior with two IAF steps
    (``ModelConfig.flow_steps``): a 2-D posterior is where a diagonal Gaussian fits worst, and
    at larger sizes the flow was no help (docs/experiments/README.md).
    """
    cfg = ModelConfig(kind=kind, arch=arch, latent_dim=latent_dim, activation="silu" if kind == "vae" else "relu",
                      flow_steps=FLOW_STEPS_AT_Z2 if kind == "vae" and latent_dim == 2 else 0)
    return dataclasses.replace(cfg, hidden=hidden) if hidden else cfg


def plan(datasets, kinds, latent_dims, archs=("mlp",), *,
         overrides: dict | None = None, hidden: tuple[int, ...] | None = None,
         activation: str | None = None, flow_steps: int | None = None) -> list[RunSpec]:
    """Every run of the sweep; ``overrides`` replace TrainConfig fields (epochs, lr, …);
    ``flow_steps`` replaces the VAEs' (the AE and DAE have no posterior to reshape)."""
    specs = []
    for ds in datasets:
        for arch in archs:
            for kind in kinds:
                for z in latent_dims:
                    train = default_recipe(ds, kind)
                    if overrides:
                        train = dataclasses.replace(train, **overrides)
                    mcfg = default_model(kind, arch, z, hidden)
                    if activation:
                        mcfg = dataclasses.replace(mcfg, activation=activation)
                    if flow_steps is not None and kind == "vae":
                        mcfg = dataclasses.replace(mcfg, flow_steps=flow_steps)
                    specs.append(RunSpec(ds, mcfg, train))
    return specs


def seed_plan(datasets=None, kinds=None, *, overrides: dict | None = None) -> list[RunSpec]:
    """``train.py --set seeds``: the course documents' networks (``explorer.seeds.SEED_RUNS``), with
    their own epochs, batch sizes and learning rates; ``datasets`` and ``kinds`` filter them,
    ``overrides`` replace TrainConfig fields as in ``plan``. No KL warm-up and no held-out
    validation: the seeds trained on all 60,000 images and report their last epoch."""
    from .seeds import SEED_RUNS

    specs = []
    for r in SEED_RUNS:
        if (datasets and r.dataset not in datasets) or (kinds and r.model.kind not in kinds):
            continue
        train = TrainConfig(epochs=r.epochs, batch_size=r.batch_size, lr=r.lr, test_every=TEST_EVERY)
        specs.append(RunSpec(r.dataset, r.model, dataclasses.replace(train, **overrides) if overrides else train))
    return specs


def map_indices(n_test: int, sample: int = MAP_SAMPLE, seed: int = MAP_SEED) -> np.ndarray:
    """The fixed sample of test images whose codes are stored (sorted indices)."""
    perm = np.random.default_rng(seed).permutation(n_test)
    return np.sort(perm[: min(sample, n_test)])


@torch.inference_mode()
def encode_all(model, images_u8: torch.Tensor, batch_size: int = 2000) -> np.ndarray:
    """Deterministic codes (VAE: mu) of uint8 images (N, 28, 28) -> float32 (N, latent_dim)."""
    model.eval()
    out = [model.embed(to_floats(images_u8[i: i + batch_size])) for i in range(0, images_u8.shape[0], batch_size)]
    return torch.cat(out).numpy().astype(np.float32)


def run(spec: RunSpec, train: Dataset, test: Dataset, out: Path, *, device: str = "cpu", resume: bool = False,
        progress=None, log: Callable[[str], None] = print) -> CheckpointMeta:
    """Train one spec and write its checkpoint folder ``out/<id>``; returns its metadata."""
    out = Path(out)
    torch.manual_seed(spec.train.seed)
    model = build_model(spec.model)
    state_path = out / RESUME_DIR / f"{spec.id}.safetensors"
    result = fit(model, train.images, test.images, spec.train, device=device, state_path=state_path,
                 resume=resume, progress=progress, log=log, label=f"[{spec.id}] ")
    model.to("cpu")
    float32_metrics = evaluate(model, test.images)
    rounded_like_saved(model)
    test_metrics = evaluate(model, test.images)

    t0 = time.perf_counter()
    idx = map_indices(len(test))
    # Codes are stored as float16 (half the bytes; ~3 significant digits is plenty for maps,
    # neighbours and anchors). The maps are computed from the stored codes: t-SNE magnifies the
    # last-bit differences that the encoder's thread count makes, so only then is a map the same
    # for the same checkpoint however many threads or jobs wrote it.
    codes = encode_all(model, test.images[idx]).astype(np.float16)
    maps = maps_for(codes.astype(np.float32), seed=MAP_SEED, n_jobs=torch.get_num_threads())
    projection_seconds = time.perf_counter() - t0
    arrays = {"codes": codes, "labels": test.labels[idx].numpy().astype(np.uint8),
              "indices": idx.astype(np.int32), **{f"map_{k}": v for k, v in maps.items()}}
    meta = {
        "id": spec.id,
        "dataset": {"name": train.name, "source": train.source, "full": True,
                    "train_count": len(train), "test_count": len(test),
                    "class_names": list(train.class_names)},
        "train_config": spec.train.to_dict(),
        "seed": spec.train.seed,
        "epochs": spec.train.epochs,
        "best_epoch": result.best_epoch,
        "optimizer": {"name": "Adam", "lr": spec.train.lr, "weight_decay": spec.train.weight_decay,
                      "batch_size": spec.train.batch_size, "schedule": "cosine",
                      "lr_final_fraction": spec.train.lr_final_fraction},
        "history": result.history,
        "test_metrics": test_metrics,
        "test_metrics_float32": float32_metrics,  # before the weights were rounded for storage
        "train_seconds": result.seconds,
        "projection_seconds": projection_seconds,
        "device": str(device),
        "maps": sorted(maps),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    saved = save_checkpoint(out / spec.id, model, meta, arrays)
    state_path.unlink(missing_ok=True)
    if state_path.parent.is_dir() and not any(state_path.parent.iterdir()):
        state_path.parent.rmdir()
    log(f"[{spec.id}] saved: test loss {test_metrics['loss']:.2f} nats (recon {test_metrics['recon']:.2f} + "
        f"kl {test_metrics['kl']:.2f}), psnr {test_metrics['psnr']:.2f} dB, best epoch {result.best_epoch}, "
        f"train {result.seconds:.0f}s, maps {projection_seconds:.1f}s")
    return saved


# --- Several runs at once ------------------------------------------------------------------
# On a CPU, two processes with one thread each train these small networks faster than one
# process with two threads, and the t-SNE of one run overlaps the training of another
# (docs/BENCHMARKS.md: the sweep's time with --jobs 1 and 2).


def cpu_cores() -> int:
    """Cores this process may run on (the affinity mask where there is one, as in containers)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def default_jobs(device: str, cores: int | None = None) -> int:
    """Runs at once when the user does not say: two on a CPU with two cores or more, else one
    (a GPU is kept busy by one run)."""
    return min(2, cores or cpu_cores()) if device == "cpu" else 1


def threads_per_job(jobs: int, cores: int | None = None) -> int:
    return max(1, (cores or cpu_cores()) // jobs)


def multiply_adds(cfg: ModelConfig) -> int:
    """Multiply-adds of one image through the encoder and decoder (linear and convolution layers)."""
    model = build_model(cfg).float()
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Linear):
            total += module.in_features * module.out_features
        elif isinstance(module, torch.nn.Conv2d):
            total += output.shape[-2] * output.shape[-1] * module.weight.numel()
        elif isinstance(module, torch.nn.ConvTranspose2d):
            total += inputs[0].shape[-2] * inputs[0].shape[-1] * module.weight.numel()

    hooks = [m.register_forward_hook(count) for m in model.modules()]
    with torch.inference_mode():
        model.loss_parts(torch.zeros(1, 1, 28, 28), torch.zeros(1, 1, 28, 28))
    for h in hooks:
        h.remove()
    return total


def estimated_cost(spec: RunSpec, n_train: int, n_test: int) -> float:
    """Rough relative cost of a run, used only to start the longest runs first so that the workers
    finish together: the images passed through training weighted by the network's arithmetic (a
    fixed cost per image stands for the data's handling, which dominates small networks), plus the
    map. Relative to the sweep's 512-256 MLP, whose unit this keeps."""
    per_image = (multiply_adds(spec.model) + 2e6) / (multiply_adds(default_model(spec.model.kind, "mlp", 2)) + 2e6)
    return spec.train.epochs * n_train * per_image + 40 * min(MAP_SAMPLE, n_test)


@dataclass
class Outcome:
    """What became of one run: its timings, or the error that stopped it."""
    index: int               # 1-based position in the plan
    spec: RunSpec
    timing: dict | None = None
    error: BaseException | None = None


def _run_one(index: int, total: int, spec: RunSpec, data: dict[str, tuple[Dataset, Dataset]], out: Path,
             device: str, resume: bool, progress, log: Callable[[str], None]) -> Outcome:
    log(f"[{index}/{total}] {spec.id}")
    tr, te = data[spec.dataset]
    t0 = time.perf_counter()
    try:
        meta = run(spec, tr, te, out, device=device, resume=resume, progress=progress, log=log)
    except (TrainingDiverged, ValueError, OSError) as e:  # ValueError: a resume state from other settings
        return Outcome(index, spec, error=e)
    return Outcome(index, spec, timing={"id": spec.id, "wall_seconds": time.perf_counter() - t0,
                                        "train_seconds": meta.train_seconds,
                                        "projection_seconds": meta.projection_seconds})


_WORKER: dict = {}


def _worker_init(data: dict, out: Path, device: str, resume: bool, threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which stops the workers
    torch.set_num_threads(threads)
    line_buffered_stdout()
    _WORKER.update(data=data, out=out, device=device, resume=resume)


def _worker_run(job: tuple[int, int, RunSpec]) -> Outcome:
    index, total, spec = job
    w = _WORKER
    return _run_one(index, total, spec, w["data"], w["out"], w["device"], w["resume"], None, print)


def run_all(todo: list[tuple[int, RunSpec]], total: int, data: dict[str, tuple[Dataset, Dataset]], out: Path, *,
            device: str = "cpu", resume: bool = False, jobs: int = 1, progress=None,
            log: Callable[[str], None] = print) -> Generator[Outcome, None, None]:
    """Train ``todo`` (plan position, spec) and yield each run's ``Outcome`` as it finishes.

    ``jobs`` > 1 trains that many at once in worker processes, each with its share of the
    cores' threads, longest runs first; progress bars are then off (one line per epoch is
    still printed). A KeyboardInterrupt stops every worker: finished checkpoints stay intact,
    and an interrupted run continues from its last saved epoch with ``resume=True``.
    """
    jobs = max(1, min(jobs, len(todo)))
    if jobs == 1:
        for index, spec in todo:
            yield _run_one(index, total, spec, data, out, device, resume, progress, log)
        return
    order = sorted(todo, key=lambda t: -estimated_cost(t[1], len(data[t[1].dataset][0]), len(data[t[1].dataset][1])))
    # spawn, not fork: a forked child inherits the parent's OpenMP thread pool in an unusable state.
    ctx = multiprocessing.get_context("spawn")
    pool = ctx.Pool(jobs, initializer=_worker_init,
                    initargs=(data, Path(out), device, resume, threads_per_job(jobs)))
    try:
        yield from pool.imap_unordered(_worker_run, [(i, total, spec) for i, spec in order], chunksize=1)
        pool.close()
    finally:
        pool.terminate()
        pool.join()
