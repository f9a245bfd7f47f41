"""The app's caches (explorer/ui/loaders.py): every one bounded, and the per-checkpoint ones large
enough for the whole shipped catalog. Read from the sources and the decorated functions; no server."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

from explorer.seeds import SEED_RUNS
from explorer.vocab import DATASETS, KINDS, LATENT_DIMS

UI = Path(__file__).resolve().parents[1] / "explorer" / "ui"
# what train.py makes by default, and with --set seeds
SHIPPED_CHECKPOINTS = len(DATASETS) * len(KINDS) * len(LATENT_DIMS) + len(SEED_RUNS)


def _cache_decorators():
    """(file, function, 'cache_data' | 'cache_resource' | 'shared', the decorator node) in explorer/ui."""
    found = []
    for path in sorted(UI.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for dec in node.decorator_list:
                target = dec.func if isinstance(dec, ast.Call) else dec
                name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
                if name in ("cache_data", "cache_resource", "shared"):
                    found.append((path.relative_to(UI.parent.parent), node.name, name, dec))
    return found


def test_the_ui_has_caches_to_check():
    kinds = {kind for _, _, kind, _ in _cache_decorators()}
    assert kinds == {"cache_data", "shared"}


def test_every_cache_has_max_entries():
    """Bounded caches: browsing every checkpoint in every session cannot grow memory without limit."""
    unbounded = []
    for path, name, kind, dec in _cache_decorators():
        bound = None
        if isinstance(dec, ast.Call):
            bound = next((kw.value for kw in dec.keywords if kw.arg == "max_entries"), None)
        if not (isinstance(bound, ast.Constant) and isinstance(bound.value, int) and bound.value > 0):
            unbounded.append(f"{path}: {name} (@{kind} without a positive max_entries)")
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
        assert fn.max_entries >= SHIPPED_CHECKPOINTS, fn


def test_the_large_resources_survive_streamlits_clear_cache(app_checkpoints, monkeypatch):
    """Any websocket client can send "clear cache"; Streamlit then runs exactly this
    (``AppSession._handle_clear_cache_request``): the catalog, models, codes and test images
    stay loaded, the same objects, for every other session."""
    import streamlit as st
    from streamlit.runtime.app_session import AppSession

    from explorer.ui import loaders

    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(app_checkpoints))
    entry = loaders.catalog().good[0]
    before = (loaders.catalog(), loaders.model(entry), loaders.codes(entry), loaders.test_split(entry),
              loaders.plane(entry, "pca"))

    class Session:  # what the handler touches besides the two caches
        _session_state = {"x": 1}

    AppSession._handle_clear_cache_request(Session())  # pyright: ignore[reportArgumentType]
    assert Session._session_state == {}, "the handler ran"
    after = (loaders.catalog(), loaders.model(entry), loaders.codes(entry), loaders.test_split(entry),
             loaders.plane(entry, "pca"))
    assert all(a is b for a, b in zip(before, after))
    st.cache_data.clear()


def test_shared_computes_once_for_simultaneous_callers():
    import threading
    import time

    from explorer.ui.loaders import shared

    calls = []

    @shared(max_entries=2)
    def slow(key, _unhashable=None):
        calls.append(key)
        time.sleep(0.1)
        return object()

    results = []
    threads = [threading.Thread(target=lambda: results.append(slow("a", _unhashable={}))) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["a"] and len({id(r) for r in results}) == 1
    slow("b"), slow("c")
    slow("a")
    assert calls == ["a", "b", "c", "a"], "least recently used evicted beyond max_entries"
