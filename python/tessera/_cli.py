"""The `tessera` command of an installed package: runs the compiled program that ships inside
it (tessera/bin/tessera), pointed at the presets that ship with it."""
import os
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> None:
    package = os.path.dirname(os.path.abspath(__file__))
    program = os.path.join(package, "bin", "tessera")
    if not os.path.exists(program):
        sys.exit("tessera: the compiled program is not part of this installation (a build tree? run build/bin/tessera)")
    environment = dict(os.environ)
    environment.setdefault("TESSERA_PRESETS_DIR", os.path.join(package, "presets"))
    arguments = sys.argv[1:] if argv is None else argv
    os.execve(program, ["tessera", *arguments], environment)  # argv[0] as the user typed it
