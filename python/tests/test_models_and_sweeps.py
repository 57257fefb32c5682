import csv
import os
import shutil

import numpy as np
import pytest

import tessera

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "examples", "fashion_mnist", "fmnist_cnn.onnx")


def test_onnx_model_lists_modules_and_runs():
    model = tessera.Model.load_onnx(MODEL)
    assert [m["type"] for m in model.modules][:1] == ["Conv2d"]
    x = np.random.RandomState(0).randn(4, 1, 28, 28).astype(np.float32)
    assert model(x).shape == (4, 10)


def test_perfect_analog_conversion_of_an_onnx_model_keeps_its_outputs():
    model = tessera.Model.load_onnx(MODEL)
    analog, report = tessera.convert_to_analog(model, tessera.load_preset("ideal"))
    assert {row["became"] for row in report} >= {"AnalogConv2d", "AnalogLinear"}
    x = np.random.RandomState(0).randn(8, 1, 28, 28).astype(np.float32)
    np.testing.assert_allclose(analog(x), model(x), rtol=1e-4, atol=1e-4)


def test_model_errors_are_python_exceptions_with_the_file_name(tmp_path):
    with pytest.raises(tessera.ModelError, match="missing.onnx"):
        tessera.Model.load_onnx(str(tmp_path / "missing.onnx"))
    model = tessera.Model.load_onnx(MODEL)
    with pytest.raises(tessera.ModelError, match="exclude: 'nope' is not a module of"):
        tessera.convert_to_analog(model, exclude=["nope"])
    with pytest.raises(ValueError):
        model(np.zeros((2, 3, 28, 28), np.float32))


def test_sweep_runs_from_python_and_writes_results_pandas_reads(tmp_path):
    sweep = tmp_path / "tiny.yaml"
    text = open(os.path.join(ROOT, "tests", "data", "sweeps", "tiny.yaml")).read()
    sweep.write_text(text.replace("../../../examples/fashion_mnist/fmnist_cnn.onnx", MODEL))
    assert tessera.sweep_run_count(sweep) == 10
    summary = tessera.run_sweep(sweep, output_directory=tmp_path / "out")
    assert summary["computed"] == 10 and summary["missing"] == 0
    with open(tmp_path / "out" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 10 and all(0.0 <= float(r["top1"]) <= 1.0 for r in rows)
    assert tessera.run_sweep(sweep, output_directory=tmp_path / "out")["already_done"] == 10
