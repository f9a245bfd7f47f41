#!/usr/bin/env bash
# Set up everything Latent Explorer needs on a fresh Debian machine, then start the app or run the tests.
#   bash scripts/dev.sh app    # install, then: streamlit run app.py
#   bash scripts/dev.sh test   # install (with test tools, Chromium, nginx), then: ruff, pyright, the whole test suite
# Debian packages (dataset-fashion-mnist, chromium, nginx) are installed when run as root; otherwise the
# script says which are missing. Python packages go into .venv/ from requirements*.txt (exact pins).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"
case "$mode" in app|test) ;; *) echo "usage: bash scripts/dev.sh app|test" >&2; exit 2 ;; esac
shift

packages=()
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || packages+=(dataset-fashion-mnist)
if [ "$mode" = test ] && [ ! -x /usr/bin/chromium ]; then packages+=(chromium); fi
# nginx: the deployment test (tests/test_deploy.py) runs its own, on its own ports
if [ "$mode" = test ] && [ ! -x /usr/sbin/nginx ]; then packages+=(nginx); fi
if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${packages[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null; }
    # Debian starts the nginx it installs, serving its welcome page on port 80; the tests need only
    # the program, so a machine that had no web server keeps none running
    if [[ " ${packages[*]} " == *" nginx "* ]] && command -v systemctl >/dev/null \
        && systemctl is-active --quiet nginx 2>/dev/null; then
      echo "stopping the nginx service Debian started (the tests run their own): systemctl disable --now nginx"
      systemctl disable --now nginx >/dev/null 2>&1 || true
    fi
  else
    echo "note: Debian packages missing: ${packages[*]}" >&2
    echo "      install them with: sudo apt-get install -y ${packages[*]}" >&2
    echo "      (without them Fashion-MNIST is downloaded on first use, and browser and deployment tests are skipped)" >&2
  fi
fi

PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
req=requirements.txt
[ "$mode" = test ] && req=requirements-dev.txt
stamp=".venv/.installed-$(cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)-$mode"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$req"
  touch "$stamp"
fi

if [ "$mode" = app ]; then
  exec .venv/bin/streamlit run app.py "$@"
else
  # Lint and types first (configured in pyproject.toml): a new warning fails the run, as a test would.
  echo "ruff check"
  .venv/bin/ruff check --no-cache .
  echo "pyright (basic mode)"
  .venv/bin/pyright
  exec .venv/bin/python -m pytest "$@"
fi
