"""Offline datasets for the effective-dimension claims (nothing is downloaded).

Each loader returns a (samples, features) float array. Image data come from scikit-learn's
bundled files: the 8x8 digits and the two sample photographs (china, flower) cut into patches.
"""

from __future__ import annotations

import numpy as np

from evsim.errors import ValidationError

__all__ = ["DATASETS", "load", "power_law"]


def _digits() -> np.ndarray:
    from sklearn.datasets import load_digits
    return load_digits().data / 16.0


def _digit_rows() -> np.ndarray:
    """Each 8x8 digit as 8 row tokens of 8 pixels (the token view of an attention input)."""
    return _digits().reshape(-1, 8)


def _standardised(loader) -> np.ndarray:
    data = loader().data
    return (data - data.mean(0)) / data.std(0)


def _wine() -> np.ndarray:
    from sklearn.datasets import load_wine
    return _standardised(load_wine)


def _breast_cancer() -> np.ndarray:
    from sklearn.datasets import load_breast_cancer
    return _standardised(load_breast_cancer)


def _patches(size: int = 8, count: int = 4000, seed: int = 0) -> np.ndarray:
    """Random size x size RGB patches (values in [0, 1]) of the two sample photographs."""
    from sklearn.datasets import load_sample_images
    rng = np.random.default_rng(seed)
    images = load_sample_images().images
    out = []
    for k in range(count):
        image = images[k % len(images)]
        row = rng.integers(0, image.shape[0] - size)
        col = rng.integers(0, image.shape[1] - size)
        out.append(image[row:row + size, col:col + size].reshape(-1) / 255.0)
    return np.array(out)


def power_law(alpha: float, dim: int = 384, samples: int = 2000, seed: int = 0) -> np.ndarray:
    """Gaussian samples with covariance eigenvalues i^-alpha (i = 1..dim), random rotation."""
    rng = np.random.default_rng(seed)
    scales = np.arange(1, dim + 1) ** (-alpha / 2)
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    return (rng.normal(size=(samples, dim)) * scales) @ rotation.T


#: name -> (loader, description)
DATASETS = {
    "digits": (_digits, "scikit-learn digits, 1797 images of 8x8 pixels (64-d)"),
    "digit_rows": (_digit_rows, "digit rows as tokens (14,376 tokens of 8 pixels)"),
    "wine": (_wine, "wine, 178 samples, 13 standardised features"),
    "breast_cancer": (_breast_cancer, "breast cancer, 569 samples, 30 standardised features"),
    "image_patches": (_patches, "4000 random 8x8 RGB patches of the 2 sample photos (192-d)"),
    "power_law_1.0": (lambda: power_law(1.0), "Gaussian, eigenvalues i^-1 in 384-d"),
    "power_law_1.5": (lambda: power_law(1.5), "Gaussian, eigenvalues i^-1.5 in 384-d"),
}


def load(name: str) -> np.ndarray:
    """The (samples, features) array of dataset ``name``."""
    if name not in DATASETS:
        raise ValidationError("name", f"unknown dataset '{name}'; accepted: {sorted(DATASETS)}")
    return DATASETS[name][0]()
