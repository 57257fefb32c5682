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
    # pandas reads both tables as they are: metrics and swept numbers as numbers, one row per run
    # (results) or point (aggregate), the hardware names as text.
    import pandas as pd
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    aggregate = pd.read_csv(tmp_path / "out" / "aggregate.csv")
    assert len(results) == 10 and len(aggregate) == 5
    for column in ("top1", "top3", "loss", "seed", "t_inference", "samples", "seconds"):
        assert pd.api.types.is_numeric_dtype(results[column]), column
    for column in ("n_seeds", "top1_mean", "top1_std", "top1_ci95"):
        assert pd.api.types.is_numeric_dtype(aggregate[column]), column
    assert set(results["hardware"]) == {"pcm", "int8"} and (aggregate["n_seeds"] == 2).all()
    pcm = results[results["hardware"] == "pcm"]
    assert sorted(pcm["analog.forward.out_res"].unique()) == [62, 254]
    assert results["run_id"].is_unique and "point_id" not in results  # one id per (point, seed)
    settings = ["hardware", "analog.forward.out_res", "t_inference"]
    means = results.groupby(settings, dropna=False)["top1"].mean().reset_index()
    joined = aggregate.merge(means, on=settings, how="outer", validate="one_to_one")
    assert len(joined) == 5 and (joined["top1_mean"] - joined["top1"]).abs().max() < 1e-9
    assert tessera.run_sweep(sweep, output_directory=tmp_path / "out")["already_done"] == 10


def test_sweep_evaluates_an_exported_torch_model_with_its_own_encodings(tmp_path):
    import torch
    from torch import nn

    from tessera.torch import compute_encodings, convert_to_quantized, export_onnx

    fmnist = "/usr/share/datasets/fashion-mnist/"
    images, labels = tessera.load_idx_dataset(fmnist + "t10k-images-idx3-ubyte.gz",
                                              fmnist + "t10k-labels-idx1-ubyte.gz", 0.286, 0.353, 64)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 5, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 12 * 12, 10)).eval()
    quantized = convert_to_quantized(net, tessera.load_preset("digital_int8"))
    with compute_encodings(quantized):
        quantized(torch.from_numpy(images[:32]))
    files = export_onnx(quantized, torch.from_numpy(images[:2]), str(tmp_path / "net.onnx"))
    with torch.no_grad():
        torch_top1 = float((quantized(torch.from_numpy(images)).argmax(1).numpy() == labels).mean())
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"""
model: net.onnx
data:
  images: {fmnist}t10k-images-idx3-ubyte.gz
  labels: {fmnist}t10k-labels-idx1-ubyte.gz
  normalization: {{mean: 0.286, std: 0.353}}
  limit: 64
hardware:
  exported: {{quantization: {{preset: digital_int8, encodings: {os.path.basename(files["encodings"])}}}}}
sweep:
  grids:
    - set: {{hardware: exported}}
metrics: [top1]
output: {{directory: results, plot: false}}
""")
    summary = tessera.run_sweep(sweep, output_directory=tmp_path / "results")
    with open(os.path.join(summary["directory"], "results.csv")) as f:
        (row,) = list(csv.DictReader(f))
    assert float(row["top1"]) == pytest.approx(torch_top1, abs=1e-9)


def test_bad_sweep_files_and_data_paths_raise_with_their_position(tmp_path):
    sweep = tmp_path / "bad.yaml"
    sweep.write_text(f"model: {MODEL}\ndata: {{images: a, labels: b}}\nhardware: {{}}\nsweeps: 3\n")
    with pytest.raises(tessera.ConfigError, match=r"bad.yaml:4:1: .*unknown key 'sweeps'.*did you mean 'sweep'"):
        tessera.run_sweep(sweep)
    with pytest.raises(Exception, match="/nonexistent/images.gz"):
        tessera.load_idx_dataset("/nonexistent/images.gz", "/nonexistent/labels.gz")


def test_ctrl_c_stops_a_sweep_within_a_second_and_the_rerun_resumes(tmp_path):
    import signal
    import threading
    import time

    sweep = tmp_path / "long.yaml"
    sweep.write_text(f"""
model: {MODEL}
data: {{images: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz,
        labels: /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz, limit: 300, batch_size: 50}}
hardware:
  pcm: {{analog: {{preset: pcm_inference}}}}
sweep:
  repeats: 20
  product: {{t_inference: [0, 1h, 1d]}}
output: {{directory: {tmp_path / 'out'}, plot: false}}
""")
    points = tmp_path / "out" / "points.jsonl"
    sent = []

    def interrupt_after_the_first_point():
        # Waits for a finished point rather than a fixed time: a loaded machine may need more
        # than a second to load the model and data, and then nothing would be kept to resume.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (points.exists() and points.read_text().count("\n")):
            time.sleep(0.01)
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Thread(target=interrupt_after_the_first_point)
    # Python raises KeyboardInterrupt only where SIGINT was not ignored when it started; a job
    # started in the background by a non-interactive shell inherits SIG_IGN (CI did).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            tessera.run_sweep(str(sweep))
        stopped = time.monotonic()
        timer.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert stopped - sent[0] < 1.0  # within a batch, not after 60 runs
    kept = points.read_text().count("\n")
    assert 0 < kept < 60
    summary = tessera.run_sweep(str(sweep))  # resumes: nothing finished runs again
    assert summary["already_done"] == kept and summary["computed"] == 60 - kept


def test_an_error_in_the_calibration_callback_reaches_the_caller_unchanged():
    quantized, _ = tessera.convert_to_quantized(tessera.Model.load_onnx(MODEL), tessera.load_preset("digital_int8"))

    class Mine(Exception):
        pass

    def feed(model):
        raise Mine("the data loader failed")

    with pytest.raises(Mine, match="the data loader failed"):  # not "observed no finite values"
        quantized.compute_encodings(feed)
    images = np.random.default_rng(0).normal(size=(8, 1, 28, 28)).astype(np.float32)
    quantized.compute_encodings(lambda model: model.forward(images))  # and the model is still usable
    assert quantized.forward(images).shape == (8, 10)


def test_a_preset_that_is_not_yaml_is_quoted_in_a_short_message():
    with pytest.raises(tessera.ConfigError) as error:
        tessera.load_preset("/etc/passwd")
    assert len(str(error.value)) < 300 and "characters)" in str(error.value)


def test_a_model_without_outputs_is_refused_when_loaded():
    path = os.path.join(ROOT, "tests", "data", "onnx", "no_outputs.onnx")
    with pytest.raises(tessera.ModelError, match="no_outputs.onnx: the graph has no outputs"):
        tessera.Model.load_onnx(path)
