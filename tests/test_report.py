"""The report script runs on small checkpoints and its figures come from them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer import anomaly, classifier
from explorer.data import DataError, load_dataset
from explorer.models import ModelConfig, build_model
from explorer.noise import NoiseConfig
from explorer.sweep import RunSpec, run
from explorer.training import TrainConfig
from explorer.vocab import DATASETS, KINDS
from tests.helpers import make_checkpoint, make_idx_folder
from tools import report


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("rep")
    make_idx_folder(root / "data" / "fashion", n_train=200, n_test=60)
    make_idx_folder(root / "data" / "mnist", n_train=150, n_test=50, seed=1)  # the anomaly section's other dataset
    return root


@pytest.fixture(scope="module")
def trained(small):
    """Six tiny Fashion-MNIST checkpoints as the sweep writes them, and a tiny reading classifier."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LATENT_EXPLORER_DATA", str(small / "data"))
        tr, te = load_dataset("fashion", "train"), load_dataset("fashion", "test")
        out = small / "cks"
        for kind in KINDS:
            for z in (2, 4):
                flow = 2 if (kind, z) == ("vae", 2) else 0  # as shipped: a flow at latent size 2
                spec = RunSpec("fashion", ModelConfig(kind=kind, latent_dim=z, hidden=(32,), flow_steps=flow),
                               TrainConfig(epochs=1, batch_size=50, noise=NoiseConfig() if kind == "dae" else None))
                run(spec, tr, te, out, log=lambda m: None)
        net, meta = classifier.train(tr, te, classifier.Recipe(epochs=2, width=4, batch_size=50), log=lambda m: None)
        saved = classifier.save(classifier.folder_of(out, "fashion"), net, meta)
    return out, saved


def test_report_runs_and_matches_metadata(small, trained, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(small / "data"))
    out, saved = trained
    assert report.main(["--checkpoints", str(out), "--out", str(small / "docs")]) == 0
    text = (small / "docs" / "RESULTS.md").read_text()
    assert "VAE: test negative ELBO" in text and "AE below PCA" in text and "DAE beats AE" in text
    assert "| VAE | mlp 32, relu; IAF 2 steps at z = 2 |" in text
    for title in ("## Anomaly detection", "### Anomaly detection: Fashion-MNIST models", "### Rules tried",
                  "### The known failure: Fashion-MNIST VAEs", "importance-weighted estimate", "200 of the model's *training*"):
        assert title in text
    assert "### Anomaly detection: MNIST models" not in text  # no MNIST checkpoints here
    # no MNIST model, none of latent size ≥ 8: only the Fashion-MNIST target (every latent size) is judged
    assert "≥ 0.99 (the score itself): not measured (no such models)" in text
    assert "at latent size ≥ 8: not measured (models of both datasets needed)" in text
    assert "with the complexity-corrected score, at every latent size: lowest **" in text
    for png in ("loss_vs_latent.png", "training_curves.png", "latent_grid_fashion.png", "reconstructions_fashion.png"):
        assert (small / "docs" / png).stat().st_size > 1000
    rows, extra, problems = report.evaluate_all(out, log=lambda m: None)
    assert not problems and len(rows) == 6
    for r in rows:
        assert r.metrics["loss"] == pytest.approx(r.metrics["meta_loss"], rel=1e-5)
        assert 0 <= r.metrics["feature_acc"] <= 1
    from explorer import features  # kept beside the checkpoints for the Compare page, on these weights

    assert features.read(out) == {r.id: (r.meta.weights_sha256, pytest.approx(r.metrics["feature_acc"], abs=1e-6)) for r in rows}
    assert extra["pca"]["fashion"][4] < extra["pca"]["fashion"][2]
    # the reading classifier: its accuracy recomputed, and a reading of every model's samples
    assert extra["readers"]["fashion"]["accuracy"] == pytest.approx(saved.test_accuracy)
    assert f"| Fashion-MNIST | {saved.test_accuracy * 100:.2f} % | ≥ 91.0 % |" in text
    assert "### What the classifier reads in 1,000 samples of each model" in text
    for r in rows:
        smp = r.metrics["samples"]
        assert 0 <= smp["confident"] <= 1 and 0 <= smp["tv"] <= 0.9 + 1e-9
        line = next(x for x in text.splitlines() if x.startswith(f"| {r.z} | ") and "%" in x and "distance" not in x)
        assert f"{smp['confident'] * 100:.1f} % | {smp['tv']:.3f}" in line


def test_samples_are_the_vae_prior_and_a_gaussian_fitted_to_an_aes_codes():
    from explorer.latent import prior_samples

    rng = np.random.default_rng(3)
    codes = rng.normal(size=(20_000, 3)) @ np.array([[2.0, 0, 0], [0.5, 1.0, 0], [0, 0, 0.1]]) + [5.0, -1.0, 0.0]
    assert np.array_equal(report.sample_codes("vae", codes), prior_samples(1000, 3, 1.0, 0))  # as Generate draws
    fitted = report.sample_codes("ae", codes, n=20_000)
    assert fitted.mean(axis=0) == pytest.approx(codes.mean(axis=0), abs=0.05)
    assert np.cov(fitted, rowvar=False) == pytest.approx(np.cov(codes, rowvar=False), abs=0.08)


def test_a_broken_classifier_is_listed_and_its_dataset_left_out(small, trained, monkeypatch, tmp_path):
    import shutil

    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(small / "data"))
    out = tmp_path / "cks"
    shutil.copytree(trained[0], out)
    (out / "classifiers" / "fashion" / "weights.safetensors").write_bytes(b"x")
    rows, extra, problems = report.evaluate_all(out, log=lambda m: None)
    assert len(rows) == 6 and not extra["readers"] and all("samples" not in r.metrics for r in rows)
    assert len(problems) == 1 and "fashion classifier" in problems[0] and "damaged" in problems[0]


def test_report_without_checkpoints(tmp_path, capsys):
    assert report.main(["--checkpoints", str(tmp_path), "--out", str(tmp_path / "d")]) == 2
    assert "train some with `python train.py`" in capsys.readouterr().err


# --------------------------------------------------------------------------- anomaly section

def tiny_data(seed=0):
    """(train, test) uint8 images for both datasets, a few dozen each (blobs; MNIST's smaller)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, size in (("mnist", 6), ("fashion", 14)):
        imgs = np.zeros((70, 28, 28), np.uint8)
        for i in range(70):
            r, c = rng.integers(0, 28 - size, 2)
            imgs[i, r: r + size, c: c + size] = rng.integers(100, 256)
        out[name] = (imgs[:40], imgs[40:])
    return out


def tiny_model(kind, z=8):
    torch.manual_seed(0)
    return build_model(ModelConfig(kind=kind, latent_dim=z, hidden=(16,))).eval()


def test_anomaly_scores_for_gives_each_sets_scores_and_bits_image_by_image():
    splits = tiny_data()
    data = report.AnomalyData(splits)
    model = tiny_model("vae")
    s = report.anomaly_scores_for(model, "mnist", data)
    assert set(s) == set(report.ANOMALY_SETS)
    train, test = splits["mnist"]
    want = {"reference": anomaly.reference_images(train), "test": test, "other": splits["fashion"][1],
            "noisy": anomaly.corrupt_all(test, *anomaly.REPORT_NOISE, seed=anomaly.NOISE_SEED)}
    for name, images in want.items():
        raw, bits = s[name]
        assert raw.shape == bits.shape == (len(images),)
        assert np.array_equal(bits, anomaly.complexity_bits(images))
        assert np.array_equal(raw, anomaly.scores(model, images))
    # the page's one image gets the report's score
    assert anomaly.scores(model, test[7:8])[0] == pytest.approx(s["test"][0][7], abs=1e-4)
    assert list(report.anomaly_scores_for(model, "mnist", data, ("test",))) == ["test"]


def test_anomaly_data_makes_each_set_once():
    data = report.AnomalyData(tiny_data())
    assert data.images("mnist", "other") is data.images("fashion", "test")  # one array, one set of bits
    assert data.images("mnist", "noisy") is data.images("mnist", "noisy")
    with pytest.raises(ValueError, match="unknown image set"):
        data.images("mnist", "validation")


def test_anomaly_row_aucs_come_from_the_rules():
    data = report.AnomalyData(tiny_data())
    model = tiny_model("ae")
    a = report.anomaly_row(model, "m", "mnist", data)
    assert set(a.auc) == {(w, r) for w in report.ANOMALY_AGAINST for r in anomaly.RULES}
    assert all(0 <= v <= 1 for v in a.auc.values()) and a.iwae is None
    s = report.anomaly_scores_for(model, "mnist", data)
    ref = anomaly.Reference(*s["reference"])
    joint = anomaly.RULES["joint"]
    assert a.auc[("other", "joint")] == anomaly.auc(joint.statistic(*s["test"], ref), joint.statistic(*s["other"], ref))
    assert a.auc[("noisy", "raw")] == anomaly.auc(s["test"][0], s["noisy"][0])
    assert a.counts == {"reference": 40, "test": 30, "other": 30, "noisy": 30}
    assert a.other_below_median == pytest.approx(np.mean(s["other"][0] < np.median(s["test"][0])))
    v = report.anomaly_row(tiny_model("vae"), "v", "fashion", data)
    assert v.iwae is not None and v.iwae[1] < v.iwae[0] and v.z == 8 and v.kind == "vae"


def test_anomaly_markdown_has_both_tables_the_rules_and_computed_verdicts():
    data = report.AnomalyData(tiny_data())
    rows = [report.anomaly_row(tiny_model(kind, z), f"{ds}-{kind}-z{z}", ds, data)
            for ds in DATASETS for kind, z in (("ae", 4), ("ae", 8), ("dae", 8), ("vae", 8))]
    text = "\n".join(report.anomaly_markdown(report.AnomalyReport(rows, 12.0)))
    for title in ("### Anomaly detection: MNIST models", "### Anomaly detection: Fashion-MNIST models", "### Rules tried",
                  "### Targets", "### The known failure", "K = 64", "first 30 test images", "took 12 s for 8 models"):
        assert title in text
    assert text.index("### Anomaly detection: MNIST") < text.index("### Anomaly detection: Fashion-MNIST")
    for rule in anomaly.RULES.values():
        assert f"| `{rule.name}`" in text and rule.how in text
    assert text.count("| AE | 8 |") == text.count("| AE | 4 |") == text.count("| VAE | 8 |") == 2
    assert "not measured" not in text
    low = report.lowest_auc(rows, "other", "raw", "mnist", 8)
    assert low is not None and low == min((a.auc[("other", "raw")], a.id) for a in rows if a.dataset == "mnist" and a.z >= 8)
    assert f"lowest **{low[0]:.3f}** ({low[1]}) — **{'met' if low[0] >= 0.99 else 'not met'}**" in text


def test_anomaly_section_says_so_when_a_dataset_is_missing(monkeypatch, tmp_path):
    def missing(name, split):
        raise DataError(f"{name} is not installed")

    monkeypatch.setattr(report, "load_dataset", missing)
    make_checkpoint(tmp_path / "fashion-ae", kind="ae")
    row = report.Row("fashion-ae", "fashion", "ae", 2, None, {})  # type: ignore[arg-type]
    rep = report.evaluate_anomalies([row], tmp_path, log=lambda m: None)
    assert rep.rows == [] and rep.problem is not None
    assert "Not measured: fashion is not installed" in "\n".join(report.anomaly_markdown(rep))


def test_the_other_architectures_samples_have_their_own_table():
    """The seeds' networks are not in the sweep's tables by latent size; their samples' reading
    is listed one model a row, and the sweep's models stay in their table."""
    from pathlib import Path
    from types import SimpleNamespace

    from explorer.checkpoints import usable_checkpoints

    shipped = {e.id: e for e in usable_checkpoints(Path(__file__).resolve().parents[1] / "checkpoints")}
    mlp, conv = shipped["mnist-vae-mlp-z2"], shipped["mnist-vae-conv4-z2"]
    rows = [report.Row(e.id, "mnist", "vae", 2, e.meta, {"samples": {"confident": c, "tv": 0.25, "top": ("3", 0.2)}})
            for e, c in ((mlp, 0.5), (conv, 0.625))]
    assert report.reader_markdown(rows, {"readers": {}}, ["mnist"]) == [], "no reader, no section"
    reader = SimpleNamespace(test_accuracy=0.99, parameter_count=1000, seconds=60.0, recipe={"epochs": 4})
    lines = report.reader_markdown(rows, {"readers": {"mnist": {"accuracy": 0.99, "meta": reader}}}, ["mnist"])
    others = lines.index(next(x for x in lines if x.startswith("The other architectures")))
    assert "| mnist-vae-conv4-z2 | VAE | 2 | 62.5 % | 0.250 | 3 (20.0 %) |" in lines[others:]
    assert not any(x.startswith("| mnist-vae-mlp-z2 |") for x in lines), "the sweep's model is not listed by name"
    by_size = next(x for x in lines[:others] if x.startswith("| 2 | "))
    assert "50.0 % | 0.250" in by_size and "62.5 %" not in by_size, "the sweep's model in its table by latent size"
