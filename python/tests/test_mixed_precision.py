"""Per-layer sensitivity and mixed precision from it: the greedy search respects the budget and
narrows the layers that cost least per bit saved; end to end from a sweep's layer_top1 columns
to a CSV + PNG and to a QuantizationMap that converts the bundled CNN with the chosen widths."""
import csv
import os

import pytest

import tessera

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FMNIST = "/usr/share/datasets/fashion-mnist/"


def cnn_sweep(path, body):
    """Writes a sweep file of the bundled CNN on 64 test images (calibrated on them) with `body`."""
    data = (f"  images: {FMNIST}t10k-images-idx3-ubyte.gz\n  labels: {FMNIST}t10k-labels-idx1-ubyte.gz\n"
            "  normalization: {mean: 0.2860, std: 0.3530}\n  limit: 64\n")
    path.write_text(f"model: {ROOT}/examples/fashion_mnist/fmnist_cnn.onnx\ndata:\n{data}calibration:\n{data}{body}")
    return path


def test_the_greedy_search_meets_the_budget_narrowing_the_cheapest_layers_first():
    # Lost metric per parameter bit saved: c 8->4 1.25e-6, c 4->2 2.5e-6, a 8->4 3.75e-6, b 8->4
    # 5e-5: c goes to 2 bits, then a to 4, and the mean is (4000 + 8000 + 200) / 2100 = 5.8.
    sensitivity = {"a": {8: 0.90, 4: 0.885, 2: 0.50},   # cheap to take to 4 bits, not to 2
                   "b": {8: 0.90, 4: 0.70, 2: 0.60},    # expensive at 4
                   "c": {8: 0.90, 4: 0.8995, 2: 0.899}, # almost free
                   "relu": {8: 0.90, 4: 0.90}}          # no weights: left out
    parameters = {"a": 1000, "b": 1000, "c": 100, "relu": 0}
    widths = tessera.choose_mixed_precision(sensitivity, parameters, budget_bits=6.0)
    assert "relu" not in widths
    assert tessera.mixed_precision.mean_bits(widths, parameters) <= 6.0
    assert widths == {"a": 4, "b": 8, "c": 2}
    assert tessera.choose_mixed_precision(sensitivity, parameters, budget_bits=8.0) == {"a": 8, "b": 8, "c": 8}
    with pytest.raises(ValueError, match="below the narrowest candidates' mean"):
        tessera.choose_mixed_precision(sensitivity, parameters, budget_bits=1.5)
    # A model-size budget: 1,600 bytes of weights is a mean of 6.1 bits over 2,100 parameters.
    by_size = tessera.choose_mixed_precision(sensitivity, parameters, budget_bytes=1600)
    assert tessera.mixed_precision.weight_bytes(by_size, parameters) <= 1600 and by_size == widths
    assert tessera.mixed_precision.weight_bytes({"a": 8, "b": 8, "c": 8}, parameters) == 2100
    with pytest.raises(ValueError, match="give budget_bits .* or budget_bytes"):
        tessera.choose_mixed_precision(sensitivity, parameters, budget_bits=6.0, budget_bytes=1600)
    with pytest.raises(ValueError, match="no parameter count for b"):
        tessera.choose_mixed_precision(sensitivity, {"a": 1, "c": 1, "relu": 0}, budget_bits=6.0)


def test_from_a_sweeps_sensitivity_to_a_map_that_converts_the_model(tmp_path):
    sweep = cnn_sweep(tmp_path / "sensitivity.yaml",
                      "hardware:\n  w8: {quantization: {preset: digital_int8}}\n"
                      "  w4: {quantization: {preset: digital_int4_w_int8_a}}\n"
                      "sweep: {product: {hardware: [w8, w4]}}\nmetrics: [top1, layer_top1]\n")
    tessera.run_sweep(str(sweep), output_directory=str(tmp_path / "out"))
    sensitivity = tessera.sensitivity_from_results(str(tmp_path / "out" / "results.csv"), {"w8": 8, "w4": 4})
    assert {"features.0", "features.3", "classifier.1", "classifier.3"} <= set(sensitivity)
    model = tessera.Model.load_onnx(f"{ROOT}/examples/fashion_mnist/fmnist_cnn.onnx")
    modules = {m["name"]: m for m in model.modules}
    parameters = {name: m["parameter_count"] for name, m in modules.items()}
    widths = tessera.choose_mixed_precision(sensitivity, parameters, budget_bits=6.0)
    assert tessera.mixed_precision.mean_bits(widths, parameters) <= 6.0
    assert widths["classifier.1"] == 4  # 200k of the 206k parameters: the budget needs it narrowed
    qmap = tessera.mixed_precision_map(tessera.load_preset("digital_int8"), widths,
                                       {name: m["type"] for name, m in modules.items()})
    converted = tessera.convert_onnx_to_quantized(model, qmap)
    for layer, bits in widths.items():
        assert converted.plan.find(layer).qconfig.weight_quant.n_bits == bits, layer
    with pytest.raises(ValueError, match="no layer_top1.<module> columns"):
        tessera.sensitivity_from_results(str(tmp_path / "out" / "results.csv"), {"int8": 8})
    written = tessera.write_sensitivity(str(tmp_path / "out" / "results.csv"), tmp_path / "plots", {"w8": 8, "w4": 4})
    with open(written["csv"]) as f:
        table = list(csv.DictReader(f))
    assert {(r["module"], r["bits"]) for r in table} >= {("classifier.1", "4"), ("classifier.1", "8")}
    assert all(0.0 <= float(r["all_but_top1"]) <= 1.0 for r in table)
    assert os.path.getsize(written["png"]) > 10000


def test_analyze_returns_each_layers_sensitivity(tmp_path):
    sweep = cnn_sweep(tmp_path / "analyze.yaml", "hardware:\n  w4: {quantization: {preset: digital_int4_w_int8_a}}\n"
                      f"output: {{directory: {tmp_path / 'out'}}}\n")
    rows = tessera.analyze(str(sweep))
    assert [row["module"] for row in rows][:2] == ["features.0", "features.1"]
    assert all(row["hardware"] == "w4" and row["drop"] == pytest.approx(row["float_top1"] - row["layer_top1"])
               for row in rows)
    assert (tmp_path / "out" / "analyze" / "sensitivity.csv").exists()  # beside the sweep's own folder
    assert tessera.analyze(str(sweep)) == rows  # resumed: nothing recomputed, the same rows

