"""One vocabulary (explorer/vocab.py) and one direction of imports (tools/ -> explorer/), read from the sources."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from explorer import vocab

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / "explorer").rglob("*.py"), *(ROOT / "tools").rglob("*.py"), *(ROOT / "tests").rglob("*.py"),
                  ROOT / "app.py", ROOT / "train.py"])
VOCAB = ROOT / "explorer" / "vocab.py"


def _vocabularies(tree: ast.AST, groups: dict[str, set[str]]):
    """(line, group) of every second vocabulary in a module: a literal tuple, list or set holding every
    name of a group, or a label table (a dict from two or more names of a group to strings). Subsets
    (the kinds one figure shows) and per-name settings (the model registry, the recipes) are not one."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            names = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
            yield from ((node.lineno, g) for g, words in groups.items() if words <= names)
        if isinstance(node, ast.Dict) and node.values and \
                all(isinstance(v, ast.Constant) and isinstance(v.value, str) for v in node.values):
            names = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            yield from ((node.lineno, g) for g, words in groups.items() if len(names & words) >= 2)


GROUPS = {"kinds": set(vocab.KINDS), "datasets": set(vocab.DATASETS), "archs": set(vocab.ARCHS)}


def test_no_kind_or_dataset_list_or_label_table_outside_the_vocabulary():
    """The kinds, datasets or architectures written out again anywhere but vocab.py are a second
    vocabulary: a new kind would be missing from it."""
    found = [f"{path.relative_to(ROOT)}:{line}: {group}" for path in SOURCES if path != VOCAB
             for line, group in _vocabularies(ast.parse(path.read_text(), filename=str(path)), GROUPS)]
    assert found == []


def test_the_checker_finds_a_second_vocabulary():
    found = _vocabularies(ast.parse('LABELS = {"ae": "AE", "vae": "VAE"}\nK = ["dae", "vae", "ae"]\n'
                                    'D = ("fashion", "mnist")\nsubset = ("vae", "ae")\nMODELS = {"ae": int, "vae": str}'),
                          GROUPS)
    assert sorted(found) == [(1, "kinds"), (2, "kinds"), (3, "datasets")]


def test_every_name_has_its_labels():
    assert set(vocab.DATASET_TITLES) == set(vocab.DATASETS)
    assert set(vocab.KIND_LABELS) == set(vocab.KIND_TITLES) == set(vocab.KIND_COLORS) == set(vocab.KINDS)
    assert vocab.dataset_title("fashion") == "Fashion-MNIST" and vocab.dataset_title("other") == "other"
    assert vocab.kind_label("dae") == "DAE"


def test_the_vocabulary_and_the_catalog_need_no_torch():
    code = ("import sys, explorer.vocab, explorer.metadata, explorer.checkpoints; "
            "explorer.checkpoints.list_checkpoints('checkpoints'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_product_imports_nothing_from_the_tooling():
    pattern = re.compile(r"^\s*(from|import)\s+tools\b", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in [*(ROOT / "explorer").rglob("*.py"), ROOT / "app.py", ROOT / "train.py"]
                 if pattern.search(p.read_text())]
    assert offenders == []


def test_train_py_offers_the_vocabulary():
    sys.path.insert(0, str(ROOT))
    try:
        import train
    finally:
        sys.path.remove(str(ROOT))
    choices = {a.dest: a.choices for a in train.build_parser()._actions if a.choices}
    assert choices["kind"] == [*vocab.KINDS, "all"] and choices["dataset"] == [*vocab.DATASETS, "all"]
    assert choices["arch"] == [*vocab.ARCHS, "all"] and tuple(choices["activation"]) == vocab.ACTIVATIONS
