"""Noise budget of an analog model: which layer and which noise source cost what.

For every analog layer, the model runs with only that layer on tiles, once with every noise
source of the config on, once with each source alone (the others off) and once with none; each
run's error is its output's mean squared difference from the float model's on the same inputs.
Sources that are independent add in power, so the single-source errors of a layer sum to about
its all-sources error. With drift compensation on they do not: output noise and the ADC bias
the compensation readout, so drift and the periphery together scale the layer's output wrongly
(docs/tiles.md). The row "compensation readout" holds that part: all sources with the
configured readout minus all sources with an unbiased one (CORRELATION, 16 reads). The row
"interaction" holds what is left (all - none - each source's excess over none - the readout's
part). A scale of the last layer does not change a classifier's decisions, so every row also
has the error left after the best single gain on the outputs; a scale of an inner layer can,
where a digital BatchNorm after it subtracts a fixed mean (docs/models.md, the deep model).

    rows = tessera.noise_budget(model, tessera.load_preset("pcm_inference"), images, t_inference=86400)
    tessera.write_noise_budget(rows, "budget")     # budget/noise_budget.csv and .png
"""
import csv
import math
import os
from typing import Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

from ._core import ConfigError, InferenceRPUConfig, Model
from ._onnx_conversion import convert_onnx_to_analog

# (source, config path that turns it off at 0): aihwkit's noise sources in an inference tile.
SOURCES = [
    ("programming", "noise_model.prog_noise_scale"),
    ("drift", "noise_model.drift_scale"),
    ("read noise", "noise_model.read_noise_scale"),
    ("weight noise", "forward.w_noise"),
    ("DAC", "forward.inp_res"),
    ("output noise", "forward.out_noise"),
    ("ADC", "forward.out_res"),
]

# Noise models whose programming, drift and read noise have the scales SOURCES switches off; for
# others those terms would stay on in every row, so they are refused.
SEPARABLE_NOISE_MODELS = ("PCMLikeNoiseModel", "CustomDriftPCMLikeNoiseModel", "NullNoiseModel")

# The readout that leaves the compensation factor unbiased (to 0.7 % std at 16 reads, docs/tiles.md).
UNBIASED_READOUT = (("drift_compensation.readout", "CORRELATION"), ("drift_compensation.reads", 16))

Row = Dict[str, Union[str, float]]


def _setting(config: InferenceRPUConfig, path: str) -> Optional[float]:
    """The source's setting in `config`, or None where the config has no such field (the noise
    model in use has no such term)."""
    try:
        value = config.get(path)
    except ConfigError:  # the field does not exist for this noise model
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def active_sources(rpu_config: InferenceRPUConfig) -> List[str]:
    """The sources `rpu_config` switches on (setting present and not 0)."""
    return [name for name, path in SOURCES if _setting(rpu_config, path) not in (None, 0.0)]


def _quiet(rpu_config: InferenceRPUConfig) -> InferenceRPUConfig:
    quiet = rpu_config.copy()
    active = active_sources(rpu_config)
    for name, path in SOURCES:
        if name in active:
            quiet.set(path, 0)
    return quiet


def _outputs(model: Model, inputs: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate([model(inputs[i:i + batch_size]) for i in range(0, len(inputs), batch_size)])


def _analog_modules(model: Model, rpu_config: InferenceRPUConfig) -> List[str]:
    plan = convert_onnx_to_analog(model, rpu_config).plan
    return [m.module for m in plan.modules if m.analog is not None]


def _db(signal: float, noise: float) -> float:
    return math.inf if noise == 0.0 else 10.0 * math.log10(signal / noise)


def _difference_row(module: str, source: str, t_inference: float, signal: float) -> Row:
    """A row computed from others (no run of its own): no SNR or gain."""
    return {"module": module, "source": source, "t_inference": float(t_inference), "signal_power": signal,
            "snr_db": math.nan, "gain": math.nan, "snr_after_gain_db": math.nan}


def noise_budget(model: Model, rpu_config: InferenceRPUConfig, inputs: np.ndarray, t_inference: float = 0.0,
                 seed: int = 0, modules: Optional[Sequence[str]] = None, batch_size: int = 256) -> List[Row]:
    """Rows for every analog layer (or those named in `modules`) and source "all", each active
    source alone, "compensation readout" (with drift compensation on), "interaction" and
    "none": noise_power is the output's mean squared error
    against the float model (snr_db its SNR), gain the best single factor on the outputs and
    noise_power_after_gain the error left after it (snr_after_gain_db), which is what can change
    a classifier's decisions; share and share_after_gain are a row's over the layer's
    all-sources value. The same seed draws the same noise in every row. pandas.DataFrame(rows)
    reads them."""
    kind = rpu_config.get("noise_model.type")
    if kind not in SEPARABLE_NOISE_MODELS:
        raise ValueError(f"noise_budget: the sources of {kind} cannot be switched off one by one yet "
                         f"(supported: {', '.join(SEPARABLE_NOISE_MODELS)})")
    inputs = np.asarray(inputs, dtype=np.float32)
    if len(inputs) == 0:
        raise ValueError("noise_budget: no inputs")
    reference = _outputs(model, inputs, batch_size).astype(np.float64)
    signal = float(np.mean(reference ** 2))
    analog = _analog_modules(model, rpu_config)
    chosen = list(analog if modules is None else modules)
    unknown = [m for m in chosen if m not in analog]
    if unknown:
        raise ValueError(f"noise_budget: {unknown} are not analog layers of the model (those are {analog})")
    quiet = _quiet(rpu_config)
    sources = active_sources(rpu_config)
    compensated = rpu_config.get("drift_compensation.type") != "None"
    rows: List[Row] = []
    for module in chosen:
        others = [m for m in analog if m != module]
        layer_rows = []
        for source in ["all"] + sources + ["none"] + (["unbiased readout"] if compensated else []):
            config = rpu_config.copy() if source in ("all", "unbiased readout") else quiet.copy()
            if source in sources:
                path = dict(SOURCES)[source]
                config.set(path, _setting(rpu_config, path))
            if source == "unbiased readout":
                for path, value in UNBIASED_READOUT:
                    config.set(path, value)
            converted = convert_onnx_to_analog(model, config, exclude_modules=others, seed=seed)
            converted.drift(float(t_inference))
            outputs = _outputs(converted, inputs, batch_size).astype(np.float64)
            noise = float(np.mean((outputs - reference) ** 2))
            # The best single gain on the outputs: a classifier's decisions ignore it, so what
            # remains after it is the error that can change them.
            power = float(np.sum(outputs * outputs))
            gain = float(np.sum(outputs * reference)) / power if power > 0 else 1.0
            after_gain = float(np.mean((gain * outputs - reference) ** 2))
            layer_rows.append({"module": module, "source": source, "t_inference": float(t_inference),
                               "noise_power": noise, "signal_power": signal, "snr_db": _db(signal, noise),
                               "gain": gain, "noise_power_after_gain": after_gain,
                               "snr_after_gain_db": _db(signal, after_gain)})
        # The readout's part: all - all with an unbiased readout. Then what the sources do
        # together beyond that and their sum: all - none - sum(alone - none) - readout's part.
        parts = []
        if compensated:
            unbiased = layer_rows.pop()
            readout = _difference_row(module, "compensation readout", t_inference, signal)
            for key in ("noise_power", "noise_power_after_gain"):
                readout[key] = layer_rows[0][key] - unbiased[key]
            parts.append(readout)
        interaction = _difference_row(module, "interaction", t_inference, signal)
        for key in ("noise_power", "noise_power_after_gain"):
            floor = layer_rows[-1][key]
            interaction[key] = (layer_rows[0][key] - floor - sum(r[key] - floor for r in layer_rows[1:-1]) -
                                sum(p[key] for p in parts))
        parts.append(interaction)
        layer_rows[-1:-1] = parts
        for key, share in (("noise_power", "share"), ("noise_power_after_gain", "share_after_gain")):
            total = layer_rows[0][key]
            for row in layer_rows:
                row[share] = row[key] / total if total > 0 else 0.0
        rows.extend(layer_rows)
    return rows


def write_noise_budget(rows: Iterable[Row], directory: Union[str, os.PathLike]) -> Dict[str, str]:
    """Writes noise_budget.csv and noise_budget.png (per layer: the SNR after the best gain with
    every source on, and each source's share of that error) into `directory`; returns {kind: path}."""
    rows = list(rows)
    os.makedirs(directory, exist_ok=True)
    written = {"csv": os.path.join(directory, "noise_budget.csv"), "png": os.path.join(directory, "noise_budget.png")}
    columns = ["module", "source", "t_inference", "signal_power", "noise_power", "snr_db", "share", "gain",
               "noise_power_after_gain", "snr_after_gain_db", "share_after_gain"]
    with open(written["csv"], "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    import matplotlib  # only here: the budget itself does not need it
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    modules = list(dict.fromkeys(str(r["module"]) for r in rows))
    sources = list(dict.fromkeys(str(r["source"]) for r in rows if r["source"] not in ("all", "none")))
    # A negative interaction (sources partly cancelling) has no bar.
    share = {(r["module"], r["source"]): float(r["share_after_gain"]) for r in rows}
    snr = {r["module"]: float(r["snr_after_gain_db"]) for r in rows if r["source"] == "all"}
    figure, axes = plt.subplots(figsize=(10, 1.4 + 0.5 * len(modules)))
    left = np.zeros(len(modules))
    for source in sources:
        widths = np.array([max(share.get((m, source), 0.0), 0.0) for m in modules])
        axes.barh(modules, widths, left=left, label=source)
        left += widths
    axes.set_yticks(range(len(modules)), [f"{m} ({snr[m]:.1f} dB)" for m in modules])
    axes.invert_yaxis()
    axes.set_xlabel("share of the layer's output error after the best gain (each source alone / all sources)")
    axes.set_title(f"noise budget at t = {float(rows[0]['t_inference']):g} s (SNR after gain, every source on)")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    figure.tight_layout()
    figure.savefig(written["png"], dpi=120)
    plt.close(figure)
    return written
