"""The training loop. It does not know which model it trains: every model returns the same
loss parts (``recon`` and ``kl``, nats per image) and the loop weighs them.

Data stay in memory as uint8 tensors; a batch is an index slice turned into floats, with
no per-item Python work. A ``torch.Generator`` seeded from ``TrainConfig.seed`` drives the
shuffling, the augmentation, the DAE's corruption and the VAE's sampling, and its state is
saved with every epoch, so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .config import ModelConfig, validation_size
from .io import atomic_path
from .losses import mean_psnr_of_mse, mse_per_pixel
from .models import VAE, Autoencoder
from .noise import NoiseConfig, corrupt

PRECISIONS = ("float32", "bfloat16")
# Saving the resume state (weights, best weights, Adam's moments; fsync'd) after every epoch
# cost minutes of the default sweep, whose MNIST runs have epochs far shorter than a save;
# every 30 s bounds what a crash can cost instead.
SAVE_EVERY_S = 30.0
EVAL_SEED = 1234  # the VAE's test ELBO uses one sample of z, drawn from this fixed seed


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    lr_final_fraction: float = 0.1   # cosine decay from lr to lr * this over the epochs
    weight_decay: float = 0.0
    beta: float = 1.0                # VAE: weight of the KL term
    kl_warmup_epochs: int = 0        # VAE: beta ramps linearly from 0 over these epochs
    shift_pixels: int = 0            # augmentation: random shifts of up to this many pixels
    val_fraction: float = 0.0        # > 0: hold out this share of train to pick the best epoch
    test_every: int = 1              # the test set is measured every this many epochs (and the last)
    noise: NoiseConfig | None = None # DAE: how inputs are corrupted
    precision: str = "float32"       # "bfloat16": matrix products in bfloat16 (autocast), weights float32
    seed: int = 0

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["noise"] = self.noise.to_dict() if self.noise else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        if d.get("noise"):
            d["noise"] = NoiseConfig.from_dict(d["noise"])
        return cls(**d)

    def lr_at(self, epoch: int) -> float:
        """Learning rate for 0-based ``epoch`` (cosine from lr to lr * lr_final_fraction)."""
        if self.epochs <= 1:
            return self.lr
        t = epoch / (self.epochs - 1)
        lo = self.lr * self.lr_final_fraction
        return lo + (self.lr - lo) * 0.5 * (1 + math.cos(math.pi * t))

    def beta_at(self, epoch: int) -> float:
        if self.kl_warmup_epochs <= 0:
            return self.beta
        return self.beta * min(1.0, (epoch + 1) / (self.kl_warmup_epochs + 1))


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux reports them (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def fast_precision(device: str | torch.device = "cpu") -> str:
    """The precision ``fit`` trains fastest in on this machine, for ``--precision auto``.

    bfloat16 where the hardware multiplies it natively: CPUs with AMX or AVX-512 BF16 (faster
    epochs for the same test loss: ``python -m tools.experiments --variants baseline float32``
    compares the two), and CUDA GPUs that support it. float32 everywhere else, where bfloat16
    would be emulated.
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported(including_emulation=False) else "float32"
    if dev.type == "cpu" and {"amx_bf16", "avx512_bf16"} & cpu_flags():
        return "bfloat16"
    return "float32"


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0
    completed: bool = False


# --------------------------------------------------------------------------- helpers

def to_floats(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in [0, 1]."""
    return images_u8.unsqueeze(1).float().div_(255.0)


def random_shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Shift each image by its own random integer offset in [-max_shift, max_shift]²."""
    n = x.shape[0]
    s = max_shift
    padded = torch.nn.functional.pad(x, (s, s, s, s))  # (N, 1, 28+2s, 28+2s)
    dy = torch.randint(0, 2 * s + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * s + 1, (n,), generator=gen)
    ar = torch.arange(28)
    rows = (dy[:, None] + ar[None, :])[:, :, None]   # (N, 28, 1)
    cols = (dx[:, None] + ar[None, :])[:, None, :]   # (N, 1, 28)
    return padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)


def split_validation(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, val) of a fixed random split of ``n`` items."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 7919))
    n_val = validation_size(n, fraction)
    return perm[n_val:], perm[:n_val]


@torch.inference_mode()
def evaluate(model: Autoencoder, images_u8: torch.Tensor, *, batch_size: int = 1000,
             device: str | torch.device = "cpu") -> dict:
    """Test metrics of ``model`` on uint8 images, averaged per image.

    recon, kl, loss (= recon + kl, the negative ELBO for a VAE) in nats; mse per pixel
    and psnr (dB) of the deterministic reconstruction.
    """
    model.eval()
    gen = torch.Generator(device="cpu").manual_seed(EVAL_SEED)
    sums = {"recon": 0.0, "kl": 0.0, "mse": 0.0}
    n = images_u8.shape[0]
    for i in range(0, n, batch_size):
        x = to_floats(images_u8[i: i + batch_size]).to(device)
        parts = model.loss_parts(x, x, gen)
        sums["recon"] += parts["recon"].sum().item()
        sums["kl"] += parts["kl"].sum().item()
        # the AE's loss came from its one deterministic reconstruction: reuse it, no second pass
        recon_x = torch.sigmoid(parts["logits"]) if "logits" in parts else model.reconstruct(x)
        sums["mse"] += mse_per_pixel(recon_x, x).sum().item()
    out = {k: v / n for k, v in sums.items()}
    out["loss"] = out["recon"] + out["kl"]
    out["psnr"] = mean_psnr_of_mse(out["mse"])
    return out


# --------------------------------------------------------------------------- resume state

def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict, dict]:
    sd = opt.state_dict()
    tensors = {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            # contiguous: a channels-last weight's Adam moments are channels-last too, which safetensors refuses
            tensors[f"opt.{pid}.{k}"] = v.contiguous() if torch.is_tensor(v) else torch.tensor(v)
    return tensors, {"param_groups": sd["param_groups"]}


def _unflatten_optimizer(tensors: dict, meta: dict) -> dict:
    state: dict[int, dict] = {}
    for name, v in tensors.items():
        if name.startswith("opt."):
            _, pid, k = name.split(".", 2)
            state.setdefault(int(pid), {})[k] = v
    return {"state": state, "param_groups": meta["param_groups"]}


def save_state(path: Path, model, best_state: dict, opt, gen: torch.Generator, info: dict) -> None:
    """One file per run holds everything ``--resume`` needs; written atomically."""
    tensors = {f"model.{k}": v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"best.{k}": v.detach().clone().contiguous() for k, v in best_state.items()})
    opt_tensors, opt_meta = _flatten_optimizer(opt)
    tensors.update(opt_tensors)
    tensors["gen_state"] = gen.get_state()
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"info": json.dumps({**info, "optimizer": opt_meta})})


def same_settings(train_config: dict | None, cfg: TrainConfig, model_config: dict | None = None,
                  model_cfg: ModelConfig | None = None) -> bool:
    """Whether a recorded ``train_config`` (and ``model_config``, when both are given) are these
    training settings and this network. Fields added since the record was written count as
    their defaults; a record without a network (resume states before it was saved) is taken at
    its word."""
    if train_config is None:
        return False
    try:
        return (TrainConfig.from_dict(train_config) == cfg
                and (model_config is None or model_cfg is None or ModelConfig.from_dict(model_config) == model_cfg))
    except (KeyError, TypeError, ValueError):
        return False


def load_state(path: Path) -> tuple[dict, dict]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        info = json.loads(f.metadata()["info"])
    return load_file(str(path)), info


# --------------------------------------------------------------------------- the loop

def denormals_flushed() -> bool:
    """Whether the CPU currently flushes denormal floats to zero (torch has no getter)."""
    return torch.tensor([1e-39], dtype=torch.float32).mul(1.0).item() == 0.0


def flushing_denormals(train: Callable) -> Callable:
    """Run ``train`` with denormal floats flushed to zero, then restore the previous setting.

    Adam's second moments and some gradients decay into denormals after the first epoch; on
    x86 CPUs arithmetic on them is slow (every epoch after the first was markedly slower).
    Flushing changes nothing measurable in the results. The setting is the whole process's,
    so it is put back: other code (e.g. hypothesis) relies on IEEE subnormals.
    """
    @functools.wraps(train)
    def run(*args, **kwargs):
        before = denormals_flushed()
        torch.set_flush_denormal(True)
        try:
            return train(*args, **kwargs)
        finally:
            torch.set_flush_denormal(before)

    return run


@flushing_denormals
def fit(model: Autoencoder, train_images: torch.Tensor, test_images: torch.Tensor, cfg: TrainConfig, *,
        device: str | torch.device = "cpu", state_path: Path | None = None, resume: bool = False,
        progress: Callable[..., Any] | None = None, log: Callable[[str], None] = print,
        label: str = "", save_every_s: float = SAVE_EVERY_S) -> TrainResult:
    """Train ``model`` on uint8 images (N, 28, 28); returns the per-epoch history.

    When ``cfg.val_fraction`` > 0 the model keeps the weights of its best validation
    epoch; otherwise those of the last. With ``state_path``, the full training state is
    saved after the first epoch, then after any epoch that ends ``save_every_s`` seconds or
    more after the last save, and after the last epoch; ``resume=True`` continues from it.
    """
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    is_vae = isinstance(model, VAE)
    train_idx, val_idx = split_validation(train_images.shape[0], cfg.val_fraction, cfg.seed)
    train_u8 = train_images[train_idx].to(device)
    val_u8 = train_images[val_idx].to(device)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                           fused=(torch.device(device).type in ("cpu", "cuda")))
    result = TrainResult()
    best_score = math.inf
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    start_epoch = 0

    if resume and state_path is not None and state_path.is_file():
        tensors, info = load_state(state_path)
        if not same_settings(info.get("train_config"), cfg, info.get("model_config"), model.cfg):
            raise ValueError(f"{state_path}: saved with different training settings; "
                             "rerun without --resume to start over")
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        best_state = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
        opt.load_state_dict(_unflatten_optimizer(tensors, info["optimizer"]))
        gen.set_state(tensors["gen_state"])
        result.history = info["history"]
        result.best_epoch = info["best_epoch"]
        result.seconds = info["seconds"]
        best_score = info["best_score"]
        start_epoch = len(result.history)
        log(f"{label}resumed after epoch {start_epoch}")

    dev_type = torch.device(device).type
    mixed = cfg.precision == "bfloat16"
    last_save = None  # the first finished epoch is always saved
    n = train_u8.shape[0]
    steps = math.ceil(n / cfg.batch_size)
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        model.train()
        for group in opt.param_groups:
            group["lr"] = cfg.lr_at(epoch)
        beta = cfg.beta_at(epoch) if is_vae else 0.0
        perm = torch.randperm(n, generator=gen).to(device)
        run_recon = run_kl = 0.0
        bar = progress(total=steps, desc=f"{label}epoch {epoch + 1}/{cfg.epochs}", leave=False) if progress else None
        for step in range(steps):
            x = to_floats(train_u8[perm[step * cfg.batch_size: (step + 1) * cfg.batch_size]])
            if cfg.shift_pixels:
                x = random_shift(x, cfg.shift_pixels, gen)
            x_in = corrupt(x, cfg.noise, gen) if cfg.noise is not None else x
            with torch.autocast(device_type=dev_type, dtype=torch.bfloat16, enabled=mixed):
                parts = model.loss_parts(x_in, x, gen)
            recon, kl = parts["recon"].mean(), parts["kl"].mean()
            loss = recon + beta * kl
            if not torch.isfinite(loss):
                raise TrainingDiverged(f"{label}the loss became {loss.item()} in epoch {epoch + 1} "
                                       f"(batch {step + 1}); the last good checkpoint was kept. "
                                       "Try a lower --lr.")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            run_recon += recon.item()
            run_kl += kl.item()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{(run_recon + run_kl) / (step + 1):.2f}")
        if bar is not None:
            bar.close()
        train_seconds = time.perf_counter() - t0
        # The test set only measures (it chooses nothing), so it need not be measured every epoch.
        measured = (epoch + 1) % max(1, cfg.test_every) == 0 or epoch + 1 == cfg.epochs
        test = evaluate(model, test_images, device=device) if measured else None
        row = {"epoch": epoch + 1, "train_recon": run_recon / steps, "train_kl": run_kl / steps,
               "train_loss": (run_recon + run_kl) / steps, "beta": beta, "lr": cfg.lr_at(epoch),
               "seconds": train_seconds, **{f"test_{k}": v for k, v in (test or {}).items()}}
        if val_u8.shape[0]:
            val = evaluate(model, val_u8, device=device)
            row.update({f"val_{k}": v for k, v in val.items()})
            score = val["loss"]
        else:
            score = -epoch  # no validation: the last epoch is the one kept
        if score < best_score:
            best_score = score
            result.best_epoch = epoch + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        result.history.append(row)
        result.seconds += train_seconds
        measures = (f"test {test['loss']:.2f} (recon {test['recon']:.2f} + kl {test['kl']:.2f})  "
                    f"psnr {test['psnr']:.2f} dB  " if test else "")
        if "val_loss" in row:
            measures = f"val {row['val_loss']:.2f}  " + measures
        log(f"{label}epoch {epoch + 1}/{cfg.epochs}  train {row['train_loss']:.2f}  {measures}{train_seconds:.1f}s")
        due = (last_save is None or time.perf_counter() - last_save >= save_every_s
               or epoch + 1 == cfg.epochs)
        if state_path is not None and due:
            last_save = time.perf_counter()
            save_state(state_path, model, best_state, opt, gen, {
                "train_config": cfg.to_dict(), "model_config": model.cfg.to_dict(), "history": result.history,
                "best_epoch": result.best_epoch, "best_score": best_score, "seconds": result.seconds})
    model.load_state_dict(best_state)
    model.eval()
    result.completed = True
    return result
