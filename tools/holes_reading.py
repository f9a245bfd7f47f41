"""Does the classifier's reading show an autoencoder's holes? For each 2-D model of the sweep's
network, the latent grid as the app draws it (dimensions 0 and 1, automatic range, 30 × 30),
the share of tiles read with ≥ 90 % confidence in the plane's holes (no stored test code within
one grid spacing: the Lessons page's measure) and elsewhere.

    python -m tools.holes_reading [--checkpoints checkpoints]
"""

from __future__ import annotations

import os
import sys

N = 30  # tiles per side, the grid's finest


def main(argv=None) -> int:
    from tools.common import tool_parser

    args = tool_parser("holes_reading", __doc__, "checkpoint folder").parse_args(argv)
    os.environ["LATENT_EXPLORER_CHECKPOINTS"] = str(args.checkpoints.resolve())
    from explorer.classifier import CONFIDENT
    from explorer.ui import lesson_data, loaders

    cat = loaders.catalog()
    for e in sorted((e for e in cat.good if e.meta.latent_dim == 2 and e.meta.architecture == "mlp"),
                    key=lambda e: (e.meta.dataset.name, e.meta.kind)):
        extent = loaders.grid_extent(e, "dims", 0, 1, None)
        reading = loaders.grid_reading(e, "dims", 0, 1, None, N, extent, "even")
        if reading is None:
            print(f"{e.id}: no classifier ({loaders.reader_problem(e.meta.dataset.name)})")
            continue
        hole = lesson_data.empty_points(loaders.codes(e)["codes"], N, extent)
        sure = reading.confidence >= CONFIDENT
        in_holes = f"{sure[hole].mean() * 100:.0f} %" if hole.any() else "—"
        print(f"{e.id}: range ±{extent:g}, holes {hole.mean() * 100:.0f} % of the tiles; read with ≥ "
              f"{CONFIDENT * 100:.0f} % confidence: in the holes {in_holes}, elsewhere {sure[~hole].mean() * 100:.0f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
