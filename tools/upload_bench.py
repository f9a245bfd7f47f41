"""What a hostile upload costs the server: memory, time, and the other users' wait.

    python -m tools.upload_bench [--checkpoints checkpoints]

Writes the uploads a careless or hostile class would send (a 6,300 × 6,300 RGBA PNG of
151 KB, the largest images still accepted in each costly mode, a 48-megapixel JPEG) and
converts each in a fresh interpreter, as the denoising playground does
(``explorer.images.convert_upload``), printing for each: accepted or refused, seconds, and
the extra peak memory of the process (its peak resident size after the conversion less
before it). Targets (issue 18): any accepted upload ≤ 150 MB and ≤ 1 s.

Then four conversions at once, each repeated, in threads of one process beside a page
load (``AppTest`` of the latent map, in the same process, as the server would run it):
the page's median load time alone and during the conversions. Target: not doubled.
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tools.common import ROOT, tool_parser

MEMORY_TARGET_MB = 150.0
SECONDS_TARGET = 1.0

# The peak resident size is read from /proc (VmHWM), after resetting it: ``ru_maxrss`` keeps
# the peak of the parent process this one was forked from.
_MEASURE = """
import json, sys, time
from explorer.images import ImageRejected, convert_upload

def peak_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

data = open(sys.argv[1], "rb").read()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets VmHWM to the current resident size
before = peak_kb()
t0 = time.perf_counter()
try:
    convert_upload(data)
    accepted, message = True, ""
except ImageRejected as e:
    accepted, message = False, str(e)
seconds = time.perf_counter() - t0
after = peak_kb()
print(json.dumps({"accepted": accepted, "seconds": seconds, "extra_mb": (after - before) / 1024, "message": message}))
"""


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG", compress_level=9)
    return out.getvalue()


def _digit_like(side: int, mode: str) -> Image.Image:
    """A mostly uniform image of ``side``² pixels with a thick stroke: compresses to little."""
    img = Image.new("L", (side, side), 230)
    stroke = Image.new("L", (side // 8, side // 2), 20)
    img.paste(stroke, (side // 2 - side // 16, side // 4))
    if mode == "RGBA":
        rgba = img.convert("RGBA")
        rgba.putalpha(Image.new("L", (side, side), 255))
        return rgba
    if mode == "P":
        p = img.convert("P")
        p.info["transparency"] = 0
        return p
    if mode == "I;16":
        return Image.fromarray(np.asarray(img, dtype=np.uint16) * 257)
    return img.convert(mode)


def hostile_uploads(folder: Path) -> dict[str, Path]:
    """Write the uploads the benchmark and ``tests/test_uploads.py`` measure; name -> path."""
    from explorer.images import MAX_PIXELS

    folder.mkdir(parents=True, exist_ok=True)
    side = int(MAX_PIXELS ** 0.5)  # the largest square still accepted (other than JPEG)
    files = {
        "6300x6300 RGBA PNG (the issue's)": _png(_digit_like(6300, "RGBA")),
        f"{side}x{side} RGBA PNG": _png(_digit_like(side, "RGBA")),
        f"{side}x{side} palette PNG, transparent": _png(_digit_like(side, "P")),
        f"{side}x{side} 16-bit grey PNG": _png(_digit_like(side, "I;16")),
        f"{side}x{side} 1-bit BMP": None,
        f"{side}x{side} CMYK TIFF": None,
        f"{side}x{side} float TIFF": None,
        "8000x6000 JPEG": None,
    }
    bmp = io.BytesIO()
    _digit_like(side, "1").save(bmp, "BMP")
    files[f"{side}x{side} 1-bit BMP"] = bmp.getvalue()
    for mode in ("CMYK", "F"):
        tif = io.BytesIO()
        _digit_like(side, "L").convert(mode).save(tif, "TIFF", compression="tiff_deflate" if mode == "CMYK" else None)
        files[f"{side}x{side} {'CMYK' if mode == 'CMYK' else 'float'} TIFF"] = tif.getvalue()
    jpg = io.BytesIO()
    _digit_like(8000, "RGB").crop((0, 0, 8000, 6000)).save(jpg, "JPEG", quality=80)
    files["8000x6000 JPEG"] = jpg.getvalue()
    out = {}
    for k, (name, data) in enumerate(files.items()):
        path = folder / f"upload-{k}.{'jpg' if 'JPEG' in name else 'bmp' if 'BMP' in name else 'tif' if 'TIFF' in name else 'png'}"
        assert data is not None
        path.write_bytes(data)
        out[name] = path
    return out


def measure(path: Path) -> dict:
    """Convert one file in a fresh interpreter: accepted, seconds, extra_mb, message."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"measuring {path.name} failed: {done.stderr[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def page_load_seconds(checkpoints: Path, repeats: int = 5) -> list[float]:
    """Seconds of ``repeats`` fresh runs of the latent map page (``AppTest``, this process)."""
    import os

    from streamlit.testing.v1 import AppTest

    os.environ["LATENT_EXPLORER_CHECKPOINTS"] = str(checkpoints)
    times = []
    for _ in range(repeats):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        if at.exception:
            raise RuntimeError(f"the page failed: {at.exception[0].value}")
    return times


def four_at_once(checkpoints: Path, upload: bytes, repeats: int = 5) -> tuple[float, float]:
    """Median page-load seconds alone, and while four threads convert ``upload`` over and over."""
    from explorer.images import convert_upload

    page_load_seconds(checkpoints, 1)  # warm: caches filled, modules imported
    alone = statistics.median(page_load_seconds(checkpoints, repeats))
    stop = threading.Event()

    def convert_forever():
        while not stop.is_set():
            convert_upload(upload)

    threads = [threading.Thread(target=convert_forever, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        busy = statistics.median(page_load_seconds(checkpoints, repeats))
    finally:
        stop.set()
        for t in threads:
            t.join()
    return alone, busy


def main(argv=None) -> int:
    parser = tool_parser("upload_bench", __doc__, "the checkpoints the page load uses")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        uploads = hostile_uploads(Path(tmp))
        print(f"{'upload':44} {'size':>8} {'verdict':>9} {'seconds':>8} {'extra MB':>9}")
        worst, accepted = None, []
        for name, path in uploads.items():
            r = measure(path)
            accepted += [r] if r["accepted"] else []
            verdict = "accepted" if r["accepted"] else "refused"
            print(f"{name:44} {path.stat().st_size / 1024:7.0f}K {verdict:>9} {r['seconds']:8.2f} {r['extra_mb']:9.0f}")
            if r["accepted"] and (worst is None or r["seconds"] > worst[1]):
                worst = (path, r["seconds"])
        print(f"accepted uploads: at most {max(r['seconds'] for r in accepted):.2f} s (target ≤ {SECONDS_TARGET:g} s), "
              f"{max(r['extra_mb'] for r in accepted):.0f} MB (target ≤ {MEMORY_TARGET_MB:.0f} MB)")
        assert worst is not None
        alone, busy = four_at_once(Path(args.checkpoints), worst[0].read_bytes())
        print(f"latent map page load: {alone * 1000:.0f} ms alone, {busy * 1000:.0f} ms while four conversions of the "
              f"slowest accepted upload ({worst[0].name}) run at once: ×{busy / alone:.2f} (target < ×2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
