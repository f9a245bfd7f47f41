"""Tooling that measures, reports on or drives Latent Explorer from outside the product.

Run from the project folder, e.g. ``python -m tools.bench``. These modules import
``explorer``; nothing in ``explorer`` imports them.

  bench.py          training, conv, decode and t-SNE speed, plus the browser figures -> docs/BENCHMARKS.md
  browser_bench.py  the app's start, first clicks, clicks, redraws after a change of model and memory
                    in Chromium (part of bench)
  loadtest.py       many sessions at once against a real server, over its websocket
  report.py         the shipped checkpoints' quality and training time -> docs/RESULTS.md
  experiments.py    the shipped recipe against named variants, tabled side by side
  screenshots.py    screenshots of every page -> docs/screenshots/
  photo_set.py      the photo test set: MNIST test digits photographed on paper and in plotted frames
  photo_bench.py    how often those photos read right once converted (deskewed 3-NN) -> docs/PHOTOS.md
  browser.py        start the app's server, launch Chromium, wait for a page, click a plotly point
  common.py         what several tools share: latency summaries, the sidebar's URL query, sweep.json
"""
