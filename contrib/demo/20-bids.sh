#!/usr/bin/env bash
# Demo: exact BIDS subsets with `annexa` from a tiny git-annex dataset built
# here from a BIDS example (no network, no accounts).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
example="$top/../shared/bids-examples/7t_trt"
command -v annexa >/dev/null || PATH="$top/target/release:$PATH"
for tool in annexa git git-annex; do
  command -v "$tool" >/dev/null || { echo "demo 20-bids: $tool not found" >&2; exit 1; }
done
[ -d "$example" ] || { echo "demo 20-bids: missing $example" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/annexa-bids-demo.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@example.org
export GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@example.org

echo "== building a small git-annex dataset from bids-examples/7t_trt (3 subjects)"
mkdir "$work/ds"
for item in "$example"/*; do
  case "$(basename "$item")" in
    sub-01|sub-02|sub-03|[!s]*|s[!u]*) cp -r "$item" "$work/ds/" ;;
  esac
done
# The example's data files are empty placeholders: give each its own content.
find "$work/ds" -type f -empty | while read -r f; do echo "data of ${f#"$work"/ds/}" >"$f"; done
(
  cd "$work/ds"
  git init -q
  git annex init -q "demo origin"
  git config annex.largefiles 'not (include=*.json or include=*.tsv or include=README*)'
  git annex add -q . >/dev/null
  git commit -q -m "7t_trt subset"
)
cache="$work/cache"

echo
echo "== annexa ls: subject 01, session 1, resting-state bold, run 1 (with its metadata)"
echo "\$ annexa ls DATASET --sub 01 --ses 1 --suffix bold --run 1"
annexa --cache "$cache" ls "$work/ds" --sub 01 --ses 1 --suffix bold --run 1

echo
echo "== a misspelt subject is an error that lists the subjects there are"
echo "\$ annexa ls DATASET --sub 1"
annexa --cache "$cache" ls "$work/ds" --sub 1 2>&1 || echo "(exit status $?)"

echo
echo "== annexa get: T1w images of subjects 01 and 02 as real files"
echo "\$ annexa get DATASET --to t1w --sub 01,02 --suffix T1w"
annexa --cache "$cache" get "$work/ds" --to "$work/t1w" --sub 01,02 --suffix T1w 2>"$work/summary" | sort; cat "$work/summary"
echo "what is in t1w/ now:"
(cd "$work/t1w" && find . -type f | sort | sed 's|^\./|  |')
echo "  (symlinks: $(find "$work/t1w" -type l | wc -l))"

echo
echo "== running it again only checks what is already there"
annexa --cache "$cache" get "$work/ds" --to "$work/t1w" --sub 01,02 --suffix T1w 2>&1 >/dev/null

echo
echo "== the cache: one private clone per dataset"
annexa --cache "$cache" cache list
annexa --cache "$cache" cache clean --all
