"""Activation fusion pairs of a torch model: each Linear/Conv module whose output only a ReLU,
ReLU6, Hardtanh or Hardswish module reads (through an nn.Identity left by BatchNorm folding).
The conversion plan's plan_fused moves the layer's output quantizer behind the activation, as
torch.ao's ConvReLU2d and AIMET's supergroups quantize; the ONNX front end finds the same pairs
in its graph (tessera.activation_pairs).
"""
from typing import List, Tuple
import warnings

from torch import fx, nn

_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.Hardswish)


def _readers(node, modules):
    """The nodes that read a node's value, seeing through nn.Identity modules."""
    readers = []
    for user in node.users:
        if user.op == "call_module" and isinstance(modules.get(user.target), nn.Identity):
            readers.extend(_readers(user, modules))
        else:
            readers.append(user)
    return readers


def _pairs_by_tracing(model):
    graph = fx.symbolic_trace(model).graph
    modules = dict(model.named_modules())
    reader_of = {}  # layer -> its activation module, or None where some call feeds anything else
    for node in graph.nodes:
        if node.op != "call_module" or not isinstance(modules.get(node.target), _LAYERS):
            continue
        readers = _readers(node, modules)
        targets = {r.target if r.op == "call_module" and isinstance(modules.get(r.target), _ACTIVATIONS) else None
                   for r in readers}
        activation = targets.pop() if len(targets) == 1 else None
        if reader_of.get(node.target, activation) != activation:
            activation = None
        reader_of[node.target] = activation
    return [(layer, activation) for layer, activation in reader_of.items() if activation is not None]


def _pairs_in_sequences(model):
    """Without tracing: a layer followed in an nn.Sequential by an activation (Identities between)."""
    pairs = []
    for name, module in model.named_modules():
        if not isinstance(module, nn.Sequential):
            continue
        prefix = f"{name}." if name else ""
        layer = None
        for child_name, child in module.named_children():
            if isinstance(child, nn.Identity):
                continue
            if layer is not None and isinstance(child, _ACTIVATIONS):
                pairs.append((prefix + layer, prefix + child_name))
            layer = child_name if isinstance(child, _LAYERS) else None
    return pairs


def activation_pairs(model: nn.Module) -> List[Tuple[str, str]]:
    """[(layer, activation)] of a float model, from its torch.fx graph; a model that cannot be
    traced gets the pairs inside its nn.Sequential containers, with a warning."""
    try:
        return _pairs_by_tracing(model)
    except Exception as error:  # pylint: disable=broad-except  # fx raises many types for untraceable code
        pairs = _pairs_in_sequences(model)
        warnings.warn(f"activation fusion: the model cannot be traced ({type(error).__name__}: {str(error)[:80]}); "
                      f"fused the pairs inside nn.Sequential only ({len(pairs)})")
        return pairs
