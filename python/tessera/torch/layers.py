"""The plain torch module each tessera layer stands for: what a second conversion starts from
and what export_onnx writes (the float twin)."""
import torch
from torch import nn

from .analog import AnalogLayer
from .attention import MultiheadAttention
from .quantized import QuantizedOutputModule, _QuantRecurrent, _QuantWeightLayer
from .recurrent import recurrent_arguments

_FLOAT_BASES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Embedding, nn.LSTM, nn.GRU, nn.RNN)


def _fresh(base, module):
    if base is nn.Linear:
        return nn.Linear(module.in_features, module.out_features, module.bias is not None)
    if base in (nn.Conv1d, nn.Conv2d, nn.Conv3d):
        return base(module.in_channels, module.out_channels, module.kernel_size, module.stride, module.padding,
                    module.dilation, module.groups, module.bias is not None, module.padding_mode)
    if base is nn.Embedding:
        return nn.Embedding(module.num_embeddings, module.embedding_dim, module.padding_idx, module.max_norm,
                            module.norm_type, module.scale_grad_by_freq, module.sparse)
    return base(**recurrent_arguments(module))


def _copied(layer, module):
    with torch.no_grad():
        for name, parameter in module.named_parameters(recurse=False):
            target = getattr(layer, name)
            target.data = parameter.detach().clone()
    return layer.train(module.training)


def _attention_to_torch(attention):
    projections = {name: float_layer(getattr(attention, name)) for name in attention.projection_names()}
    in_proj = projections.get("in_proj")
    has_bias = (in_proj if in_proj is not None else projections["q_proj"]).bias is not None
    torch_attention = nn.MultiheadAttention(attention.embed_dim, attention.num_heads, attention.dropout, has_bias,
                                            attention.bias_k is not None, attention.add_zero_attn, attention.kdim,
                                            attention.vdim, attention.batch_first)
    out_proj = float_layer(attention.out_proj)
    with torch.no_grad():
        if in_proj is not None:
            torch_attention.in_proj_weight.copy_(in_proj.weight)
            biases = [in_proj.bias] if has_bias else []
        else:
            for name in ("q", "k", "v"):
                getattr(torch_attention, f"{name}_proj_weight").copy_(projections[f"{name}_proj"].weight)
            biases = [projections[f"{name}_proj"].bias for name in ("q", "k", "v")] if has_bias else []
        if has_bias:
            torch_attention.in_proj_bias.copy_(torch.cat(biases))
        if attention.bias_k is not None:
            torch_attention.bias_k.copy_(attention.bias_k)
            torch_attention.bias_v.copy_(attention.bias_v)
        torch_attention.out_proj.weight.copy_(out_proj.weight)
        if out_proj.bias is not None:
            torch_attention.out_proj.bias.copy_(out_proj.bias)
    return torch_attention.train(attention.training)


def float_layer(module: nn.Module) -> nn.Module:
    """The torch module a tessera layer (or wrapper) replaced, with the same parameters; any
    other module as it is."""
    if isinstance(module, QuantizedOutputModule):
        return float_layer(module.module)
    if isinstance(module, MultiheadAttention):
        return _attention_to_torch(module)
    if isinstance(module, (AnalogLayer, _QuantWeightLayer, _QuantRecurrent)):
        base = next(b for b in type(module).__mro__ if b in _FLOAT_BASES)
        return _copied(_fresh(base, module), module)
    return module
