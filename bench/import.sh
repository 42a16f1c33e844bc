#!/usr/bin/env bash
# Import benchmark: `annexa import` of an S3 prefix of 1,000 / 10,000 /
# 50,000 objects (moto_server on 127.0.0.1, read anonymously, nothing
# downloaded) with the git-annex first on PATH (Debian's by default), and
# `annexa ls` of a BIDS selection from the imported 10,000-object source
# through the cache (first run: imports; then cached).
#
#   bash bench/import.sh          (or: make bench)
#
# Environment: BENCH_IMPORT_SIZES ["1000 10000 50000"], BENCH_KEEP [0].
# Filling moto is the slow part (~8 ms an object); it is not timed.
# Prints a table; copy the figures into docs/benchmarks.md ("Import").
set -euo pipefail

SIZES=${BENCH_IMPORT_SIZES:-1000 10000 50000}
KEEP=${BENCH_KEEP:-0}
TMP=$(mktemp -d)
cleanup() {
    [[ -n ${MOTO_PID:-} ]] && kill "$MOTO_PID" 2>/dev/null || true
    [[ $KEEP == 1 ]] || rm -rf "$TMP"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$PORT" >"$TMP/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.2
done
ENDPOINT="http://127.0.0.1:$PORT"

fill() { # fill PREFIX COUNT: a BIDS-like layout, 10 files per subject
    python3 - "$ENDPOINT" "$1" "$2" <<'PY'
import sys, boto3
from concurrent.futures import ThreadPoolExecutor
ep, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id="a",
                  aws_secret_access_key="b", region_name="us-east-1")
try:
    s3.create_bucket(Bucket="bench", ACL="public-read")
except Exception:
    pass
kinds = ["anat/{s}_T1w.nii.gz", "anat/{s}_T1w.json", "anat/{s}_T2w.nii.gz",
         "func/{s}_task-rest_bold.nii.gz", "func/{s}_task-rest_events.tsv",
         "func/{s}_task-rest_bold.json", "dwi/{s}_dwi.nii.gz", "dwi/{s}_dwi.bval",
         "dwi/{s}_dwi.bvec", "dwi/{s}_dwi.json"]
def put(i):
    s = f"sub-{i // 10:05d}"
    key = f"{prefix}/{s}/" + kinds[i % 10].format(s=s)
    s3.put_object(Bucket="bench", Key=key, Body=f"{key} {i}".encode(), ACL="public-read")
s3.put_object(Bucket="bench", Key=f"{prefix}/dataset_description.json",
              Body=b'{"Name": "bench", "BIDSVersion": "1.8.0"}', ACL="public-read")
with ThreadPoolExecutor(16) as ex:
    list(ex.map(put, range(n - 1)))
PY
}

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }

export AWS_ENDPOINT_URL_S3=$ENDPOINT
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost

echo "git-annex: $(git annex version --raw), $(nproc) cores"
printf '%-10s %12s %12s\n' objects "import (s)" "refresh (s)"
for n in $SIZES; do
    fill "n$n" "$n"
    t0=$(now)
    annexa import "s3://bench/n$n" "$TMP/ds$n" >/dev/null
    t1=$(now)
    annexa import "s3://bench/n$n" "$TMP/ds$n" >/dev/null
    t2=$(now)
    printf '%-10s %12s %12s\n' "$n" "$(secs "$t0" "$t1")" "$(secs "$t1" "$t2")"
done

if [[ " $SIZES " == *" 10000 "* ]]; then
    CACHE="$TMP/cache"
    t0=$(now)
    annexa --cache "$CACHE" ls s3://bench/n10000 --sub 00042 --suffix T1w >/dev/null
    t1=$(now)
    best=999
    for _ in 1 2 3; do
        a=$(now)
        annexa --cache "$CACHE" ls s3://bench/n10000 --sub 00042,00043 --suffix T1w,bold >/dev/null
        b=$(now)
        s=$(secs "$a" "$b")
        best=$(python3 -c "print(min($best, $s))")
    done
    echo "annexa ls s3://bench/n10000 --sub 00042 --suffix T1w: first (imports) $(secs "$t0" "$t1") s, cached best of 3: $best s"
fi
