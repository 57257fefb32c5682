"""Attribute access on the C++ configs: `rpu.forward.out_res = 1 / 510`.

Every read and write goes through the config's dotted `get`/`set`, which check values exactly as
a YAML file is checked, so Python cannot build a config the C++ side would refuse later.
"""
from ._core import ConfigError


def _as_plain(value):
    """Sections (and whole configs) are written as their dict of fields."""
    if isinstance(value, ConfigSection):
        return value.to_dict()
    if hasattr(value, "to_dict") and hasattr(value, "to_yaml"):
        return value.to_dict()
    return value


def fields_help(docs, values, prefix=""):
    """The lines help() shows for the fields directly below `prefix`: name = value  # meaning."""
    lines = []
    for name, value in values.items():
        shown = "{...}" if isinstance(value, dict) else repr(value)
        lines.append(f"    {name} = {shown}\n        {docs.get(prefix + name, '')}")
    return "\n".join(lines)


def _section_class(root, path):
    """A ConfigSection subclass whose docstring lists the section's fields and their meaning,
    so that help(rpu.forward) explains them (help() reads the class, not the instance)."""
    docs = root.field_docs()
    text = f"{path}: {docs.get(path, '')}\n\nFields (value now, then meaning):\n"
    text += fields_help(docs, root.get(path), path + ".")
    return type(f"{type(root).__name__}.{path}", (ConfigSection,), {"__doc__": text, "__slots__": ()})


def _read(root, path):
    try:
        value = root.get(path)
    except ConfigError as error:
        raise AttributeError(str(error)) from None
    return _section_class(root, path)(root, path) if isinstance(value, dict) else value


class ConfigSection:
    """A view of one nested section of a config; reads and writes go to the config itself."""

    __slots__ = ("_root", "_path")

    def __init__(self, root, path):
        object.__setattr__(self, "_root", root)
        object.__setattr__(self, "_path", path)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _read(self._root, f"{self._path}.{name}")

    def __setattr__(self, name, value):
        self._root.set(f"{self._path}.{name}", _as_plain(value))

    def __getitem__(self, key):
        # Map entries (module_qconfig_map["Linear"]); keys holding dots ("features.0") cannot
        # be addressed by a dotted path, so those come back as plain values.
        if "." in key:
            return self.to_dict()[key]
        return _read(self._root, f"{self._path}.{key}")

    def __setitem__(self, key, value):
        self.__setattr__(key, value)

    def __contains__(self, key):
        return key in self.to_dict()

    def to_dict(self):
        return self._root.get(self._path)

    def __dir__(self):
        return sorted(self.to_dict())

    def __eq__(self, other):
        return isinstance(other, ConfigSection) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return f"<{self._path}: {self.to_dict()!r}>"


def _config_getattr(self, name):
    # Only called for names the class itself does not define (fields of the config).
    if name.startswith("__"):
        raise AttributeError(name)
    return _read(self, name)


def _config_setattr(self, name, value):
    self.set(name, _as_plain(value))


def _config_dir(self):
    return sorted(set(object.__dir__(self)) | set(self.to_dict()))


def _config_repr(self):
    return f"{type(self).__name__}.from_yaml('''\n{self.to_yaml()}''')"


def add_field_help(classes):
    """Appends every top-level field's meaning to each config class's docstring (help(rpu))."""
    for cls in classes:
        try:
            default = cls()
            cls.__doc__ = (cls.__doc__ or "") + "\n\nFields (default, then meaning):\n" + fields_help(
                default.field_docs(), default.to_dict())
        except (AttributeError, TypeError):  # a class whose docstring cannot be replaced keeps its own
            pass


def add_attribute_access(classes):
    for cls in classes:
        cls.__getattr__ = _config_getattr
        cls.__setattr__ = _config_setattr
        cls.__dir__ = _config_dir
        cls.__repr__ = _config_repr
