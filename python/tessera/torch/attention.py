"""Multi-head attention with its projections as modules, so that conversions reach them.

torch's nn.MultiheadAttention multiplies by in_proj_weight and out_proj.weight directly (and in
eval mode may take a fused kernel), so a converted out_proj would never be called. tessera's
MultiheadAttention computes what torch's does (same arguments, masks and outputs, after
torch.nn.functional.multi_head_attention_forward) with the input projection as a child layer
`in_proj` (E -> 3E; q_proj, k_proj and v_proj when kdim or vdim differ) and `out_proj` called as
a module. The conversion plan converts the projections; the attention products (QK^T, softmax,
AV) stay digital.
"""
import math

from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def _linear(in_features, out_features, weight, bias):
    layer = nn.Linear(in_features, out_features, bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    return layer


class MultiheadAttention(nn.Module):
    """nn.MultiheadAttention's computation with the projections as child modules."""

    def __init__(self, attention):
        super().__init__()
        if not isinstance(attention, nn.MultiheadAttention):
            raise TypeError(f"expected an nn.MultiheadAttention, found {type(attention).__name__}")
        for name in ("embed_dim", "kdim", "vdim", "num_heads", "head_dim", "dropout", "batch_first",
                     "_qkv_same_embed_dim", "add_zero_attn"):
            setattr(self, name, getattr(attention, name))
        self.bias_k = None if attention.bias_k is None else nn.Parameter(attention.bias_k.detach().clone())
        self.bias_v = None if attention.bias_v is None else nn.Parameter(attention.bias_v.detach().clone())
        embed = self.embed_dim
        bias = attention.in_proj_bias
        if self._qkv_same_embed_dim:
            self.in_proj = _linear(embed, 3 * embed, attention.in_proj_weight.detach(),
                                   None if bias is None else bias.detach())
        else:
            biases = [None] * 3 if bias is None else bias.detach().chunk(3)
            self.q_proj = _linear(embed, embed, attention.q_proj_weight.detach(), biases[0])
            self.k_proj = _linear(self.kdim, embed, attention.k_proj_weight.detach(), biases[1])
            self.v_proj = _linear(self.vdim, embed, attention.v_proj_weight.detach(), biases[2])
        self.out_proj = attention.out_proj
        self.train(attention.training)

    def projection_names(self) -> List[str]:
        return ["in_proj"] if self._qkv_same_embed_dim else ["q_proj", "k_proj", "v_proj"]

    def _project(self, query, key, value):
        embed = self.embed_dim
        if not self._qkv_same_embed_dim:
            return self.q_proj(query), self.k_proj(key), self.v_proj(value)
        if query is key and key is value:  # self-attention: one product, as torch does
            return self.in_proj(query).chunk(3, dim=-1)
        projected = [self.in_proj(x) for x in (query, key, value)]
        return projected[0][..., :embed], projected[1][..., embed:2 * embed], projected[2][..., 2 * embed:]

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Optional[Tensor] = None,
                need_weights: bool = True, attn_mask: Optional[Tensor] = None,
                average_attn_weights: bool = True) -> Tuple[Tensor, Optional[Tensor]]:
        batched = query.dim() == 3
        if self.batch_first and batched:  # keep query is key is value where it holds
            if key is value:
                if query is key:
                    query = key = value = query.transpose(1, 0)
                else:
                    query, key = query.transpose(1, 0), key.transpose(1, 0)
                    value = key
            else:
                query, key, value = (x.transpose(1, 0) for x in (query, key, value))
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        target, batch, embed = query.shape
        heads, head_dim = self.num_heads, self.head_dim
        q, k, v = self._project(query, key, value)
        attn_mask = self._prepared_mask(attn_mask, target, key.shape[0], batch)
        if self.bias_k is not None:
            k = torch.cat([k, self.bias_k.repeat(1, batch, 1)])
            v = torch.cat([v, self.bias_v.repeat(1, batch, 1)])
            attn_mask = None if attn_mask is None else F.pad(attn_mask, (0, 1))
            key_padding_mask = None if key_padding_mask is None else F.pad(key_padding_mask, (0, 1))
        q = q.contiguous().view(target, batch * heads, head_dim).transpose(0, 1)
        k = k.contiguous().view(k.shape[0], batch * heads, head_dim).transpose(0, 1)
        v = v.contiguous().view(v.shape[0], batch * heads, head_dim).transpose(0, 1)
        if self.add_zero_attn:
            zeros = torch.zeros((batch * heads, 1, head_dim), dtype=k.dtype, device=k.device)
            k, v = torch.cat([k, zeros], dim=1), torch.cat([v, zeros], dim=1)
            attn_mask = None if attn_mask is None else F.pad(attn_mask, (0, 1))
            key_padding_mask = None if key_padding_mask is None else F.pad(key_padding_mask, (0, 1))
        source = k.size(1)
        if key_padding_mask is not None:
            if key_padding_mask.dtype != torch.bool and not torch.is_floating_point(key_padding_mask):
                raise TypeError("key_padding_mask: only bool and floating types are supported")
            padding = key_padding_mask.view(batch, 1, 1, source).expand(-1, heads, -1, -1)
            padding = padding.reshape(batch * heads, 1, source)
            if attn_mask is None:
                attn_mask = padding
            elif attn_mask.dtype == torch.bool:
                attn_mask = attn_mask.logical_or(padding)
            else:
                attn_mask = attn_mask.masked_fill(padding, float("-inf"))
        if attn_mask is not None and attn_mask.dtype == torch.bool:
            attn_mask = torch.zeros_like(attn_mask, dtype=q.dtype).masked_fill_(attn_mask, float("-inf"))
        q = q / math.sqrt(head_dim)
        if attn_mask is None:
            weights = torch.bmm(q, k.transpose(-2, -1))
        else:
            weights = torch.baddbmm(attn_mask, q, k.transpose(-2, -1))
        weights = torch.softmax(weights, dim=-1)
        if self.dropout > 0.0 and self.training:
            weights = F.dropout(weights, p=self.dropout)
        output = torch.bmm(weights, v).transpose(0, 1).contiguous().view(target * batch, embed)
        output = self.out_proj(output).view(target, batch, -1)
        if not batched:
            output = output.squeeze(1)
        elif self.batch_first:
            output = output.transpose(1, 0)
        if not need_weights:
            return output, None
        weights = weights.view(batch, heads, target, source)
        if average_attn_weights:
            weights = weights.sum(dim=1) / heads
        return output, (weights if batched else weights.squeeze(0))

    @staticmethod
    def _prepared_mask(attn_mask, target, source, batch_heads):
        if attn_mask is None:
            return None
        if attn_mask.dtype == torch.uint8:
            attn_mask = attn_mask.to(torch.bool)
        elif not (attn_mask.is_floating_point() or attn_mask.dtype == torch.bool):
            raise TypeError(f"attn_mask: only float, byte and bool types are supported, not {attn_mask.dtype}")
        if attn_mask.dim() == 2:
            if attn_mask.shape != (target, source):
                raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(target, source)}.")
            return attn_mask.unsqueeze(0)
        if attn_mask.dim() != 3:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")
        return attn_mask

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"
