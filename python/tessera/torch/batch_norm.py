"""BatchNorm folding (AIMET's fold_all_batch_norms): a BatchNorm whose only input is the output
of a Conv or Linear, used nowhere else, is folded into that layer's weight and bias and replaced
by nn.Identity. In inference the model computes the same function; the folded weights are those
torch.onnx.export writes for the model in eval mode, so encodings computed on them describe the
exported weights.

    W' = W * gamma / sqrt(var + eps)       (per output channel)
    b' = (b - mean) * gamma / sqrt(var + eps) + beta
"""
import copy
from typing import List, Tuple, Union
import warnings

import torch
from torch import fx, nn

_FOLDABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _pairs_by_tracing(model):
    """(layer name, batch-norm name) pairs from the model's torch.fx graph."""
    graph = fx.symbolic_trace(model).graph
    modules = dict(model.named_modules())
    calls = {}
    for node in graph.nodes:
        if node.op == "call_module":
            calls[node.target] = calls.get(node.target, 0) + 1
    pairs = []
    for node in graph.nodes:
        if node.op != "call_module" or not isinstance(modules.get(node.target), _BATCH_NORMS):
            continue
        source = node.args[0] if node.args else None
        if not isinstance(source, fx.Node) or source.op != "call_module":
            continue
        if not isinstance(modules.get(source.target), _FOLDABLE) or len(source.users) != 1:
            continue
        if calls[source.target] != 1 or calls[node.target] != 1:
            continue  # a module called twice is one weight for two inputs: folding would change the other
        pairs.append((source.target, node.target))
    return pairs


def _pairs_in_sequences(model):
    """What can be found without tracing: a layer directly followed by a BatchNorm in an nn.Sequential."""
    pairs = []
    for name, module in model.named_modules():
        if not isinstance(module, nn.Sequential):
            continue
        children = list(module.named_children())
        for (first, layer), (second, norm) in zip(children, children[1:]):
            if isinstance(layer, _FOLDABLE) and isinstance(norm, _BATCH_NORMS):
                prefix = f"{name}." if name else ""
                pairs.append((prefix + first, prefix + second))
    return pairs


def _fold_pair(layer, norm):
    with torch.no_grad():
        scale = norm.weight / torch.sqrt(norm.running_var + norm.eps) if norm.affine else \
            1.0 / torch.sqrt(norm.running_var + norm.eps)
        shift = norm.bias if norm.affine else torch.zeros_like(norm.running_mean)
        shape = [-1] + [1] * (layer.weight.dim() - 1)
        layer.weight.mul_(scale.reshape(shape))
        bias = layer.bias if layer.bias is not None else torch.zeros_like(norm.running_mean)
        folded_bias = (bias - norm.running_mean) * scale + shift
        if layer.bias is None:
            layer.bias = nn.Parameter(folded_bias.to(layer.weight.dtype))
        else:
            layer.bias.copy_(folded_bias)


def fold_batch_norms(model: nn.Module, inplace: bool = False
                     ) -> Union[List[Tuple[str, str]], Tuple[nn.Module, List[Tuple[str, str]]]]:
    """Folds every BatchNorm that directly follows a Conv or Linear into it.

    Returns the list of (batch norm, layer) names folded; with inplace=False, (model, folded)
    where model is a folded copy. BatchNorms must be in eval mode (folding uses their running
    statistics): a model in training mode is refused. Pairs are found on the model's torch.fx
    graph; a model that cannot be traced falls back to pairs inside nn.Sequential, with a
    warning naming the BatchNorms left.
    """
    if not inplace:
        model = copy.deepcopy(model)
    norms = [name for name, m in model.named_modules() if isinstance(m, _BATCH_NORMS)]
    if not norms:
        return [] if inplace else (model, [])
    training = [name for name in norms if model.get_submodule(name).training]
    if training:
        raise ValueError(f"fold_batch_norms: {', '.join(training[:3])} in training mode: folding uses the running "
                         "statistics of inference; call model.eval() first (or pass fold_batch_norms=False)")
    try:
        pairs = _pairs_by_tracing(model)
    except Exception as error:  # pylint: disable=broad-except  (tracing fails on data-dependent control flow)
        pairs = _pairs_in_sequences(model)
        left = [name for name in norms if name not in {norm for _, norm in pairs}]
        if left:
            warnings.warn(f"fold_batch_norms: the model cannot be traced ({type(error).__name__}: "
                          f"{str(error)[:80]}); folded the BatchNorms of nn.Sequential only, left {', '.join(left)}")
    folded = []
    for layer_name, norm_name in pairs:
        norm = model.get_submodule(norm_name)
        if not norm.track_running_stats or norm.running_mean is None:
            continue
        _fold_pair(model.get_submodule(layer_name), norm)
        parent_name, _, child = norm_name.rpartition(".")
        setattr(model.get_submodule(parent_name) if parent_name else model, child, nn.Identity())
        folded.append((norm_name, layer_name))
    return folded if inplace else (model, folded)
