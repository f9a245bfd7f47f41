"""How much each shipped model uses each latent dimension, and how many it leaves unused.

    python -m tools.dimensions [--checkpoints checkpoints]

For every checkpoint, over its stored test images (the codes the app shows): a VAE's average KL
per dimension from the prior, in nats, and the dimensions under 0.01 nats (unused); an AE's, a
DAE's, or a flow VAE's variance of the codes per dimension (``explorer.traversal``). These are the
figures the Interpolate page's "Walk each dimension" labels its rows with.
"""

from __future__ import annotations

import sys

import numpy as np

from explorer.checkpoints import load_checkpoint, usable_checkpoints
from explorer.data import DataError, load_dataset
from explorer.traversal import UNUSED_KL, model_usage
from explorer.vocab import dataset_title, kind_label
from tools.common import tool_parser


def main(argv: list[str] | None = None) -> int:
    args = tool_parser("dimensions", __doc__, "checkpoint folder to read").parse_args(argv)
    entries = usable_checkpoints(args.checkpoints)
    if not entries:
        print(f"no usable checkpoints in {args.checkpoints}", file=sys.stderr)
        return 1
    tests: dict[str, np.ndarray] = {}
    print(f"{'checkpoint':22} {'measure':9} {'unused':>9}   per dimension, most used first")
    for e in entries:
        name = e.meta.dataset.name
        if name not in tests:
            try:
                tests[name] = load_dataset(name, "test").images.numpy()
            except DataError as err:
                print(f"{e.id}: {err}", file=sys.stderr)
                return 1
        ck = load_checkpoint(e.path)
        c = ck.codes()
        u = model_usage(ck.model, e.meta.kind, c["codes"], tests[name][c["indices"]].astype(np.float32) / 255.0)
        unused = f"{int(u.unused.sum())} of {e.meta.latent_dim}" if u.measure == "KL" else "–"
        values = " ".join(f"{u.values[d]:.2f}" for d in u.order)
        print(f"{e.id:22} {u.measure:9} {unused:>9}   {values}")
    print(f"\nunused: a VAE's dimensions whose average KL is under {UNUSED_KL} nats "
          f"({', '.join(sorted({f'{dataset_title(n)}' for n in tests}))}; kinds: "
          f"{', '.join(sorted({kind_label(e.meta.kind) for e in entries}))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
