"""The app's caches (explorer/ui/loaders.py): every one bounded, and the per-checkpoint ones large
enough for the whole shipped catalog. Read from the sources and the decorated functions; no server."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

from explorer.vocab import DATASETS, KINDS, LATENT_DIMS

UI = Path(__file__).resolve().parents[1] / "explorer" / "ui"
SHIPPED_CHECKPOINTS = len(DATASETS) * len(KINDS) * len(LATENT_DIMS)  # what train.py makes by default


def _cache_decorators():
    """(file, function, 'cache_data' | 'cache_resource', the decorator node) in explorer/ui."""
    found = []
    for path in sorted(UI.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for dec in node.decorator_list:
                target = dec.func if isinstance(dec, ast.Call) else dec
                if isinstance(target, ast.Attribute) and target.attr in ("cache_data", "cache_resource"):
                    found.append((path.relative_to(UI.parent.parent), node.name, target.attr, dec))
    return found


def test_the_ui_has_caches_to_check():
    kinds = {kind for _, _, kind, _ in _cache_decorators()}
    assert kinds == {"cache_data", "cache_resource"}


def test_every_cache_has_max_entries():
    """Bounded caches: browsing every checkpoint in every session cannot grow memory without limit."""
    unbounded = []
    for path, name, kind, dec in _cache_decorators():
        bound = None
        if isinstance(dec, ast.Call):
            bound = next((kw.value for kw in dec.keywords if kw.arg == "max_entries"), None)
        if not (isinstance(bound, ast.Constant) and isinstance(bound.value, int) and bound.value > 0):
            unbounded.append(f"{path}: {name} (@st.{kind} without a positive max_entries)")
    assert unbounded == []


def test_per_checkpoint_resources_hold_the_whole_catalog():
    """Models, codes and planes are cached per checkpoint and shared by all sessions: their bound
    holds every shipped checkpoint, so one class browsing them all never evicts a model that
    another session is using (and reloads it from disk)."""
    import streamlit  # noqa: F401 - its loggers would warn "no runtime" for caches made outside a server

    for name in list(logging.root.manager.loggerDict):
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)
    from explorer.ui import loaders

    for fn in (loaders._checkpoint, loaders._codes, loaders._plane):
        assert fn._info.max_entries >= SHIPPED_CHECKPOINTS, fn
