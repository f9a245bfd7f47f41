"""``python -m explorer.verify [FOLDER ...]``: check every checkpoint in a folder and say what is wrong.

Exits 0 when every entry loads, 1 when any is broken, 2 when a folder does not exist.
"""

import sys

from .checkpoints import main

if __name__ == "__main__":
    sys.exit(main())
