"""Six ordinary torch architectures (model_zoo.py) through both front ends: nothing skipped
silently, the same plan on both paths, the same numbers where the arithmetic allows."""
import csv

import numpy as np
import pytest
import torch

import tessera
from tessera.torch import (compute_encodings, convert_to_analog, convert_to_quantized, export_onnx,
                           program_analog_weights)
from tessera.torch.analog import AnalogLayer

import model_zoo

NAMES = list(model_zoo.ZOO)
# Left digital on purpose where a model has them: an Embedding is a table lookup, no product.
EXCLUDED = {"lstm": ["embedding"]}
VOCABULARY = set(tessera._core.torch_module_types())


def relative(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def onnx_of(model, x, tmp_path, name):
    path = str(tmp_path / f"{name}.onnx")
    with torch.enable_grad():  # under no_grad torch takes fused kernels it cannot export
        torch.onnx.export(model, x, path, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=13)
    return path


@pytest.mark.parametrize("name", NAMES)
def test_ideal_analog_conversion_equals_the_float_model_and_reports_every_weight(name):
    model, x = model_zoo.build(name)
    analog = convert_to_analog(model, tessera.load_preset("ideal"), exclude_modules=EXCLUDED.get(name, ()),
                               strict=True)
    with torch.no_grad():  # eval + no_grad: torch's fused transformer path would apply
        assert relative(analog(x), model(x)) < 1e-5
    report = {row["module"]: row for row in analog.tessera_conversion_report}
    for module_name, module in model.named_modules():
        if any(p is not None for p in module._parameters.values()):
            row = report[module_name]  # every module holding weights is in the report
            assert row["became"] != "unchanged" or row["rule"].startswith(("exclude", "stays digital", "type not")), row
    with pytest.raises(tessera.ModelError, match="strict") if name in EXCLUDED else _no_error():
        convert_to_analog(model, tessera.load_preset("ideal"), strict=True)


class _no_error:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("name", NAMES)
def test_pcm_noise_reaches_every_converted_layer(name):
    model, x = model_zoo.build(name)
    analog = convert_to_analog(model, tessera.InferenceRPUConfig(), exclude_modules=EXCLUDED.get(name, ()), seed=1)
    program_analog_weights(analog)
    layers = [m for m in analog.modules() if isinstance(m, AnalogLayer)]
    converted = [row for row in analog.tessera_conversion_report if row["became"].startswith("Analog")]
    assert len(layers) == len(converted) > 0
    before = [[t.samples_seen for t in layer.analog_tiles] for layer in layers]
    with torch.no_grad():  # torch's fast paths must not skip the tiles
        y = analog(x)
    for layer, seen in zip(layers, before):
        for tiles, count in zip(layer.analog_tiles, seen):
            assert tiles.samples_seen > count, f"{tiles.name} was never run"
    with torch.no_grad():
        assert relative(y, model(x)) > 1e-4  # and the noise shows


@pytest.mark.parametrize("name", NAMES)
def test_quantized_export_reloads_into_the_same_model(name, tmp_path):
    model, x = model_zoo.build(name)
    calibration = model_zoo.build(name, batch=64, seed=1)[1]
    int8 = tessera.load_preset("digital_int8")
    quantized = convert_to_quantized(model, int8, strict=True)
    with compute_encodings(quantized):
        quantized(calibration)
    with torch.no_grad():
        expected = quantized(x).numpy()
    files = export_onnx(quantized, x, str(tmp_path / "q.onnx"))
    reloaded, _ = tessera.convert_to_quantized(tessera.Model.load_onnx(files["onnx"]), int8)
    reloaded.load_encodings(files["encodings"])
    got = reloaded.forward(x.numpy())
    # Both end on the last layer's output grid: equal, or one of its steps apart where float sums
    # ran in another order (it has been bit for bit on every model here).
    last = [m for m in quantized.modules() if getattr(m, "output_quantizers", None)][-1]
    assert np.abs(got - expected).max() <= float(last.output_quantizer.scale.max()) * 1.0001


@pytest.mark.parametrize("name", NAMES)
def test_onnx_export_runs_like_torch_and_both_front_ends_plan_alike(name, tmp_path):
    model, x = model_zoo.build(name)
    core = tessera.Model.load_onnx(onnx_of(model, x, tmp_path, name))
    with torch.no_grad():
        assert relative(core.forward(x.numpy()), model(x)) < 1e-5
    exclude = EXCLUDED.get(name, [])
    for torch_plan, onnx_plan in [
        (convert_to_analog(model, tessera.load_preset("ideal"), exclude_modules=exclude).tessera_plan,
         tessera.convert_to_analog(core, tessera.load_preset("ideal"), exclude=exclude)[0].plan),
        (convert_to_quantized(model, tessera.load_preset("digital_int8")).tessera_plan,
         tessera.convert_to_quantized(core, tessera.load_preset("digital_int8"))[0].plan),
    ]:
        onnx_modules = {m.module: m for m in onnx_plan.modules}
        compared = 0
        for entry in torch_plan.modules:
            if entry.type not in VOCABULARY or entry.type in ("Identity", "Dropout"):
                continue  # containers and what the export leaves out
            if entry.type.startswith("BatchNorm") and entry.module not in onnx_modules:
                continue  # torch.onnx.export folds eval-mode BatchNorms into the layer before them
            assert entry.module in onnx_modules, f"{entry.module} ({entry.type}) is missing from the ONNX model"
            other = onnx_modules[entry.module]
            assert (other.type, other.became) == (entry.type, entry.became), entry.module
            assert other.digital_without_exclusion == entry.digital_without_exclusion, entry.module
            compared += 1
        for other in onnx_plan.modules:  # every ONNX layer with weights is a torch module too
            if other.holds_weights and other.type in VOCABULARY:
                assert torch_plan.find(other.module) is not None, other.module
        assert compared >= 3


@pytest.mark.parametrize("name", NAMES)
def test_a_short_sweep_runs_on_each_model(name, tmp_path):
    model, x = model_zoo.build(name, batch=24, seed=2)
    onnx_path = onnx_of(model, x, tmp_path, name)
    with torch.no_grad():
        labels = model(x).argmax(1).numpy()
    images = x.numpy()
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "labels.npy", labels)
    exclude = EXCLUDED.get(name, [])
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"""
model: {onnx_path}
data: {{format: npy, images: images.npy, labels: labels.npy, batch_size: 8}}
calibration: {{format: npy, images: images.npy, labels: labels.npy}}
hardware:
  ideal: {{analog: {{preset: ideal, exclude: {exclude}}}}}
  pcm: {{analog: {{preset: pcm_inference, exclude: {exclude}}}}}
  int8: {{quantization: {{preset: digital_int8}}}}
t_inference: 0
sweep:
  seeds: [1]
  grids:
    - product: {{hardware: [ideal, int8]}}
    - set: {{hardware: pcm}}
      product: {{t_inference: [0, 1d]}}
metrics: [top1]
output: {{directory: {tmp_path / 'out'}, plot: false}}
""")
    tessera.run_sweep(str(sweep))
    with open(tmp_path / "out" / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 4
    top1 = {(row["hardware"], row["t_inference"]): float(row["top1"]) for row in rows}
    assert top1[("ideal", "")] == pytest.approx(1.0)  # labels are the float model's own predictions
    assert all(0.0 <= value <= 1.0 for value in top1.values())
