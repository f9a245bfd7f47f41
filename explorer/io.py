"""Atomic file writes: write a temporary file beside the target, then rename it over.

A crash, Ctrl-C or SIGKILL at any moment leaves either the old file or the new one, never
a half-written one; a failed write removes its temporary file.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a checkpoint or dataset is for everyone to read
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and prove a file can be written in it; raises OSError if not.
    Long jobs call this first, so a bad output folder fails before the work, not after."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / ".write-test"
    probe.write_bytes(b"")
    probe.unlink()


def line_buffered_stdout() -> None:
    """Write stdout a whole line at a time, also into a pipe (``train.py | tee log``), so that
    progress shows as it happens and two processes' lines do not mix. A stand-in for stdout
    that is no text stream (some captures) is left alone."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)


def write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def sha256_file(path: Path, *, decompress: bool = False) -> str:
    """SHA-256 of a file's bytes, or of its gzip-decompressed content with ``decompress``."""
    h = hashlib.sha256()
    with (gzip.open if decompress else open)(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
