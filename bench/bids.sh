#!/usr/bin/env bash
# BIDS subsets with annexa against the Python-tools approach (a full
# `datalad clone`, one `datalad get` per file, then a copy), on a generated
# ~30,000-file multi-site BIDS dataset held by a local git-annex origin.
#
#   bench/bids.sh            # full size (500 subjects, ~30,500 files)
#   SITES=4 bench/bids.sh    # smaller, for a quick look
#
# Prints (a) time to list and filter and (b) time to extract 20 subjects'
# T1w images, and checks that both approaches produce identical files.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
# The Makefile puts the release build (wherever CARGO_TARGET_DIR puts it) first on PATH.
annexa=${ANNEXA:-$(command -v annexa || echo "$top/target/release/annexa")}
if [ ! -x "$annexa" ]; then
  (cd "$top" && cargo build --release --bin annexa)
fi
for tool in git git-annex python3; do
  command -v "$tool" >/dev/null || { echo "bids bench: $tool is required" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/annexa-bids-bench.XXXXXX")
cleanup() { chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }

sites=${SITES:-20}
per_site=${SUBJECTS_PER_SITE:-25}
echo "== generating ${sites}x${per_site} subjects (two sessions each) in $work/origin"
t0=$(now)
python3 "$top/bench/bids_make_dataset.py" "$work/origin" "$sites" "$per_site" --annex
t1=$(now)
nfiles=$(git -C "$work/origin" ls-files | wc -l)
echo "   $nfiles files, built in $(elapsed "$t0" "$t1") s"

# 20 subjects spread over sites: 10 from site 01, 10 from site 02 (or fewer sites).
subjects=$(python3 -c "
import sys
sites, per = int(sys.argv[1]), int(sys.argv[2])
subs = [f'{s:02d}{n:03d}' for s in range(1, sites + 1) for n in range(1, per + 1)]
chosen = [x for x in subs if x.endswith(tuple(f'{n:03d}' for n in range(1, 11)))][:20]
print(','.join(chosen))" "$sites" "$per_site")
filters=(--sub "$subjects" --suffix T1w --ext .nii.gz)

echo "== (a) list and filter: 20 subjects' T1w images"
cache="$work/cache"
t0=$(now); "$annexa" --cache "$cache" ls "$work/origin" "${filters[@]}" >/dev/null; t1=$(now)
ls_cold=$(elapsed "$t0" "$t1")
best=999
for _ in 1 2 3 4 5; do
  t0=$(now); "$annexa" --cache "$cache" ls "$work/origin" "${filters[@]}" >"$work/ls.txt"; t1=$(now)
  best=$(python3 -c "print(min($best, $(elapsed "$t0" "$t1")))")
done
ls_warm=$best
selected=$(grep -c '_T1w.nii.gz$' "$work/ls.txt")
echo "   annexa ls, first call (includes the private clone): ${ls_cold} s"
echo "   annexa ls, after the clone (best of 5):             ${ls_warm} s   ($selected T1w images + metadata)"

have_datalad=yes
command -v datalad >/dev/null || have_datalad=no
python_label="datalad clone + datalad get per file + cp"
if [ "$have_datalad" = no ]; then
  python_label="git clone + git annex init + git annex get per file + cp (datalad not installed)"
fi

clone_python() {
  if [ "$have_datalad" = yes ]; then
    datalad clone "$work/origin" "$1" >/dev/null 2>&1
  else
    git clone -q "$work/origin" "$1" && git -C "$1" annex init -q
  fi
}

t0=$(now); clone_python "$work/py"; t1=$(now)
py_clone=$(elapsed "$t0" "$t1")
t0=$(now)
python3 - "$work/py" "$subjects" >"$work/py-list.txt" <<'PY'
import glob, os, sys
root, subs = sys.argv[1], sys.argv[2].split(",")
hits = []
for sub in subs:
    hits += glob.glob(os.path.join(root, f"sub-{sub}", "ses-*", "anat", "*_T1w.nii.gz"))
print("\n".join(sorted(os.path.relpath(h, root) for h in hits)))
PY
t1=$(now)
py_glob=$(elapsed "$t0" "$t1")
echo "   python: clone with checkout ${py_clone} s, then glob ${py_glob} s"

echo "== (b) extract 20 subjects' T1w images into a folder"
rm -rf "$cache"
t0=$(now)
"$annexa" --cache "$cache" get "$work/origin" --to "$work/out-annexa" "${filters[@]}" --jobs 4 \
  --root-files none --no-inherit >/dev/null 2>"$work/annexa-get.log"
t1=$(now)
annexa_get=$(elapsed "$t0" "$t1")
t0=$(now)
"$annexa" --cache "$cache" get "$work/origin" --to "$work/out-annexa-2" "${filters[@]}" --jobs 4 \
  --root-files none --no-inherit >/dev/null 2>&1
t1=$(now)
annexa_get_warm=$(elapsed "$t0" "$t1")

rm -rf "$work/py"
t0=$(now)
clone_python "$work/py"
while read -r rel; do
  if [ "$have_datalad" = yes ]; then
    (cd "$work/py" && datalad get "$rel" >/dev/null 2>&1)
  else
    git -C "$work/py" annex get -q "$rel"
  fi
  mkdir -p "$work/out-python/$(dirname "$rel")"
  cp -L "$work/py/$rel" "$work/out-python/$rel"
done <"$work/py-list.txt"
t1=$(now)
python_get=$(elapsed "$t0" "$t1")

# Same files, same bytes.
(cd "$work/out-annexa" && find . -type f | sort) >"$work/a.txt"
(cd "$work/out-python" && find . -type f | sort) >"$work/p.txt"
diff "$work/a.txt" "$work/p.txt" >/dev/null || { echo "outputs differ" >&2; diff "$work/a.txt" "$work/p.txt" | head >&2; exit 1; }
while read -r f; do cmp -s "$work/out-annexa/$f" "$work/out-python/$f" || { echo "content differs: $f" >&2; exit 1; }; done <"$work/a.txt"
n_out=$(wc -l <"$work/a.txt")

speedup=$(python3 -c "print(f'{$python_get / $annexa_get:.1f}')")
cat <<REPORT
   annexa get (cold cache: clone + batched get + copy): ${annexa_get} s
   annexa get (warm cache, new folder):                 ${annexa_get_warm} s
   ${python_label}: ${python_get} s
   identical output: $n_out files

| dataset | measure | annexa | python-tools approach |
| --- | --- | --- | --- |
| $nfiles files | list + filter, after clone | ${ls_warm} s | glob ${py_glob} s (after a ${py_clone} s checkout clone) |
| $nfiles files | list + filter, first call incl. clone | ${ls_cold} s | ${py_clone} s clone + ${py_glob} s glob |
| $nfiles files | extract $n_out T1w images (20 subjects) | ${annexa_get} s | ${python_get} s |
| | speed-up for extraction | ${speedup}x | |
REPORT
