"""Mixed precision from per-layer sensitivity (AIMET's choose_mixed_precision, its greedy phase).

Given, for each layer, the metric with only that layer quantized at each candidate bit width (a
sweep's `layer_top1` columns, one hardware per width: tessera.sensitivity_from_results), and each
layer's parameter count, `choose_mixed_precision` starts every layer at its widest candidate and
narrows, one step at a time, the layer whose next narrower width costs the least metric per
parameter bit saved, until the parameter-weighted mean width meets the budget.
`mixed_precision_map` writes the result as a QuantizationMap (instance entries), so a sweep or a
conversion can run it:

    sensitivity = tessera.sensitivity_from_results("results/q/results.csv", {"w8": 8, "w4": 4})
    modules = {m["name"]: m for m in tessera.Model.load_onnx("model.onnx").modules}
    parameters = {name: m["parameter_count"] for name, m in modules.items()}
    widths = tessera.choose_mixed_precision(sensitivity, parameters, budget_bits=6.0)
    qmap = tessera.mixed_precision_map(tessera.load_preset("digital_int8"), widths,
                                       {name: m["type"] for name, m in modules.items()})
    open("mixed.yaml", "w").write(qmap.to_yaml())
"""
from typing import Dict, Mapping, Optional

from . import _core

def mean_bits(widths: Mapping[str, int], parameters: Mapping[str, int]) -> float:
    """Parameter-weighted mean weight width."""
    total = sum(parameters[layer] for layer in widths)
    return sum(widths[layer] * parameters[layer] for layer in widths) / total


def weight_bytes(widths: Mapping[str, int], parameters: Mapping[str, int]) -> float:
    """The quantized weights' size in bytes (bits x parameters / 8 over the layers)."""
    return sum(widths[layer] * parameters[layer] for layer in widths) / 8


def choose_mixed_precision(sensitivity: Mapping[str, Mapping[int, float]], parameters: Mapping[str, int],
                           budget_bits: Optional[float] = None, budget_bytes: Optional[float] = None
                           ) -> Dict[str, int]:
    """{layer: bits} within the budget, chosen greedily: the metric lost per parameter bit saved
    decides which layer narrows next (a higher metric is better); layers with no parameters are
    left out. The budget is an average width (budget_bits: mean_bits(result) <= budget_bits) or a
    model size (budget_bytes: weight_bytes(result) <= budget_bytes); give one. Raises ValueError
    when a layer has no parameter count or even the narrowest widths exceed the budget."""
    if (budget_bits is None) == (budget_bytes is None):
        raise ValueError("choose_mixed_precision: give budget_bits (mean width) or budget_bytes (model size), "
                         "one of them")
    missing = [layer for layer in sensitivity if layer not in parameters]
    if missing:
        raise ValueError(f"no parameter count for {', '.join(sorted(missing))}")
    # Modules without weights (a quantized ReLU) have no weight width to choose.
    sensitivity = {layer: by_bits for layer, by_bits in sensitivity.items() if parameters[layer] > 0}
    if not sensitivity:
        raise ValueError("no layer with weights to choose widths for")
    if budget_bytes is not None:  # a size is a mean width over these layers' parameters
        budget_bits = 8 * budget_bytes / sum(parameters[layer] for layer in sensitivity)
    widths = {layer: max(by_bits) for layer, by_bits in sensitivity.items()}
    narrowest = {layer: min(by_bits) for layer, by_bits in sensitivity.items()}
    if mean_bits(narrowest, parameters) > budget_bits:
        raise ValueError(f"the budget of {budget_bits} bits is below the narrowest candidates' mean "
                         f"({mean_bits(narrowest, parameters):.3f})")
    while mean_bits(widths, parameters) > budget_bits:
        best, best_cost = None, None
        for layer, by_bits in sensitivity.items():
            narrower = [bits for bits in by_bits if bits < widths[layer]]
            if not narrower:
                continue
            step = max(narrower)
            lost = by_bits[widths[layer]] - by_bits[step]
            cost = lost / (parameters[layer] * (widths[layer] - step))
            if best_cost is None or cost < best_cost or (cost == best_cost and layer < best[0]):
                best, best_cost = (layer, step), cost
        widths[best[0]] = best[1]
    return widths


def mixed_precision_map(base: _core.QuantizationMap, widths: Mapping[str, int],
                        types: Mapping[str, str]) -> _core.QuantizationMap:
    """`base` with an instance_qconfig_map entry per layer of `widths`: the config `base` gives the
    layer (its instance entry, else its type's, types: layer -> module type) with the chosen weight
    width. Raises ValueError for a layer `base` does not quantize."""
    result = base.copy()
    instances = base.get("instance_qconfig_map")
    by_type = base.get("module_qconfig_map")
    for layer, bits in widths.items():
        config = instances.get(layer) or by_type.get(types.get(layer, ""))
        if config is None:
            raise ValueError(f"mixed_precision_map: the map quantizes no '{layer}' (type {types.get(layer)!r})")
        result.set(f"instance_qconfig_map.{layer}", config)
        result.set(f"instance_qconfig_map.{layer}.module_qconfig.weight_quant.n_bits", int(bits))
    return result
