#!/usr/bin/env bash
# `make lock`: re-resolves every contrib/python/NAME.in to the newest releases
# it allows and writes contrib/python/NAME.txt with exact versions and the
# hashes of every file of each (all platforms), dependencies included.
# Run it on purpose, then `make test` and commit the locks with what changed
# (docs/testing.md, "Locked test tools"). The resolver (uv) is itself locked
# in lock-tool.txt; its venv lives in $ANNEXA_VENV/lock-tool.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${ANNEXA_VENV:-$root/.venv}/lock-tool
python=${PYTHON:-python3}
if ! { [ -x "$venv/bin/python" ] && "$venv/bin/python" "$here/check_venv.py" "$here/lock-tool.txt" >/dev/null 2>&1; }; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --require-hashes --no-deps -r "$here/lock-tool.txt"
fi
# The tests run on CPython 3.11 (Debian 12's and this project's CI); the
# locks hold every platform's files so that a macOS or ARM machine gets its own.
for input in "$here"/*.in; do
  name=$(basename "$input" .in)
  "$venv/bin/uv" pip compile --quiet --universal --python-version 3.11 \
    --generate-hashes --no-header --annotation-style line --upgrade \
    "$input" -o "$here/$name.txt"
  echo "lock: contrib/python/$name.txt: $(grep -c '==' "$here/$name.txt") pinned packages"
done
git -C "$root" --no-pager diff --stat -- contrib/python/ || true
