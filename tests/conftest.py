import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture
def seed():
    return 20261123
