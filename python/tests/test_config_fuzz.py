"""A seeded fuzz of Python values written to config fields: every value is either stored faithfully
(it reads back as what was written) or refused with a ConfigError, TypeError or ValueError;
nothing crashes, nothing is coerced silently. TESSERA_TEST_SEED replays a run."""
import math
import os
import random

import numpy as np
import pytest
import torch

import tessera

SEED = int(os.environ.get("TESSERA_TEST_SEED", "20261122"))


def leaf_paths(config):
    paths = []

    def walk(value, prefix):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{prefix}.{key}" if prefix else key)
        else:
            paths.append(prefix)

    walk(config.to_dict(), "")
    return paths


def random_value(rng, depth=0):
    kind = rng.randrange(14 if depth < 3 else 10)
    if kind == 0:
        return rng.choice([0, 1, -1, 7, 2**31, -(2**40), 10**30])
    if kind == 1:
        return rng.choice([0.0, -0.5, 1 / 254, 1e308, float("nan"), float("inf"), -1e-30])
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return rng.choice(["", "1", "3.0", "true", "null", "ABS_MAX", "x" * 500, "é\n\t", "features.0", "1e3"])
    if kind == 4:
        return rng.choice([np.float32(0.25), np.int64(8), np.array(1 / 510), np.array([1.0, 2.0]), np.bool_(True)])
    if kind == 5:
        return rng.choice([torch.tensor(0.5), torch.tensor([1, 2]), torch.tensor(3)])
    if kind == 6:
        return rng.choice([object(), b"bytes", 1 + 2j, {1, 2}, math])
    if kind == 7:
        return float(rng.uniform(-2, 2))
    if kind == 8:
        return rng.randrange(-5, 40)
    if kind == 9:
        return rng.choice(["PCMLikeNoiseModel", "NullNoiseModel", "GlobalDriftCompensation", "None", "MSE"])
    if kind in (10, 11):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 12:
        return {rng.choice(["type", "n_bits", "a", "1"]): random_value(rng, depth + 1) for _ in range(rng.randrange(3))}
    loop = []
    loop.append(loop)
    return loop


def equivalent(written, read):
    """What a faithful write reads back as."""
    if isinstance(written, (np.ndarray, np.generic)) and np.ndim(written) == 0:
        written = written.item()
    if isinstance(written, torch.Tensor) and written.dim() == 0:
        written = written.item()
    if isinstance(written, bool) or isinstance(read, bool):
        return written == read and type(written) is type(read)
    if isinstance(written, (int, float)) and isinstance(read, (int, float)):
        return float(written) == float(read) or (math.isnan(float(written)) and math.isnan(float(read)))
    if isinstance(written, str):
        return isinstance(read, str) and (read == written or read.lower() == written.lower())
    return True  # lists, maps, variant switches: checked by the round trip below


@pytest.mark.parametrize("config_class", [tessera.InferenceRPUConfig, tessera.QuantizationMap])
def test_random_values_are_stored_faithfully_or_refused(config_class):
    rng = random.Random(SEED)
    stored = refused = 0
    for _ in range(1500):
        config = config_class()
        paths = leaf_paths(config) + ["forward", "noise_model", "module_qconfig_map.Linear", "excluded_modules"]
        path = rng.choice(paths)
        value = random_value(rng)
        try:
            config.set(path, value)
        except (tessera.ConfigError, TypeError, ValueError):
            refused += 1
            continue
        stored += 1
        read = config.get(path)
        assert equivalent(value, read), (path, value, read)
        assert config_class.from_yaml(config.to_yaml()) == config  # what is stored saves and loads alike
    assert stored > 100 and refused > 100, (stored, refused)
