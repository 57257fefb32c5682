"""The README and docs/ say what is true: every code block marked runnable runs, every sweep
example validates, links lead somewhere, the generated configuration reference is current, and
the counts and ranges they quote are the code's."""
import glob
import os
import re
import subprocess
import sys

import onnx
import pytest
from onnx import TensorProto, helper

import tessera

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
BLOCK = re.compile(r"^```(\w+)[ ]?([\w-]*)\n(.*?)^```", re.M | re.S)
EXAMPLE = os.path.join(ROOT, "examples", "fashion_mnist")


def blocks(tag):
    """(page:line, code) of every fenced block whose info string ends in `tag`."""
    found = []
    for page in PAGES:
        text = open(page).read()
        for match in BLOCK.finditer(text):
            if match.group(2) == tag:
                line = text[:match.start()].count("\n") + 1
                found.append(pytest.param(match.group(3), id=f"{os.path.relpath(page, ROOT)}:{line}"))
    return found


def tessera_command():
    """The `tessera` program of the package under test: the entry point pip installed next to
    this interpreter, or the build tree's."""
    beside = os.path.join(os.path.dirname(sys.executable), "tessera")
    if os.path.exists(beside):
        return [beside]
    build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(tessera.__file__))))
    return [os.path.join(build, "bin", "tessera")]


def test_there_are_examples_to_check():
    assert len(blocks("runnable")) >= 3 and len(blocks("sweep")) >= 2


@pytest.mark.parametrize("code", blocks("runnable"))
def test_runnable_blocks_run(code, tmp_path):
    # From a scratch folder that has the repository's examples/, as a reader's checkout would.
    os.symlink(os.path.join(ROOT, "examples"), tmp_path / "examples")
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(tessera.__file__)))
    env = dict(os.environ, PYTHONPATH=package_parent)  # the package under test, from any folder
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("code", blocks("sweep"))
def test_sweep_examples_validate(code, tmp_path):
    # Relative paths in the examples are the bundled example's neighbours.
    for name in os.listdir(EXAMPLE):
        os.symlink(os.path.join(EXAMPLE, name), tmp_path / name)
    (tmp_path / "example_sweep.yaml").write_text(code)
    result = subprocess.run(tessera_command() + ["validate", str(tmp_path / "example_sweep.yaml")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_readme_is_a_front_page_with_the_two_setup_commands():
    text = open(os.path.join(ROOT, "README.md")).read()
    assert len(text.splitlines()) <= 200
    commands = re.findall(r"^    (scripts/\S+)$", text, re.M)
    assert commands == ["scripts/run_main.sh", "scripts/test.sh"]
    assert "scripts/test.sh" in open(os.path.join(ROOT, ".ci", "run")).read()
    linked = set(re.findall(r"\]\((docs/[\w.-]+\.md)\)", text))
    pages = {os.path.relpath(p, ROOT) for p in PAGES[1:]}
    assert pages <= linked, f"docs pages the README does not link: {sorted(pages - linked)}"


def test_every_relative_link_leads_to_a_file():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)\)", open(page).read()):
            if "://" in target:
                continue
            if not os.path.exists(os.path.join(os.path.dirname(page), target)):
                broken.append(f"{os.path.relpath(page, ROOT)}: {target}")
    assert not broken


def test_the_configuration_reference_is_current():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_config_reference.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_count_of_bad_sweep_files_is_the_real_one():
    text = open(os.path.join(ROOT, "docs", "sweeps.md")).read()
    quoted = int(re.search(r"(\d+) bad files in\s+`tests/data/sweeps/bad/`", text).group(1))
    assert quoted == len(os.listdir(os.path.join(ROOT, "tests", "data", "sweeps", "bad")))


def one_relu_model(path, opset):
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), str(path))
    return str(path)


def test_the_quoted_opset_range_is_the_one_the_importer_accepts(tmp_path):
    low, high = map(int, re.search(r"opsets (\d+)-(\d+)", tessera.Model.load_onnx.__doc__).groups())
    assert f"opsets {low}-{high}" in open(os.path.join(ROOT, "docs", "models.md")).read()
    for opset in (low, high):
        tessera.Model.load_onnx(one_relu_model(tmp_path / f"{opset}.onnx", opset))
    for opset in (low - 1, high + 1):
        with pytest.raises(tessera.UnsupportedError, match=f"opset {opset} is outside the supported {low}-{high}"):
            tessera.Model.load_onnx(one_relu_model(tmp_path / f"{opset}.onnx", opset))
