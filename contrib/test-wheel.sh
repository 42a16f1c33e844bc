#!/usr/bin/env bash
# Installs the built annexa wheel into a fresh venv together with DataLad and
# the PyPI git-annex, then uses only what that venv put on PATH:
#   datalad create -> git annex initremote (externaltype=annexa) -> datalad push
#   -> datalad clone -> datalad get (from the annexa remote).
# Usage: contrib/test-wheel.sh WHEEL_DIR   (run by `make test-wheel`)
set -euo pipefail

wheel_dir=${1:?usage: test-wheel.sh WHEEL_DIR}
wheel=$(ls -t "$wheel_dir"/annexa-*.whl | head -n 1)
work=$(mktemp -d)
cleanup() { chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

say() { echo "test-wheel: $*"; }
locks=$(cd "$(dirname "$0")/python" && pwd)
say "installing $(basename "$wheel") with datalad and git-annex (contrib/python/wheel-test.txt) into a fresh venv"
python3 -m venv "$work/venv"
# DataLad and git-annex exactly as locked (versions and hashes); the wheel
# itself, local and built just now, on its own and with no dependencies.
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --require-hashes --no-deps -r "$locks/wheel-test.txt"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "$wheel"

# Only the venv, git and the basic tools: no cargo build, no Debian git-annex first.
export PATH="$work/venv/bin:/usr/local/bin:/usr/bin:/bin"
export GIT_AUTHOR_NAME=wheel GIT_AUTHOR_EMAIL=wheel@localhost
export GIT_COMMITTER_NAME=wheel GIT_COMMITTER_EMAIL=wheel@localhost
for program in annexa git-annex-remote-annexa git-annex datalad; do
  found=$(command -v "$program") || { say "FAIL: $program is not on PATH"; exit 1; }
  case "$found" in
    "$work/venv/bin/"*) ;;
    *) say "FAIL: $program comes from $found, not from the venv"; exit 1 ;;
  esac
done
say "$(annexa --version); $(git-annex-remote-annexa --version); git-annex $(git-annex version --raw)"
annexa completions bash >/dev/null

cd "$work"
datalad create ds >/dev/null
cd ds
mkdir -p sub-01/anat
head -c 200000 /dev/urandom > sub-01/anat/sub-01_T1w.nii.gz
datalad save -m data >/dev/null
git annex initremote store type=external externaltype=annexa encryption=none \
  provider=directory directory="$work/store" autoenable=true
datalad push --to store --data anything . >/dev/null
# Only the annexa remote has the content now.
git annex drop -q sub-01/anat/sub-01_T1w.nii.gz
cd "$work"
datalad clone ds clone >/dev/null
cd clone
datalad get sub-01/anat/sub-01_T1w.nii.gz >/dev/null
# Present here, and its checksum verifies against the key.
git annex find --in here sub-01/anat/sub-01_T1w.nii.gz | grep -q T1w
git annex fsck -q sub-01/anat/sub-01_T1w.nii.gz
git annex whereis sub-01/anat/sub-01_T1w.nii.gz | grep -q "store"
say "ok: datalad create/push/clone/get through the wheel's annexa"
