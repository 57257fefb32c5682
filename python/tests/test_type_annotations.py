"""The package ships py.typed, so what type checkers read must be true: the stub of the compiled
module (_core.pyi) declares exactly what _core holds, with the same parameter names, and every
public Python function and method carries annotations."""
import ast
import inspect
import os
import re

import pytest

import tessera
import tessera.torch
from tessera import _core

STUB = os.path.join(os.path.dirname(os.path.abspath(tessera.__file__)), "_core.pyi")


def stub_declarations():
    """{name: [parameter names]} for the stub's functions, {"Class.member": [...]} for methods
    (inherited ones from the stub's own base classes included), None for classes and attributes."""
    tree = ast.parse(open(STUB).read())

    def parameters(function):
        names = [a.arg for a in function.args.posonlyargs + function.args.args + function.args.kwonlyargs]
        return [n for n in names if n not in ("self", "cls")]

    classes, declared = {}, {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            declared[node.name] = parameters(node)
        elif isinstance(node, ast.ClassDef):
            members = {}
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    members[item.name] = parameters(item)
                elif isinstance(item, ast.AnnAssign):
                    members[item.target.id] = None
            classes[node.name] = ([b.id for b in node.bases if isinstance(b, ast.Name)], members)

    def members_of(name):
        bases, own = classes[name]
        merged = {}
        for base in bases:
            if base in classes:
                merged.update(members_of(base))
        merged.update(own)
        return merged

    for name in classes:
        declared[name] = None
        for member, params in members_of(name).items():
            declared[f"{name}.{member}"] = params
    return declared


def runtime_parameters(function):
    """Parameter names from pybind11's signature line, "name(self: T, a: int = 0) -> R"."""
    first = (function.__doc__ or "").splitlines()[0] if function.__doc__ else ""
    match = re.match(r"^\w+\((.*)\)\s*->", first)
    assert match, f"{function.__name__}: no signature in its docstring ({first!r}); an overloaded function?"
    names = []
    depth, current = 0, ""
    for char in match.group(1) + ",":
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        if char == "," and depth == 0:
            if current.strip():
                names.append(current.split(":")[0].strip())
            current = ""
        else:
            current += char
    return [n for n in names if n not in ("self", "cls") and not n.startswith("*")]


def public(names):
    return [n for n in names if not n.startswith("_")]


def is_builtin_callable(value):
    return type(value).__name__ in ("builtin_function_or_method", "instancemethod")


def runtime_declarations():
    found = {}
    for name in public(dir(_core)):
        value = getattr(_core, name)
        if inspect.isclass(value):
            found[name] = None
            if issubclass(value, BaseException):
                continue
            for member in public(vars(value)):
                attribute = inspect.getattr_static(value, member)
                function = getattr(attribute, "__func__", attribute)
                if is_builtin_callable(function):
                    found[f"{name}.{member}"] = runtime_parameters(function)
                elif isinstance(attribute, property):
                    found[f"{name}.{member}"] = None
        elif is_builtin_callable(value):
            found[name] = runtime_parameters(value)
    return found


def test_the_stub_declares_exactly_what_the_compiled_module_holds():
    stub, runtime = stub_declarations(), runtime_declarations()
    missing = sorted(set(runtime) - set(stub))
    assert not missing, f"_core.pyi lacks: {missing}"
    mismatched = {name: (stub[name], params) for name, params in runtime.items()
                  if params is not None and stub[name] != params}
    assert not mismatched, f"parameter names differ (stub, runtime): {mismatched}"
    def holds(name):
        owner, _, member = name.rpartition(".")
        return hasattr(getattr(_core, owner), member) if owner else hasattr(_core, name)

    invented = sorted(n for n in stub if not n.startswith("_") and not holds(n))
    assert not invented, f"_core.pyi declares what _core does not hold: {invented}"


def python_functions():
    """(qualified name, function) of every public function and method written in Python: what
    tessera and tessera.torch export (__all__), with the methods of exported classes (those their
    tessera base classes define included)."""
    seen = set()
    for module in (tessera, tessera.torch):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isfunction(value) and value not in seen:
                seen.add(value)
                yield f"{module.__name__}.{name}", value
            elif inspect.isclass(value) and value.__module__.startswith("tessera."):
                for cls in value.__mro__:
                    if not cls.__module__.startswith("tessera.") or cls.__module__.startswith("tessera._core"):
                        continue
                    for member, attribute in vars(cls).items():
                        function = getattr(attribute, "__func__", attribute)
                        if inspect.isfunction(function) and not member.startswith("_") and function not in seen:
                            seen.add(function)
                            yield f"{module.__name__}.{name}.{member}", function


def test_every_public_python_function_is_annotated():
    unannotated = []
    for name, function in python_functions():
        signature = inspect.signature(function)
        for parameter in list(signature.parameters.values()):
            if parameter.name in ("self", "cls") or parameter.kind in (parameter.VAR_POSITIONAL,
                                                                       parameter.VAR_KEYWORD):
                continue
            if parameter.annotation is inspect.Parameter.empty:
                unannotated.append(f"{name}({parameter.name})")
        if signature.return_annotation is inspect.Signature.empty:
            unannotated.append(f"{name} -> ?")
    assert not unannotated, f"{len(unannotated)} without annotations: {unannotated}"


@pytest.mark.parametrize("name", ["convert_onnx_to_analog", "load_preset", "convert_to_analog"])
def test_annotations_resolve(name):
    import typing
    typing.get_type_hints(getattr(tessera, name))
