#!/usr/bin/env bash
# Installs what annexa's tests and demo need, only when missing:
#   git-annex     (Debian package)
#   moto_server   (PyPI moto[server], a local S3 API server)
#   datalad       (PyPI, interoperability tests; skipped with --demo)
set -euo pipefail

demo_only=no
[ "${1:-}" = "--demo" ] && demo_only=yes

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v git-annex >/dev/null 2>&1; then
  echo "install-deps: installing git-annex (Debian package)"
  as_root apt-get update -qq || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git-annex
fi

pip_install() {
  python3 -m pip install --quiet --disable-pip-version-check "$@" \
    || python3 -m pip install --quiet --disable-pip-version-check --user "$@"
}

if ! command -v moto_server >/dev/null 2>&1; then
  echo "install-deps: installing moto[server] (PyPI)"
  pip_install 'moto[server]'
fi

if [ "$demo_only" = no ] && ! command -v datalad >/dev/null 2>&1; then
  echo "install-deps: installing datalad (PyPI)"
  pip_install datalad
fi

# pip may install into a folder that is not on PATH yet (e.g. ~/.local/bin).
for tool in moto_server; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install-deps: $tool was installed but is not on PATH; add $(python3 -m site --user-base)/bin to PATH" >&2
    exit 1
  fi
done

