"""Tests import the build tree's package: PYTHONPATH=build/python (scripts/test.sh sets it)."""
import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _fixed_seeds():
    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(2)
