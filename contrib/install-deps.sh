#!/usr/bin/env bash
# Installs what annexa's tests and demo need, only when missing:
#   git-annex        Debian's package: the default git-annex of every test
#   moto_server      PyPI moto[server], a local S3 API server      } in the project's
#   datalad          PyPI, interoperability tests (not with --demo) } tools venv
#   maturin          PyPI, builds the Python wheel (not with --demo)  }
#   newest git-annex PyPI `git-annex`, in a venv of its own so it never shadows
#                    Debian's on PATH (not with --demo)
#
# Python tools never go into the system Python: they live in project-local
# virtual environments under $ANNEXA_VENV (default: .venv/ in the checkout).
#   $ANNEXA_VENV/tools/bin           moto_server, datalad (the Makefile puts it on PATH)
#   $ANNEXA_VENV/git-annex-newest/bin/git-annex
set -euo pipefail

demo_only=no
[ "${1:-}" = "--demo" ] && demo_only=yes

root=$(cd "$(dirname "$0")/.." && pwd)
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

make_venv "$tools"
if [ ! -x "$tools/bin/moto_server" ]; then
  echo "install-deps: installing moto[server] into $tools (PyPI)"
  pip_into "$tools" 'moto[server]'
fi

if [ "$demo_only" = no ]; then
  if [ ! -x "$tools/bin/datalad" ]; then
    echo "install-deps: installing datalad into $tools (PyPI)"
    pip_into "$tools" datalad
  fi
  # DataLad must run against Debian's git-annex like every default test:
  # the tools venv must not hold a git-annex of its own.
  if [ -e "$tools/bin/git-annex" ]; then
    echo "install-deps: removing a git-annex from $tools (it would shadow Debian's)"
    pip_into "$tools" --quiet >/dev/null 2>&1 || true
    "$tools/bin/python" -m pip uninstall --quiet -y git-annex || rm -f "$tools/bin/git-annex"
  fi
  if [ ! -x "$tools/bin/maturin" ]; then
    echo "install-deps: installing maturin into $tools (PyPI; builds the wheel)"
    pip_into "$tools" maturin
  fi
  make_venv "$newest"
  if [ ! -x "$newest/bin/git-annex" ]; then
    echo "install-deps: installing the newest git-annex into $newest (PyPI git-annex)"
    pip_into "$newest" git-annex
  fi
fi

echo "install-deps: git-annex $(git-annex version --raw 2>/dev/null || echo '?') (default)"
if [ -x "$newest/bin/git-annex" ]; then
  echo "install-deps: git-annex $("$newest/bin/git-annex" version --raw 2>/dev/null || echo '?') (newest, $newest/bin)"
fi
