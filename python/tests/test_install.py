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
