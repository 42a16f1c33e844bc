#!/usr/bin/env bash
# S3 BIDS downloader benchmark (issue 10): 20 subjects' T1w from an S3 prefix
# of 200 subjects (2,001 objects, T1w images 2 MiB) on moto_server, read
# anonymously:
#   annexa   `annexa get s3://bench/ds --to OUT --sub ... --suffix T1w --jobs 8`
#            (cold: imports the listing into the cache first; warm: cached
#            listing, files fetched again after the cache is dropped)
#   script   the per-file approach: list with paging, filter names with a
#            regex, download each object with 8 threads, check its MD5
#            against the ETag — what hand-written downloaders do.
# Both verify every byte. Prints a table; figures go to docs/benchmarks.md.
set -euo pipefail

TMP=$(mktemp -d)
cleanup() {
    [[ -n ${MOTO_PID:-} ]] && kill "$MOTO_PID" 2>/dev/null || true
    chmod -R u+w "$TMP" 2>/dev/null || true
    rm -rf "$TMP"
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

python3 - "$ENDPOINT" <<'PY'
import os, sys, boto3
from concurrent.futures import ThreadPoolExecutor
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="a",
                  aws_secret_access_key="b", region_name="us-east-1")
s3.create_bucket(Bucket="bench")
kinds = [("anat/{s}_T1w.nii.gz", 2 << 20), ("anat/{s}_T1w.json", 300),
         ("anat/{s}_T2w.nii.gz", 4000), ("func/{s}_task-rest_bold.nii.gz", 4000),
         ("func/{s}_task-rest_events.tsv", 200), ("func/{s}_task-rest_bold.json", 300),
         ("dwi/{s}_dwi.nii.gz", 4000), ("dwi/{s}_dwi.bval", 100),
         ("dwi/{s}_dwi.bvec", 100), ("dwi/{s}_dwi.json", 300)]
def put(i):
    s = f"sub-{i // 10 + 1:03d}"
    name, size = kinds[i % 10]
    s3.put_object(Bucket="bench", Key="ds/" + f"{s}/" + name.format(s=s),
                  Body=os.urandom(size), ACL="public-read")
s3.put_object(Bucket="bench", Key="ds/dataset_description.json",
              Body=b'{"Name": "bench", "BIDSVersion": "1.8.0"}', ACL="public-read")
with ThreadPoolExecutor(16) as ex:
    list(ex.map(put, range(2000)))
PY

SUBS=$(seq -f '%03g' 1 10 200 | head -20)
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
export AWS_ENDPOINT_URL_S3=$ENDPOINT ANNEXA_CACHE="$TMP/cache"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost

sub_args=()
for s in $SUBS; do sub_args+=(--sub "$s"); done

t0=$(now)
annexa get s3://bench/ds --to "$TMP/cold" "${sub_args[@]}" --suffix T1w --ext .nii.gz --jobs 8 >/dev/null
t1=$(now)
annexa cache clean --all >/dev/null 2>&1 || true
annexa get s3://bench/ds --to "$TMP/again" "${sub_args[@]}" --suffix T1w --ext .nii.gz --jobs 8 >/dev/null
t2=$(now)

python3 - "$ENDPOINT" "$TMP/script" $SUBS <<'PY' &
import hashlib, os, re, sys, boto3
from botocore import UNSIGNED
from botocore.config import Config
from concurrent.futures import ThreadPoolExecutor
ep, out, subs = sys.argv[1], sys.argv[2], sys.argv[3:]
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1",
                  config=Config(signature_version=UNSIGNED, max_pool_connections=8))
pattern = re.compile(r"^ds/sub-(%s)/anat/sub-\1_T1w\.nii\.gz$" % "|".join(subs))
wanted = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix="ds/"):
    wanted += [(o["Key"], o["ETag"].strip('"')) for o in page.get("Contents", [])
               if pattern.match(o["Key"])]
def fetch(item):
    key, etag = item
    dest = os.path.join(out, key[3:])
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    body = s3.get_object(Bucket="bench", Key=key)["Body"].read()
    assert hashlib.md5(body).hexdigest() == etag, key
    with open(dest + ".part", "wb") as f:
        f.write(body)
    os.rename(dest + ".part", dest)
with ThreadPoolExecutor(8) as ex:
    list(ex.map(fetch, wanted))
assert len(wanted) == len(subs), len(wanted)
PY
t3=$(now); wait $!; t4=$(now)

n_cold=$(find "$TMP/cold" -name '*_T1w.nii.gz' | wc -l)
n_script=$(find "$TMP/script" -name '*_T1w.nii.gz' | wc -l)
echo "git-annex: $(git annex version --raw), $(nproc) cores; 20 of 200 subjects' T1w (2 MiB each)"
printf '%-44s %8s %6s\n' method "wall (s)" files
printf '%-44s %8s %6s\n' "annexa get s3://... (import + fetch), -J8" "$(secs "$t0" "$t1")" "$n_cold"
printf '%-44s %8s %6s\n' "annexa get s3://... (fresh cache again), -J8" "$(secs "$t1" "$t2")" "$n_cold"
printf '%-44s %8s %6s\n' "per-file script (list, regex, get, MD5), 8 threads" "$(secs "$t3" "$t4")" "$n_script"
