import os
import shutil
import tempfile

import matplotlib
import pytest

matplotlib.use("Agg")


def pytest_configure(config):
    """Every cache (sweep cells, compiled builds) of a test session lives in a fresh folder."""
    folder = tempfile.mkdtemp(prefix="evsim-test-cache-")
    os.environ["EVSIM_CACHE_DIR"] = folder
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


@pytest.fixture
def seed():
    return 20261123
