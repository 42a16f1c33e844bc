"""Checks that the running Python's environment holds exactly what a lock file says.

Usage: VENV/bin/python contrib/python/check_venv.py contrib/python/NAME.txt

Every `name==version` line of the lock whose environment marker applies here
must be installed at that version, and nothing else may be installed (pip,
setuptools and wheel, which come with every venv, excepted). Prints each
difference and exits 1 when there is one: a venv is either the lock or wrong.
"""

import re
import sys
from importlib import metadata

BOOTSTRAP = {"pip", "setuptools", "wheel"}


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def marker_applies(marker):
    marker = marker.strip()
    if not marker:
        return True
    try:
        from pip._vendor.packaging.markers import Marker
    except ImportError:  # a venv without pip: the lock was installed with pip
        return True
    return Marker(marker).evaluate()


def locked(path):
    wanted = {}
    with open(path, encoding="utf-8") as lock:
        for line in lock:
            line = line.split("#", 1)[0].rstrip().rstrip("\\").strip()
            if not line or line.startswith("--"):
                continue
            requirement, _, marker = line.partition(";")
            match = re.fullmatch(r"([A-Za-z0-9._-]+)(\[[^\]]*\])?==(\S+)", requirement.strip())
            if not match:
                sys.exit(f"{path}: not a pinned requirement: {line!r}")
            if marker_applies(marker):
                wanted[canonical(match.group(1))] = match.group(3)
    return wanted


def installed():
    have = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            have[canonical(name)] = dist.version
    return have


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    lock = sys.argv[1]
    wanted, have = locked(lock), installed()
    problems = []
    for name, version in sorted(wanted.items()):
        if name not in have:
            problems.append(f"missing {name}=={version}")
        elif have[name] != version:
            problems.append(f"{name} is {have[name]}, the lock says {version}")
    for name in sorted(set(have) - set(wanted) - BOOTSTRAP):
        problems.append(f"{name}=={have[name]} is installed but not in the lock")
    if problems:
        print(f"{sys.prefix} differs from {lock}:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        sys.exit(1)
    print(f"{sys.prefix}: exactly {lock} ({len(wanted)} packages)")


if __name__ == "__main__":
    main()
