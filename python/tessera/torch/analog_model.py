"""aihwkit's methods on a converted model: ``model.program_analog_weights()``,
``model.drift_analog_weights(t)``, ``model.analog_layers()``, ``model.named_analog_layers()``
and ``model.get_weights()``.

convert_to_analog gives the model they are wanted on a subclass of its own class that adds them
(aihwkit's AnalogWrapper does the same), so its attributes and isinstance checks stay as they
were; the methods come after the model's own in the method order, so a model that defines one
of these names itself keeps its own. Pickling, torch.save and deepcopy rebuild that subclass from the
original class, which is what they store; the subclass itself is made on demand.
"""
from typing import Dict, Iterator, List, Optional, Tuple, Type

import torch
from torch import nn

from .analog import AnalogLayer

_ANALOG_CLASSES: Dict[type, type] = {}


class AnalogModel:
    """The methods a converted model gains (mixed in after the model's own class)."""

    tessera_original_class: type = nn.Module

    def named_analog_layers(self) -> Iterator[Tuple[str, AnalogLayer]]:
        """(dotted name, layer) of every analog layer, in module order."""
        for name, module in self.named_modules():  # type: ignore[attr-defined]
            if isinstance(module, AnalogLayer):
                yield name, module

    def analog_layers(self) -> List[AnalogLayer]:
        """Every analog layer, in module order."""
        return [layer for _, layer in self.named_analog_layers()]

    def _checked_analog_layers(self) -> List[AnalogLayer]:
        layers = self.analog_layers()
        if not layers:
            raise ValueError("the model has no analog layers (every module with weights was excluded or stays "
                             "digital; see model.tessera_conversion_report)")
        return layers

    def program_analog_weights(self) -> None:
        """Programs every analog layer: conductances with programming noise, t = 0."""
        for layer in self._checked_analog_layers():
            layer.program_analog_weights()

    def drift_analog_weights(self, t_inference: float = 0.0) -> None:
        """Drift and read noise of every analog layer t_inference seconds after programming."""
        for layer in self._checked_analog_layers():
            layer.drift_analog_weights(t_inference)

    def get_weights(self) -> Dict[str, Tuple[torch.Tensor, Optional[torch.Tensor]]]:
        """{layer name: (weight, bias)} as each analog layer's get_weights() gives them."""
        return {name: layer.get_weights() for name, layer in self.named_analog_layers()}

    def __reduce_ex__(self, protocol):
        return _new_analog_model, (self.tessera_original_class,), self.__getstate__()


def analog_model_class(original: Type[nn.Module]) -> type:
    """The subclass of `original` with AnalogModel's methods (one per class, made once)."""
    if issubclass(original, (AnalogModel, AnalogLayer)):
        return original
    made = _ANALOG_CLASSES.get(original)
    if made is None:
        made = type(original.__name__, (original, AnalogModel),
                    {"tessera_original_class": original, "__module__": original.__module__,
                     "__qualname__": original.__qualname__, "__doc__": original.__doc__})
        _ANALOG_CLASSES[original] = made
    return made


def with_analog_methods(model: nn.Module) -> nn.Module:
    """`model` itself, now an instance of analog_model_class(type(model))."""
    model.__class__ = analog_model_class(type(model))
    return model


def _new_analog_model(original: type) -> nn.Module:
    cls = analog_model_class(original)
    return cls.__new__(cls)
