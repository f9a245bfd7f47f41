"""What the Anomalies page's scores cost: computed on first use, read back from the store, or
shipped in each checkpoint?

    python -m tools.anomaly_bench [--checkpoints checkpoints]

Times, on this machine, what the page computes for a model the first time it is shown
(``explorer.ui.loaders.anomaly_scores`` and the default corruption): each dataset's PNG lengths
(once per dataset, shared by its models) and each model's scores of its 10,000 reference
training images, its test images, the other dataset's and the noisy test images; then how long
reading them back from the store takes (``anomaly.load_stored``, what every later server start
does), and what shipping them in every checkpoint would add to ``checkpoints/``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from explorer import anomaly
from explorer.checkpoints import load_checkpoint, usable_checkpoints
from explorer.data import load_dataset
from explorer.vocab import KIND_LABELS


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", type=Path, default=Path("checkpoints"),
                   help="folder of checkpoints to time (default: checkpoints)")
    args = p.parse_args(argv)
    entries = usable_checkpoints(args.checkpoints)
    if not entries:
        print(f"no usable checkpoints in {args.checkpoints}", file=sys.stderr)
        return 1
    sets: dict[str, dict[str, np.ndarray]] = {}
    for name in sorted({e.meta.dataset.name for e in entries} | {anomaly.other_dataset(e.meta.dataset.name) for e in entries}):
        t0 = time.perf_counter()
        ref = anomaly.reference_images(load_dataset(name, "train").images.numpy())
        test = load_dataset(name, "test").images.numpy()
        noisy = anomaly.corrupt_all(test, *anomaly.REPORT_NOISE)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        for images in (ref, test, noisy):
            anomaly.complexity_bits(images)
        print(f"{name}: data {t_load:.1f} s; PNG lengths of {len(ref) + len(test) + len(noisy):,} images "
              f"{time.perf_counter() - t0:.1f} s (once per dataset)")
        sets[name] = {"reference": ref, "test": test, "noisy": noisy}
    per_kind: dict[str, list[float]] = {}
    stored = 0
    store = tempfile.TemporaryDirectory()
    os.environ["LATENT_EXPLORER_CACHE"] = store.name  # the bench's own store, not the user's
    read_back: list[float] = []
    for e in entries:
        own, other = e.meta.dataset.name, anomaly.other_dataset(e.meta.dataset.name)
        model = load_checkpoint(e.path).model.eval()
        images = [sets[own]["reference"], sets[own]["test"], sets[other]["test"], sets[own]["noisy"]]
        t0 = time.perf_counter()
        computed = [anomaly.scores(model, x) for x in images]
        seconds = time.perf_counter() - t0
        for k, values in enumerate(computed):
            anomaly.save_stored(f"{e.id}-{k}", values)
        t0 = time.perf_counter()
        for k, values in enumerate(computed):
            assert anomaly.load_stored(f"{e.id}-{k}", len(values)) is not None
        read_back.append(time.perf_counter() - t0)
        per_kind.setdefault(e.meta.kind, []).append(seconds)
        stored += 4 * sum(len(x) for x in images)
        print(f"  {e.id}: scores of {sum(len(x) for x in images):,} images {seconds:.2f} s")
    for kind, times in per_kind.items():
        print(f"{KIND_LABELS.get(kind, kind)}: median {statistics.median(times):.2f} s per model (max {max(times):.2f} s)")
    total = sum(sum(t) for t in per_kind.values())
    print(f"all {len(entries)} models: {total:.0f} s of scoring on first use (the server's warm-up does it in the "
          f"background, once per machine); read back from the store: {sum(read_back) * 1000:.0f} ms in all "
          f"(median {statistics.median(read_back) * 1000:.1f} ms a model); shipped instead: "
          f"{stored / 2**20:.1f} MB more in checkpoints/")
    store.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
