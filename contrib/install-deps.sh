#!/usr/bin/env bash
# Installs what annexa's tests and demo need, only when missing or different:
#   git-annex        Debian's package: the default git-annex of every test
#   moto_server      PyPI moto[server], a local S3 API server   } the project's
#   datalad, datalad-next  PyPI, interoperability tests          } tools venv
#   maturin          PyPI, builds the Python wheel               }
#   newest git-annex PyPI `git-annex`, in a venv of its own so it never shadows
#                    Debian's on PATH (not with --demo)
#
# Python tools never go into the system Python: they live in project-local
# virtual environments under $ANNEXA_VENV (default: .venv/ in the checkout).
#   $ANNEXA_VENV/tools/bin           moto_server, datalad (the Makefile puts it on PATH)
#   $ANNEXA_VENV/git-annex-newest/bin/git-annex
#
# Each venv holds exactly its lock, contrib/python/NAME.txt: every package,
# dependencies included, at the version and hash the lock names, installed with
# `pip --require-hashes --no-deps`. A venv that differs from its lock in any way
# is made again. `make lock` re-resolves the locks on purpose (docs/testing.md).
#   --demo    only what `make demo` needs
#   --bench   also the bench venv ($ANNEXA_VENV/bench: awscli, boto3 from
#             contrib/python/bench.txt), what `make bench` compares with
#   --latest  the newest release of every tool instead of the locks
#             (`make test-latest`, into a venv root of its own)
set -euo pipefail

demo_only=no
latest=no
bench=no
for arg in "$@"; do
  case "$arg" in
    --demo) demo_only=yes ;;
    --latest) latest=yes ;;
    --bench) bench=yes ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
locks=$root/contrib/python
venv_root=${ANNEXA_VENV:-$root/.venv}
tools=$venv_root/tools
newest=$venv_root/git-annex-newest

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  as_root apt-get update -qq || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

if ! command -v git-annex >/dev/null 2>&1; then
  echo "install-deps: installing git-annex (Debian package)"
  apt_install git-annex
fi

# `man` renders the man pages in tests.
if [ "$demo_only" = no ] && ! command -v man >/dev/null 2>&1; then
  echo "install-deps: installing man-db (Debian package)"
  apt_install man-db
fi

python=${PYTHON:-python3}
make_venv() {
  local dir=$1
  [ -x "$dir/bin/python" ] && return 0
  mkdir -p "$(dirname "$dir")"
  if ! "$python" -m venv "$dir" 2>/dev/null; then
    # Debian splits venv support into its own package.
    echo "install-deps: installing python3-venv (Debian package)"
    apt_install python3-venv
    rm -rf "$dir"
    "$python" -m venv "$dir"
  fi
}

pip_into() {
  local dir=$1; shift
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
}

# Installs venv DIR from contrib/python/NAME.txt exactly (a venv that differs
# is made anew), or with --latest the newest releases NAME.in allows.
install_venv() {
  local dir=$1 name=$2
  if [ "$latest" = yes ]; then
    make_venv "$dir"
    echo "install-deps: installing the newest releases of contrib/python/$name.in into $dir"
    pip_into "$dir" --upgrade -r "$locks/$name.in"
    return
  fi
  if [ -x "$dir/bin/python" ] \
      && "$dir/bin/python" "$locks/check_venv.py" "$locks/$name.txt" >/dev/null 2>&1; then
    return 0
  fi
  echo "install-deps: installing contrib/python/$name.txt into $dir (locked versions and hashes)"
  rm -rf "$dir"
  make_venv "$dir"
  pip_into "$dir" --require-hashes --no-deps -r "$locks/$name.txt"
  "$dir/bin/python" "$locks/check_venv.py" "$locks/$name.txt"
}

install_venv "$tools" tools
# DataLad must run against Debian's git-annex like every default test:
# the tools venv must not hold a git-annex of its own (the lock has none).
if [ -e "$tools/bin/git-annex" ]; then
  echo "install-deps: $tools/bin/git-annex would shadow Debian's git-annex" >&2
  exit 1
fi
if [ "$demo_only" = no ]; then
  install_venv "$newest" git-annex-newest
fi
if [ "$bench" = yes ]; then
  install_venv "$venv_root/bench" bench
fi

echo "install-deps: git-annex $(git-annex version --raw 2>/dev/null || echo '?') (default)"
if [ -x "$newest/bin/git-annex" ]; then
  echo "install-deps: git-annex $("$newest/bin/git-annex" version --raw 2>/dev/null || echo '?') (newest, $newest/bin)"
fi
