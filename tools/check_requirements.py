"""Exit 0 when every pinned requirement in the given file is installed at its pin.

`make` calls this before pip so that a machine that has everything does not
reach for the network on every run.
"""

import sys
from importlib import metadata


def main(path: str) -> int:
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        try:
            installed = metadata.version(name.strip())
        except metadata.PackageNotFoundError:
            return 1
        if version and installed != version.strip():
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
