#!/usr/bin/env bash
# Cohort extraction split over a job array, on one machine: 4 concurrent
# `annexa get --shard k/4` processes sharing one cache, against one
# unsharded `annexa get --jobs 4`; and `annexa plan` on a warm cache.
# Both runs must deliver identical files.
#
#   bench/shards.sh            # 20 sites x 25 subjects (~30,500 files)
#   SITES=4 bench/shards.sh    # smaller
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
annexa=${ANNEXA:-$(command -v annexa || echo "$top/target/release/annexa")}
[ -x "$annexa" ] || (cd "$top" && cargo build --release --bin annexa)

work=$(mktemp -d "${TMPDIR:-/tmp}/annexa-shards-bench.XXXXXX")
cleanup() { chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }

sites=${SITES:-20}
per_site=${SUBJECTS_PER_SITE:-25}
echo "== generating ${sites}x${per_site} subjects in $work/origin"
python3 "$top/bench/bids_make_dataset.py" "$work/origin" "$sites" "$per_site" --annex
echo "   $(git -C "$work/origin" ls-files | wc -l) files"
filters=(--suffix T1w,bold --ext .nii.gz)

# Warm the cache (the clone itself is exclusive and done once).
"$annexa" --cache "$work/cache-one" ls "$work/origin" >/dev/null
"$annexa" --cache "$work/cache-four" ls "$work/origin" >/dev/null

t0=$(now)
"$annexa" --cache "$work/cache-four" plan "$work/origin" "${filters[@]}" --shards 8 >"$work/plan.txt"
t1=$(now)
echo "== annexa plan --shards 8 on a warm cache: $(elapsed "$t0" "$t1") s"
cat "$work/plan.txt"

t0=$(now)
"$annexa" --cache "$work/cache-one" get "$work/origin" --to "$work/one" "${filters[@]}" --jobs 4 >/dev/null 2>&1
t1=$(now)
one=$(elapsed "$t0" "$t1")

t0=$(now)
for k in 1 2 3 4; do
  "$annexa" --cache "$work/cache-four" get "$work/origin" --to "$work/four" "${filters[@]}" \
    --shard "$k/4" --jobs 1 >/dev/null 2>"$work/shard-$k.err" &
done
failed=0
for job in $(jobs -p); do wait "$job" || failed=1; done
t1=$(now)
four=$(elapsed "$t0" "$t1")
[ "$failed" = 0 ] || { cat "$work"/shard-*.err; echo "a shard failed" >&2; exit 1; }

diff -r "$work/one" "$work/four" >/dev/null && same=identical || same=DIFFERENT
files=$(find "$work/one" -type f | wc -l)
ratio=$(python3 -c "print(f'{$four / $one:.2f}')")
echo "== $files files: unsharded --jobs 4: ${one} s; 4 concurrent shards: ${four} s (ratio ${ratio}, target <= 1.20); output ${same}"
[ "$same" = identical ]
