"""Exit 0 when every pinned requirement in the given file is installed at its pin.

`make` calls this before pip so that a machine that has everything does not
reach for the network on every run. A requirement with extras
(`tritonclient[all]==2.73.0`) is looked up by its distribution's name, and
the requirements its extras add must be installed too.
"""

import re
import sys
from importlib import metadata


def extras_installed(name: str, extras: set[str]) -> bool:
    try:
        from packaging.requirements import Requirement
    except ImportError:  # a fresh machine: let pip decide
        return False
    for text in metadata.requires(name) or []:
        requirement = Requirement(text)
        if requirement.marker is None:
            continue
        if not any(requirement.marker.evaluate({"extra": extra}) for extra in extras):
            continue
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            return False
        if installed not in requirement.specifier:
            return False
    return True


def main(path: str) -> int:
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, _, version = line.partition("==")
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*(?:\[([^\]]*)\])?\s*", spec)
        if not match:
            return 1
        name = match.group(1)
        extras = {e.strip() for e in (match.group(2) or "").split(",") if e.strip()}
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            return 1
        if version and installed != version.strip():
            return 1
        if extras and not extras_installed(name, extras):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
