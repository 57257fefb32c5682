"""The build of `pip install .` / `pip wheel .`: CMake builds the compiled module and the
`tessera` command (Release, no tests or benchmarks), and they go into the wheel next to the
Python package and the presets.

TESSERA_BUILD_DIR: the CMake build folder to use (default build-pip/); pointing it at an
existing build (`build`) reuses that build, as CI does. TESSERA_BUILD_JOBS: parallel jobs.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithCMake(build_py):
    """Copies the Python sources, then builds and adds the compiled parts."""

    def run(self):
        super().run()
        build = Path(os.environ.get("TESSERA_BUILD_DIR", ROOT / "build-pip")).resolve()
        jobs = os.environ.get("TESSERA_BUILD_JOBS", "2")
        if not (build / "CMakeCache.txt").exists():
            subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                            "-DTESSERA_PYTHON=ON", "-DTESSERA_TESTS=OFF", "-DTESSERA_BENCHMARKS=OFF",
                            f"-DPython_EXECUTABLE={sys.executable}"], check=True)
        subprocess.run(["cmake", "--build", str(build), "--parallel", jobs, "--target", "tessera_python", "tessera"],
                       check=True)
        package = Path(self.build_lib) / "tessera"
        compiled = build / "python" / "tessera"
        for module in compiled.glob("_core*.so"):
            shutil.copy2(module, package / module.name)
        shutil.copy2(compiled / "_version.py", package / "_version.py")
        (package / "presets").mkdir(exist_ok=True)
        for preset in (ROOT / "presets").glob("*.yaml"):
            shutil.copy2(preset, package / "presets" / preset.name)
        (package / "bin").mkdir(exist_ok=True)
        shutil.copy2(build / "bin" / "tessera", package / "bin" / "tessera")


class CompiledDistribution(Distribution):
    """The wheel holds a compiled module: tagged for this Python and platform."""

    def has_ext_modules(self):
        return True


# setuptools' own scratch space goes under build-pip/, not into CMake's build/.
setup(cmdclass={"build_py": BuildWithCMake}, distclass=CompiledDistribution,
      options={"build": {"build_base": str(ROOT / "build-pip" / "setuptools")}})
