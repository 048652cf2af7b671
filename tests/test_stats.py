"""Slope fits and bootstrap CIs on synthetic data with known answers."""

import numpy as np
import pytest

from analyses.stats import bootstrap_ratio, bootstrap_slope, loglog_slope


def test_loglog_slope_exact_power_law():
    x = np.array([16, 32, 64, 128])
    assert loglog_slope(x, 3 * x ** -0.5) == pytest.approx((-0.5, np.log(3)))


@pytest.mark.parametrize("true_slope", [-0.5, -1.0])
def test_bootstrap_ci_covers_true_slope(true_slope):
    rng = np.random.default_rng(11)
    T = np.geomspace(16, 1024, 7)
    noise = rng.lognormal(0, 0.3, (len(T), 6, 40))
    errors = 0.5 * T[:, None, None] ** true_slope * noise / np.exp(0.3 ** 2 / 2)
    fit = bootstrap_slope(T, errors, seed=1)
    assert fit["ci95"][0] < true_slope < fit["ci95"][1]
    assert fit["ci95"][1] - fit["ci95"][0] < 0.1


def test_bootstrap_ratio_of_identical_samples_is_one():
    values = np.random.default_rng(2).exponential(size=(5, 30))
    fit = bootstrap_ratio(values, values)
    assert fit["ratio"] == pytest.approx(1) and fit["ci95"] == pytest.approx([1, 1])



def test_hierarchical_bootstrap_of_one_seed_is_the_image_bootstrap():
    """One model, one seed: the s.e. is the plug-in s.d. of the images / sqrt(images), up to
    the bootstrap's own error (s.d. of a s.d. from B draws: se / sqrt(2 (B - 1)), 4 of them)."""
    from analyses.stats import hierarchical_bootstrap

    values = np.random.default_rng(3).normal(0.1, 0.3, 200)
    fit = hierarchical_bootstrap([[values[None]]], resamples=4000, seed=1)
    expected = values.std() / np.sqrt(len(values))
    assert fit["mean"] == pytest.approx(values.mean())
    assert fit["se"] == pytest.approx(expected, rel=4 / np.sqrt(2 * 3999))


def test_hierarchical_bootstrap_counts_seed_variance_with_the_unbiased_sample_variance():
    """Every image alike within a seed (no image noise): the s.e. is the seeds' unbiased
    s.d. / sqrt(S); without the spread, the plain resample's sqrt(2/3) of it."""
    from analyses.stats import hierarchical_bootstrap

    seed_means = np.array([0.02, -0.05, 0.04])
    values = np.repeat(seed_means[:, None], 50, axis=1)  # (3 seeds, 50 images)
    expected = seed_means.std(ddof=1) / np.sqrt(3)
    tolerance = 4 / np.sqrt(2 * 3999)
    assert hierarchical_bootstrap([[values]], resamples=4000, seed=2)["se"] == \
        pytest.approx(expected, rel=tolerance)
    plain = hierarchical_bootstrap([[values]], resamples=4000, seed=2, unbiased_seeds=False)
    assert plain["se"] == pytest.approx(expected * np.sqrt(2 / 3), rel=tolerance)


def _coverage_and_se(sets, draw, resamples=1000):
    """Over ``sets`` data sets from ``draw(rng) -> (models, seeds, images) array, true
    mean``: the rate at which the 95% interval covers the true mean, the s.d. of the
    estimates and the mean bootstrap s.e."""
    from analyses.stats import hierarchical_bootstrap

    rng = np.random.default_rng(7)
    covered, estimates, errors = 0, [], []
    for k in range(sets):
        values, truth = draw(rng)
        fit = hierarchical_bootstrap([list(values)], resamples=resamples, seed=k)
        covered += fit["ci95"][0] <= truth <= fit["ci95"][1]
        estimates.append(fit["mean"])
        errors.append(fit["se"])
    return covered / sets, np.std(estimates, ddof=1), np.mean(errors)


def test_hierarchical_bootstrap_covers_the_true_mean_when_seed_variance_dominates():
    """400 data sets of 8 models x 3 training seeds x 60 shared images (model offsets fixed;
    seed, shared-image and image noise drawn): the 95% interval covers the models' mean
    offset at a rate within the 99% binomial band of 0.95, [0.922, 0.978]."""
    models, seeds, images, sets = 8, 3, 60, 400
    offsets = np.random.default_rng(1).normal(0, 0.05, models)

    def draw(rng):
        return (offsets[:, None, None] + rng.normal(0, 0.03, (models, seeds, 1))
                + rng.normal(0, 0.02, (1, 1, images))
                + rng.normal(0, 0.05, (models, seeds, images))), offsets.mean()

    coverage, _, _ = _coverage_and_se(sets, draw)
    assert abs(coverage - 0.95) <= 2.576 * np.sqrt(0.95 * 0.05 / sets)


def test_hierarchical_bootstrap_counts_image_noise_once_when_it_dominates():
    """Accuracy differences of 8 models x 3 seeds on 128 shared images, mostly 0 with a +-1
    flip on about 10% of images per seed, and a small seed effect (s.d. 0.005): the mean
    bootstrap s.e. is within 15% of the estimates' s.d. over 300 data sets (whose own
    relative error is 1/sqrt(2 x 299) = 4%). Counting each seed mean's image noise again at
    the seed stage made it 1.8 times too wide."""
    models, seeds, images, sets = 8, 3, 128, 300

    def draw(rng):
        flips = rng.choice([-1.0, 0.0, 1.0], (models, seeds, images), p=[0.05, 0.9, 0.05])
        return flips + rng.normal(0, 0.005, (models, seeds, 1)), 0.0

    _, spread, se = _coverage_and_se(sets, draw, resamples=500)
    assert se == pytest.approx(spread, rel=0.15)


def test_hierarchical_bootstrap_weighs_models_equally_across_image_sets():
    from analyses.stats import hierarchical_bootstrap

    digits = [np.zeros((3, 40)), np.zeros((2, 40))]  # two models at 0 (2 and 3 seeds)
    sets = [np.ones((3, 500))]                       # one model at 1, on more images
    fit = hierarchical_bootstrap([digits, sets], resamples=200)
    assert fit["mean"] == pytest.approx(1 / 3) and fit["se"] == pytest.approx(0, abs=1e-12)
    assert fit["model_resampled"].shape == (200, 3)
    assert list(fit["model_means"]) == [0, 0, 1]
    with pytest.raises(ValueError, match="seeds, images"):
        hierarchical_bootstrap([[np.zeros(40)]])
    with pytest.raises(ValueError, match="same images"):
        hierarchical_bootstrap([[np.zeros((3, 40)), np.zeros((3, 41))]])


def test_detectable_difference_is_the_normal_power_formula():
    """At the detectable difference a one-sided level-0.05 z-test passes with probability
    0.8: Phi(detectable/se - z_0.95) = 0.8."""
    from scipy import stats

    from analyses.stats import detectable_difference

    se = 0.015
    shift = detectable_difference(se, alpha=0.05, power=0.8)
    assert shift == pytest.approx((1.6449 + 0.8416) * se, rel=1e-4)
    assert stats.norm.cdf(shift / se - stats.norm.ppf(0.95)) == pytest.approx(0.8)
