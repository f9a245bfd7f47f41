"""Anomaly scores, input complexity, the rules and the AUC/ROC/confusion helpers (explorer.anomaly):
an image's score does not depend on its batch, the IWAE estimate sits below the -ELBO and
tightens with K, the rules measure what they say, on tiny models and hand-made numbers."""

from __future__ import annotations

import io

import numpy as np
import pytest
import sklearn.metrics  # noqa: F401 - anomaly.auc's import, paid at collection rather than inside one test
import torch
from PIL import Image

from explorer import anomaly
from explorer.images import to_uint8
from explorer.losses import bernoulli_nll, gaussian_kl
from explorer.models import ModelConfig, build_model
from explorer.vocab import DATASETS

SMALL = {"hidden": (32, 16)}


def blobs(n: int, seed: int = 0) -> np.ndarray:
    """uint8 (n, 28, 28): a bright square whose place varies, on a black background (digit-like)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        r, c, s = rng.integers(2, 14), rng.integers(2, 14), rng.integers(5, 12)
        out[i, r: r + s, c: c + s] = rng.integers(150, 256)
    return out


def tiny(kind: str, z: int = 3, flow: int = 0, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(ModelConfig(kind=kind, latent_dim=z, flow_steps=flow, **SMALL)).eval()


@pytest.fixture(scope="module")
def trained_vaes():
    """Tiny VAEs (without and with an IAF flow) fitted for a few hundred steps on blobs, so their
    posteriors say something about the image and the ELBO's gap to log p(x) is not trivial."""
    x = torch.from_numpy(blobs(256, seed=1)).float().div(255).reshape(-1, 1, 28, 28)
    out = {}
    for flow in (0, 2):
        model = tiny("vae", z=4, flow=flow).train()
        opt = torch.optim.Adam(model.parameters(), 3e-3)
        gen = torch.Generator().manual_seed(0)
        for step in range(80):
            batch = x[(step * 64) % 256:][:64]
            parts = model.loss_parts(batch, batch, gen)
            opt.zero_grad()
            (parts["recon"] + parts["kl"]).mean().backward()
            opt.step()
        out[flow] = model.eval()
    return out


# --------------------------------------------------------------------------- scores

@pytest.mark.parametrize("kind,flow", [("ae", 0), ("dae", 0), ("vae", 0), ("vae", 2)])
def test_an_images_score_does_not_depend_on_its_batch(kind, flow):
    model = tiny(kind, flow=flow)
    x = blobs(40)
    batch = anomaly.scores(model, x)
    assert batch.shape == (40,) and batch.dtype == np.float64 and np.isfinite(batch).all() and (batch > 0).all()
    for i in (0, 17, 39):
        assert anomaly.scores(model, x[i: i + 1])[0] == pytest.approx(batch[i], abs=1e-4)
    assert np.allclose(anomaly.scores(model, x, batch_size=7), batch, atol=1e-4)       # other batches
    assert np.allclose(anomaly.scores(model, x[::-1])[::-1], batch, atol=1e-4)         # other positions
    assert np.array_equal(anomaly.scores(model, x), batch)                               # every call
    assert np.allclose(anomaly.scores(model, x.astype(np.float32) / 255), batch, atol=1e-4)  # floats as uint8


def test_ae_score_is_the_reconstruction_cross_entropy():
    model = tiny("ae")
    x = blobs(6)
    xt = torch.from_numpy(x).float().div(255).reshape(-1, 1, 28, 28)
    with torch.inference_mode():
        want = bernoulli_nll(model.decode(model.encode(xt)), xt).numpy()
    assert np.allclose(anomaly.scores(model, x), want, rtol=1e-5)


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_pixel_errors_are_where_the_deterministic_reconstruction_differs(kind):
    model = tiny(kind)
    x = blobs(6)
    recon, err = anomaly.pixel_errors(model, x)
    with torch.inference_mode():
        want = model.reconstruct(torch.from_numpy(x).float().div(255).reshape(-1, 1, 28, 28)).reshape(-1, 28, 28).numpy()
    assert recon.shape == err.shape == (6, 28, 28)
    assert np.allclose(recon, want, atol=1e-6)
    assert np.allclose(err, np.abs(x / 255 - want), atol=1e-6) and err.min() >= 0 and err.max() <= 1


def test_vae_score_with_a_point_posterior_is_the_reconstruction_at_the_mean_plus_the_kl():
    model = tiny("vae", z=3)
    last = model.encoder[-1]
    with torch.no_grad():  # log-variance -20 for every image: the codes drawn are the mean to ~5e-5
        last.weight[3:6] = 0
        last.bias[3:6] = -20.0
    x = blobs(8)
    xt = torch.from_numpy(x).float().div(255).reshape(-1, 1, 28, 28)
    with torch.inference_mode():
        mu, logvar = model.encode(xt)
        want = (bernoulli_nll(model.decode(mu), xt) + gaussian_kl(mu, logvar)).numpy()
    assert np.allclose(anomaly.scores(model, x), want, rtol=1e-5, atol=1e-3)


def test_vae_score_averages_several_codes():
    """-ELBO over ELBO_SAMPLES draws: its spread over images' reseeds is smaller than one draw's would be,
    and it is close to the model's own stochastic loss on average."""
    model = tiny("vae", z=3)
    x = blobs(200, seed=3)
    xt = torch.from_numpy(x).float().div(255).reshape(-1, 1, 28, 28)
    with torch.inference_mode():
        parts = model.loss_parts(xt, xt, torch.Generator().manual_seed(5))
    one_draw = (parts["recon"] + parts["kl"]).numpy()
    assert anomaly.scores(model, x).mean() == pytest.approx(one_draw.mean(), rel=0.01)


# --------------------------------------------------------------------------- IWAE

def test_iwae_needs_a_vae():
    with pytest.raises(ValueError, match="VAE"):
        anomaly.iwae_nll(tiny("ae"), blobs(2))


@pytest.mark.parametrize("flow", [0, 2])
def test_iwae_is_below_the_elbo_and_tightens_with_k(trained_vaes, flow):
    model = trained_vaes[flow]
    x = blobs(300, seed=7)
    elbo = anomaly.scores(model, x).mean()
    nll = {k: anomaly.iwae_nll(model, x, k=k).mean() for k in (1, 8, 64)}
    assert nll[1] == pytest.approx(elbo, rel=0.01)  # one sample: an unbiased estimate of the -ELBO itself
    assert nll[64] < nll[8] < nll[1]
    assert nll[64] < elbo
    assert elbo - nll[64] < 0.1 * elbo  # a tighter bound on the same quantity, not a different one


def test_iwae_of_an_image_does_not_depend_on_its_batch_and_reports_progress(trained_vaes):
    model = trained_vaes[2]
    x = blobs(30, seed=2)
    seen: list[float] = []
    batch = anomaly.iwae_nll(model, x, k=16, batch_size=8, progress=seen.append)
    assert batch.shape == (30,) and np.isfinite(batch).all()
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 4
    assert anomaly.iwae_nll(model, x[5:6], k=16)[0] == pytest.approx(batch[5], abs=1e-4)


# --------------------------------------------------------------------------- input complexity

def test_complexity_bits_is_eight_times_the_png_length():
    x = blobs(5)
    for img, bits in zip(x, anomaly.complexity_bits(x)):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG", compress_level=9)
        assert bits == 8 * len(buf.getvalue())


def test_complexity_bits_orders_blank_simple_and_noisy_images_and_takes_floats():
    rng = np.random.default_rng(0)
    blank, simple = np.zeros((1, 28, 28), np.uint8), blobs(1)
    noisy = rng.integers(0, 256, (1, 28, 28)).astype(np.uint8)
    b = anomaly.complexity_bits(np.concatenate([blank, simple, noisy]))
    assert b[0] < b[1] < b[2]
    floats = rng.random((3, 28, 28)).astype(np.float32)
    assert np.array_equal(anomaly.complexity_bits(floats), anomaly.complexity_bits(to_uint8(floats)))


def test_corrected_subtracts_the_bits_from_the_score_in_bits():
    assert anomaly.corrected(np.array([np.log(2) * 100, 0.0]), np.array([30.0, 8.0])) == pytest.approx([70.0, -8.0])


# --------------------------------------------------------------------------- rules

@pytest.fixture(scope="module")
def ref():
    rng = np.random.default_rng(0)
    bits = rng.normal(1500, 200, 5000)
    raw = 0.1 * bits + rng.normal(0, 5, 5000)  # correlated, as a score and its image's complexity are
    return anomaly.Reference(raw, bits)


def test_reference_fits_the_line_and_the_pair_statistics(ref):
    assert ref.slope == pytest.approx(0.1, abs=0.01)
    assert abs(ref.residual.mean()) < 1e-9  # least-squares residuals average zero
    assert np.allclose(ref.pair_mean, [ref.raw.mean(), ref.bits.mean()])
    assert np.allclose(ref.pair_inv_cov @ np.cov(np.c_[ref.raw, ref.bits].T), np.eye(2), atol=1e-6)
    assert np.allclose(ref.corrected, anomaly.corrected(ref.raw, ref.bits))


def test_every_rule_gives_one_finite_value_per_image(ref):
    assert anomaly.DEFAULT_RULE in anomaly.RULES
    for name, rule in anomaly.RULES.items():
        assert rule.name == name and rule.label and rule.how and rule.unit
        stat = rule.statistic(ref.raw[:50], ref.bits[:50], ref)
        assert stat.shape == (50,) and np.isfinite(stat).all()


def test_default_threshold_is_the_references_mean_plus_k_std(ref):
    for rule in anomaly.RULES.values():
        stat = rule.statistic(ref.raw, ref.bits, ref)
        assert anomaly.default_threshold(rule, ref) == pytest.approx(stat.mean() + stat.std())
        assert anomaly.default_threshold(rule, ref, k=2.5) == pytest.approx(stat.mean() + 2.5 * stat.std())
    raw = anomaly.RULES["raw"]
    assert anomaly.default_threshold(raw, ref) == pytest.approx(ref.raw.mean() + ref.raw.std())


def test_joint_and_typical_rules_flag_a_point_far_from_the_reference_in_either_direction(ref):
    joint, typical = anomaly.RULES["joint"], anomaly.RULES["typical"]
    m_raw, m_bits = ref.pair_mean
    s_raw = ref.raw.std()
    raw = np.array([m_raw, m_raw + 10 * s_raw, m_raw - 10 * s_raw, m_raw])
    bits = np.array([m_bits, m_bits, m_bits, m_bits + 3000])  # the last: typical score, far too complex
    j = joint.statistic(raw, bits, ref)
    assert j[0] < 0.1 and min(j[1:]) > 10 * anomaly.default_threshold(joint, ref)
    assert j[1] == pytest.approx(j[2])  # a Mahalanobis distance is symmetric about the mean
    t = typical.statistic(raw, bits, ref)
    assert t[0] < 0.01 and t[1] == pytest.approx(10, rel=0.01) and t[2] == pytest.approx(10, rel=0.01)
    assert anomaly.RULES["raw"].statistic(raw, bits, ref)[2] < m_raw  # the one-sided score misses it
    # the joint rule reads the correlation: a score that fits its (high) complexity is normal
    fitted = np.array([ref.intercept + ref.slope * (m_bits + 600)])
    assert joint.statistic(fitted, np.array([m_bits + 600]), ref)[0] < joint.statistic(fitted, np.array([m_bits - 600]), ref)[0]


def test_residual_rule_is_zero_on_the_fitted_line(ref):
    bits = np.array([900.0, 1500.0, 2100.0])
    on_line = ref.intercept + ref.slope * bits
    assert np.allclose(anomaly.RULES["residual"].statistic(on_line, bits, ref), 0, atol=1e-9)
    assert np.allclose(anomaly.RULES["residual"].statistic(on_line + 3, bits, ref), 3)


# --------------------------------------------------------------------------- AUC, ROC, confusion

def test_auc_of_separated_identical_and_reversed_sets():
    a, b = np.arange(10.0), np.arange(10.0) + 100
    assert anomaly.auc(a, b) == 1.0
    assert anomaly.auc(b, a) == 0.0
    assert anomaly.auc(a, a) == 0.5
    # by hand: pairs (normal, anomalous) with anomalous above count 1, ties 1/2
    normal, anomalous = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0])
    assert anomaly.auc(normal, anomalous) == pytest.approx((1 + 0.5 + 0 + 1 + 1 + 1) / 6)


def test_roc_runs_from_the_corner_to_the_corner_and_is_thinned():
    rng = np.random.default_rng(0)
    normal, anomalous = rng.normal(0, 1, 3000), rng.normal(1, 1, 3000)
    fpr, tpr = anomaly.roc(normal, anomalous, points=50)
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert len(fpr) <= 51 and (np.diff(fpr) >= 0).all() and (np.diff(tpr) >= 0).all()
    assert np.trapezoid(tpr, fpr) == pytest.approx(anomaly.auc(normal, anomalous), abs=0.01)


def test_confusion_precision_and_recall_by_hand():
    c = anomaly.confusion(np.array([0.1, 0.5, 0.9, 1.2]), np.array([0.8, 1.5, 2.0]), threshold=0.85)
    assert (c.tp, c.fp, c.tn, c.fn) == (2, 2, 2, 1)
    assert c.precision == pytest.approx(0.5) and c.recall == pytest.approx(2 / 3)
    strict = anomaly.confusion(np.array([0.1]), np.array([0.2]), threshold=0.85)  # nothing flagged
    assert strict.tp == strict.fp == 0 and np.isnan(strict.precision) and strict.recall == 0
    assert np.isnan(anomaly.confusion(np.array([0.1]), np.array([]), threshold=0.0).recall)
    at = anomaly.confusion(np.array([1.0]), np.array([1.0]), threshold=1.0)  # equal to the threshold: not flagged
    assert at.tp == at.fp == 0


def test_percentile_counts_ties_half():
    v = np.array([1.0, 2.0, 3.0, 4.0])
    assert anomaly.percentile(v, 2.5) == 50.0
    assert anomaly.percentile(v, 2.0) == 37.5
    assert anomaly.percentile(v, 0.0) == 0.0 and anomaly.percentile(v, 9.0) == 100.0
    assert anomaly.percentile(np.array([]), 1.0) == 0.0


# --------------------------------------------------------------------------- what is compared

def test_reference_images_are_a_fixed_sorted_subset():
    idx = anomaly.reference_indices(60_000)
    assert len(idx) == anomaly.REFERENCE_COUNT and len(np.unique(idx)) == len(idx)
    assert (np.diff(idx) > 0).all() and idx.max() < 60_000
    assert np.array_equal(idx, anomaly.reference_indices(60_000))
    assert not np.array_equal(idx, anomaly.reference_indices(60_000, seed=1))
    assert np.array_equal(anomaly.reference_indices(50), np.arange(50))  # fewer images than the count: all
    train = blobs(120)
    assert np.array_equal(anomaly.reference_images(train), train[anomaly.reference_indices(120)])


@pytest.mark.parametrize("noise", ["gaussian", "salt_and_pepper", "block"])
def test_corrupt_all_is_seeded_and_stored_as_8_bits(noise):
    x = blobs(12)
    level = anomaly.NOISE_LEVELS[noise]
    a = anomaly.corrupt_all(x, noise, level)
    assert a.shape == (12, 28, 28) and a.dtype == np.uint8  # as an image is stored: its PNG length is of these pixels
    floats = anomaly.as_floats(a)
    assert floats.min() >= 0 and floats.max() <= 1
    assert np.array_equal(a, anomaly.corrupt_all(x, noise, level))
    assert np.array_equal(a, anomaly.corrupt_all(x, noise, level, seed=anomaly.NOISE_SEED))
    assert not np.array_equal(a, anomaly.corrupt_all(x, noise, level, seed=1))
    assert not np.array_equal(a, x)
    assert np.array_equal(x, blobs(12))  # the input is left alone
    assert np.array_equal(anomaly.corrupt_all(x.astype(np.float32) / 255, noise, level), a)  # floats in, the same
    if noise == "block":  # a black block per image, on its ink
        assert all((a[i] < x[i]).any() for i in range(12))


def test_corrupt_all_refuses_an_unknown_noise():
    with pytest.raises(ValueError, match="unknown noise"):
        anomaly.corrupt_all(blobs(1), "fog", 0.1)


def test_other_dataset_pairs_the_two_datasets():
    assert {anomaly.other_dataset(d) for d in DATASETS} == set(DATASETS)
    assert all(anomaly.other_dataset(d) != d for d in DATASETS)
    assert anomaly.other_dataset(anomaly.other_dataset("mnist")) == "mnist"


def test_a_stored_array_is_read_back_only_when_it_is_whole(monkeypatch, tmp_path):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path))
    values = np.linspace(0, 1, 7)
    assert anomaly.save_stored("x", values)
    np.testing.assert_array_equal(anomaly.load_stored("x", 7), values)
    assert anomaly.load_stored("x", 8) is None, "another length: another set of images"
    assert anomaly.load_stored("missing", 7) is None
    assert anomaly.save_stored("nan", np.array([1.0, np.nan]))
    assert anomaly.load_stored("nan", 2) is None
    assert anomaly.stored_path("x").name == f"x-{anomaly.settings_tag()}.safetensors"
    with monkeypatch.context() as m:  # another setting (here the -ELBO's samples): another file, not this one
        m.setattr(anomaly, "ELBO_SAMPLES", anomaly.ELBO_SAMPLES + 1)
        assert anomaly.load_stored("x", 7) is None
    anomaly.stored_path("x").write_bytes(b"\x80\x04pickle")
    assert anomaly.load_stored("x", 7) is None


def test_a_cache_that_cannot_be_written_keeps_nothing_and_says_so(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(blocker))
    assert anomaly.save_stored("x", np.zeros(3)) is False


def test_a_failed_write_is_reported_not_raised(monkeypatch, tmp_path):
    from safetensors import SafetensorError
    from safetensors import numpy as st_numpy

    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path))

    def full_disk(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device")

    monkeypatch.setattr(st_numpy, "save_file", full_disk)
    assert anomaly.save_stored("x", np.zeros(3)) is False
    assert not list(tmp_path.rglob("*.safetensors")), "no partial file is left behind"


def test_images_tag_tells_image_sets_apart():
    a = np.zeros((3, 28, 28), np.uint8)
    b = a.copy()
    b[1, 5, 5] = 1
    assert anomaly.images_tag(a) == anomaly.images_tag(a.copy())
    assert anomaly.images_tag(a) != anomaly.images_tag(b)
    assert anomaly.images_tag(a) != anomaly.images_tag(a[:2])


def test_auc_and_roc_agree_with_scikit_learn():
    from sklearn.metrics import roc_auc_score, roc_curve

    rng = np.random.default_rng(0)
    normal, anomalous = rng.normal(size=500).round(1), (rng.normal(size=300) + 0.5).round(1)  # many ties
    y, s = np.r_[np.zeros(500), np.ones(300)], np.r_[normal, anomalous]
    assert anomaly.auc(normal, anomalous) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    ours = anomaly.roc(normal, anomalous, points=10**6)
    np.testing.assert_allclose(ours[0], fpr)
    np.testing.assert_allclose(ours[1], tpr)


def test_the_app_never_imports_scikit_learn_or_pandas_to_score(monkeypatch):
    import subprocess
    import sys

    code = ("import sys, numpy as np; from explorer import anomaly; "
            "anomaly.auc(np.arange(5.), np.arange(3.) + 2); anomaly.roc(np.arange(5.), np.arange(3.)); "
            "print(sorted(m for m in ('pandas', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", "a module imported in the warm-up's thread is seen half-made by plotly elsewhere"


# --------------------------------------------------------------------------- the page's figure and galleries

def test_threshold_figure_bins_each_set_marks_the_lines_and_draws_the_roc_beside():
    from explorer import figures

    rng = np.random.default_rng(0)
    sets = {"normal": rng.normal(0, 1, 5000), "other": rng.normal(3, 1, 2000)}
    curves = {"other": (np.array([0, 0.1, 1.0]), np.array([0, 0.8, 1.0]), 0.95)}
    fig = figures.threshold_figure(sets, curves, {"normal": "#1f77b4"}, threshold=0.5, unit="nats", own=1.25)
    hist = [t for t in fig.data if t.xaxis in (None, "x")]
    roc = [t for t in fig.data if t.xaxis == "x2"]
    assert [t.name for t in hist] == ["normal", "other"]
    for t in hist:  # a step per bin, closed at the top edge: every image counted once
        assert np.asarray(t.y)[:-1].sum() == pytest.approx(1.0)
        assert t.line.shape == "hv" and t.fill == "tozeroy"
    assert np.array_equal(hist[0].x, hist[1].x), "one set of bins for every set"
    assert hist[0].line.color == "rgb(31,119,180)"
    assert [s.x0 for s in fig.layout.shapes] == [0.5, 1.25], "the threshold, then the user's image"
    assert [t.name for t in roc] == ["chance (AUC 0.5)", "other: AUC 0.950"]
    assert fig.layout.xaxis.type == "linear"


def test_threshold_figure_uses_a_log_axis_for_a_statistic_over_decades():
    from explorer import figures

    values = np.geomspace(1, 1e5, 1000)
    fig = figures.threshold_figure({"normal": values}, {}, {}, threshold=100.0, unit="bits")
    assert fig.layout.xaxis.type == "log"
    assert fig.layout.shapes[0].x0 == 100.0, "a line in data units"
    assert fig.layout.annotations[0].x == pytest.approx(2.0), "its label in powers of ten, as plotly places it"


def test_error_columns_stack_image_reconstruction_and_heat_map_per_column():
    from explorer.images import error_columns

    images = np.zeros((3, 28, 28), np.uint8)
    images[1, 10:18, 10:18] = 255
    recon = np.zeros((3, 28, 28), np.float32)
    err = np.abs(images / 255.0 - recon)
    picture = error_columns(images, recon, err, heat_max=0.5, pad=2)
    assert picture.shape == (3 * 32, 3 * 32, 3) and picture.dtype == np.uint8
    top = picture[2:30, 32 + 2: 32 + 30]
    assert np.array_equal(top[..., 0], images[1]), "the image on top, in grey"
    heat = picture[64 + 2: 64 + 30, 32 + 2: 32 + 30]
    assert (heat[12, 12] == 255).all() and (heat[0, 0] == 0).all(), "white where off by heat_max or more, black where exact"
