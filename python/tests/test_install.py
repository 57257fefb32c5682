"""The documented install command (cmake --install build --component python) gives a package
that imports and finds its presets away from the source and build trees."""
import os
import subprocess
import sys

import pytest

import tessera

BUILD = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(tessera.__file__))))


@pytest.mark.skipif(not os.path.exists(os.path.join(BUILD, "CMakeCache.txt")), reason="not imported from a build tree")
def test_installed_package_imports_and_finds_presets(tmp_path):
    # DESTDIR stages the install under tmp_path without touching the build tree's settings.
    cache = open(os.path.join(BUILD, "CMakeCache.txt")).read()
    install_dir = next(line.split("=", 1)[1] for line in cache.splitlines()
                       if line.startswith("TESSERA_PYTHON_INSTALL_DIR:"))
    subprocess.run(["cmake", "--install", BUILD, "--component", "python"], check=True, capture_output=True,
                   env=dict(os.environ, DESTDIR=str(tmp_path / "stage")))
    site = tmp_path / "stage" / install_dir.lstrip("/")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TESSERA_PRESETS_DIR")}
    env["PYTHONPATH"] = str(site)
    script = ("import tessera, tessera.torch; print(tessera.__file__); "
              "print(type(tessera.load_preset('pcm_inference')).__name__)")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, check=True, capture_output=True,
                            text=True)
    lines = result.stdout.split()
    assert lines[0].startswith(str(site)) and lines[1] == "InferenceRPUConfig"


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.dirname(os.path.abspath(tessera.__file__))
FROM_BUILD_TREE = os.path.exists(os.path.join(BUILD, "CMakeCache.txt"))


def test_the_version_is_the_one_in_the_version_file():
    with open(os.path.join(REPO, "VERSION")) as version:
        assert tessera.__version__ == version.read().strip()


def test_importing_leaves_the_process_environment_as_it_was():
    script = ("import os, json; before = dict(os.environ); import tessera, tessera.torch; "
              "print(json.dumps(sorted(set(os.environ.items()) ^ set(before.items()))))")
    env = {k: v for k, v in os.environ.items() if k != "TESSERA_PRESETS_DIR"}
    result = subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.skipif(FROM_BUILD_TREE, reason="imported from the build tree, not from an installed package")
def test_pip_installed_package_carries_presets_and_the_command(tmp_path):
    # Away from the source tree, with no help from the environment.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TESSERA_PRESETS_DIR")}
    assert os.path.isfile(os.path.join(PACKAGE, "presets", "pcm_inference.yaml"))
    script = "import tessera; print(type(tessera.load_preset('pcm_inference')).__name__)"
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, check=True, capture_output=True,
                            text=True)
    assert result.stdout.strip() == "InferenceRPUConfig"
    # The entry point pip wrote next to this interpreter runs the bundled program with its presets.
    command = os.path.join(os.path.dirname(sys.executable), "tessera")
    help_text = subprocess.run([command, "--help"], cwd=tmp_path, env=env, check=True, capture_output=True,
                               text=True).stdout
    assert "Usage: tessera [OPTIONS] SUBCOMMAND" in help_text
    listed = subprocess.run([command, "presets", "list"], cwd=tmp_path, env=env, check=True, capture_output=True,
                            text=True).stdout
    assert "pcm_inference" in listed and "digital_int8" in listed
