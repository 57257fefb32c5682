"""Per-layer quantization sensitivity from a sweep (AIMET's QuantAnalyzer per-layer analysis).
`tessera.analyze("file.yaml")` (or `tessera analyze file.yaml`) runs a sweep file's points this
way and returns sensitivity.csv's rows, one per point and layer. By hand: run the model with `metrics: [top1, layer_top1]` (and `layer_snr` for each layer's own output
SNR) on one quantization hardware per weight width, then

    sensitivity = tessera.sensitivity_from_results("out/results.csv", {"w8": 8, "w4": 4})
    tessera.write_sensitivity("out/results.csv", "out", {"w8": 8, "w4": 4})   # CSV + PNG

`layer_top1.<module>` is top-1 with only that module on its hardware, `all_but_top1.<module>`
with every converted module but it.
"""
import csv
import os
from typing import Dict, List, Mapping, Union

import numpy as np


def _rows(results_csv, bits_of_hardware):
    with open(results_csv, newline="") as f:
        return [row for row in csv.DictReader(f) if row.get("hardware", "") in bits_of_hardware]


def _means(rows, prefix):
    """{module: mean over rows of column prefix + module}."""
    values: Dict[str, List[float]] = {}
    for row in rows:
        for column, value in row.items():
            if column.startswith(prefix) and value not in ("", None):
                values.setdefault(column[len(prefix):], []).append(float(value))
    return {module: sum(v) / len(v) for module, v in values.items()}


def sensitivity_from_results(results_csv: str, bits_of_hardware: Mapping[str, int],
                             metric: str = "layer_top1") -> Dict[str, Dict[int, float]]:
    """{layer: {bits: metric}} from a sweep's results.csv whose rows ran `metrics: [layer_top1]`
    on one hardware per bit width (bits_of_hardware: hardware name -> weight bits); the mean over
    the rows (seeds) of each hardware."""
    result: Dict[str, Dict[int, float]] = {}
    for hardware, bits in bits_of_hardware.items():
        for module, value in _means(_rows(results_csv, {hardware: bits}), metric + ".").items():
            result.setdefault(module, {})[bits] = value
    if not result:
        raise ValueError(f"{results_csv}: no {metric}.<module> columns for hardware {sorted(bits_of_hardware)} "
                         f"(run the sweep with metrics: [{metric}])")
    return result


def write_sensitivity(results_csv: str, directory: Union[str, os.PathLike],
                      bits_of_hardware: Mapping[str, int]) -> Dict[str, str]:
    """Writes sensitivity.csv (module, hardware, bits, layer_top1, all_but_top1, layer_snr_db
    where measured) and sensitivity.png (per layer and width: top-1 with only it quantized and
    with all but it, against the whole hardware's) into `directory`; returns {kind: path}."""
    os.makedirs(directory, exist_ok=True)
    written = {"csv": os.path.join(directory, "sensitivity.csv"), "png": os.path.join(directory, "sensitivity.png")}
    table = []
    whole = {}
    for hardware, bits in bits_of_hardware.items():
        rows = _rows(results_csv, {hardware: bits})
        if not rows:
            raise ValueError(f"{results_csv}: no rows of hardware '{hardware}'")
        whole[hardware] = float(np.mean([float(r["top1"]) for r in rows]))
        alone, rest, snr = (_means(rows, p) for p in ("layer_top1.", "all_but_top1.", "layer_snr_db."))
        if not alone:
            raise ValueError(f"{results_csv}: hardware '{hardware}' ran without metrics: [layer_top1]")
        for module in alone:
            table.append({"module": module, "hardware": hardware, "bits": bits, "layer_top1": alone[module],
                          "all_but_top1": rest.get(module, ""), "layer_snr_db": snr.get(module, "")})
    with open(written["csv"], "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)

    import matplotlib  # only here: the table does not need it
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    modules = list(dict.fromkeys(r["module"] for r in table))
    hardware_names = list(bits_of_hardware)
    figure, axes = plt.subplots(1, 2, figsize=(12, 1.5 + 0.45 * len(modules)), sharey=True)
    height = 0.8 / len(hardware_names)
    # The differences are tenths of a point: the axes span the values, not 0-100.
    shown = [100.0 * float(r[c]) for r in table for c in ("layer_top1", "all_but_top1") if r[c] != ""]
    shown += [100.0 * v for v in whole.values()]
    limits = (min(shown) - 0.5, max(shown) + 0.5)
    for k, hardware in enumerate(hardware_names):
        by_module = {r["module"]: r for r in table if r["hardware"] == hardware}
        positions = np.arange(len(modules)) + k * height
        for axis, column in zip(axes, ("layer_top1", "all_but_top1")):
            values = [100.0 * float(by_module[m][column]) if m in by_module and by_module[m][column] != "" else np.nan
                      for m in modules]
            bars = axis.barh(positions, values, height=height, label=f"{hardware} ({bits_of_hardware[hardware]} bits)")
            axis.axvline(100.0 * whole[hardware], color=bars.patches[0].get_facecolor(), linestyle="--", linewidth=1)
    axes[0].set_yticks(np.arange(len(modules)) + 0.4 - height / 2, modules)
    axes[0].invert_yaxis()
    axes[0].set_title("top-1 %, only this layer quantized")
    axes[1].set_title("top-1 %, every layer but this one")
    for axis in axes:
        axis.set_xlim(*limits)
        axis.set_xlabel("top-1 % (dashed: every layer quantized)")
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    figure.tight_layout()
    figure.savefig(written["png"], dpi=120)
    plt.close(figure)
    return written
