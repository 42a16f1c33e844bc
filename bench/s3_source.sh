#!/usr/bin/env bash
# S3 BIDS downloader benchmark (issues 10 and 21): a few subjects' T1w from a
# public S3 prefix of about 30,000 objects (bench/bids_make_dataset.py's
# multi-site layout, T1w images 1 MiB) on moto_server, read anonymously,
# side by side in one run, best of ROUNDS (default 2) each:
#   boto3     the hand-written downloader: paged list_objects_v2, a regex on
#             names, 8 download threads, MD5 of each body against its ETag
#   aws       `aws s3 sync --no-sign-request --exclude '*' --include ...`
#             (PyPI awscli)
#   annexa    `annexa get s3://... --sub ... --suffix T1w --ext .nii.gz -J 8`
#             from a cold cache (it also brings each image's sidecar, the
#             scans/sessions tables and dataset_description.json)
# then a second `annexa get` of 4 other subjects from the warm cache, and
# `annexa import` of a prefix of about 10,000 objects against listing it.
# ONLY=import runs that last comparison alone (no 30,000-object study).
# Every byte is verified by all three. awscli and boto3 come from the bench
# venv ($ANNEXA_VENV/bench, contrib/python/bench.txt: `make bench` installs
# it); moto_server from the tools venv. Prints a table; figures go to
# docs/benchmarks.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
venv=${ANNEXA_VENV:-$root/.venv}
BENCH_PY=$venv/bench/bin/python
AWS=$venv/bench/bin/aws
TOOLS_PY=$venv/tools/bin/python
SITES=${SITES:-20}
T1W_BYTES=${T1W_BYTES:-1048576}
ROUNDS=${ROUNDS:-2}
for tool in "$BENCH_PY" "$AWS" "$TOOLS_PY"; do
    [[ -x $tool ]] || { echo "s3_source.sh: $tool is missing (bash contrib/install-deps.sh --bench)" >&2; exit 1; }
done

TMP=$(mktemp -d)
cleanup() {
    [[ -n ${MOTO_PID:-} ]] && kill "$MOTO_PID" 2>/dev/null || true
    chmod -R u+w "$TMP" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$venv/tools/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$TMP/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.2
done
ENDPOINT="http://127.0.0.1:$PORT"

# The study (about 30,000 files) and a smaller one (about 10,000 files, 1 KiB
# images) for the import, uploaded under two prefixes of one public bucket.
mkdir -p "$TMP/ds"
[[ ${ONLY:-} == import ]] || python3 "$here/bids_make_dataset.py" "$TMP/ds" "$SITES" 25 "$T1W_BYTES"
python3 "$here/bids_make_dataset.py" "$TMP/imp" 4 41 1024
"$TOOLS_PY" - "$ENDPOINT" "$TMP" <<'PY'
import os, sys, boto3
from concurrent.futures import ThreadPoolExecutor
ep, tmp = sys.argv[1:3]
s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id="a", aws_secret_access_key="b",
                  region_name="us-east-1", config=boto3.session.Config(max_pool_connections=16))
s3.create_bucket(Bucket="bench")
# Anonymous reads, as of a public dataset (HeadObject: moto's name for HEAD).
s3.put_bucket_policy(Bucket="bench", Policy="""{"Version": "2012-10-17", "Statement": [{
  "Effect": "Allow", "Principal": "*",
  "Action": ["s3:GetObject", "s3:HeadObject", "s3:ListBucket"],
  "Resource": ["arn:aws:s3:::bench", "arn:aws:s3:::bench/*"]}]}""")
files = []
for prefix in ("ds", "imp"):
    for d, _, names in os.walk(os.path.join(tmp, prefix)):
        for n in names:
            p = os.path.join(d, n)
            files.append((p, prefix + "/" + os.path.relpath(p, os.path.join(tmp, prefix))))
def put(item):
    with open(item[0], "rb") as f:
        s3.put_object(Bucket="bench", Key=item[1], Body=f.read())
with ThreadPoolExecutor(16) as ex:
    list(ex.map(put, files))
PY
N_DS=$(find "$TMP/ds" -type f | wc -l)
N_IMP=$(find "$TMP/imp" -type f | wc -l)
rm -rf "$TMP/ds" "$TMP/imp"

cat >"$TMP/boto3_get.py" <<'PY'
import hashlib, os, re, sys, boto3
from botocore import UNSIGNED
from botocore.config import Config
from concurrent.futures import ThreadPoolExecutor
ep, out, subs = sys.argv[1], sys.argv[2], sys.argv[3:]
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1",
                  config=Config(signature_version=UNSIGNED, max_pool_connections=8))
pattern = re.compile(r"^ds/(sub-(%s)/(ses-[^/]+/)?anat/sub-\2_(ses-[^_/]+_)?T1w\.nii\.gz)$"
                     % "|".join(subs))
wanted = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix="ds/"):
    for o in page.get("Contents", []):
        m = pattern.match(o["Key"])
        if m:
            wanted.append((o["Key"], m.group(1), o["ETag"].strip('"')))
def fetch(item):
    key, rel, etag = item
    dest = os.path.join(out, rel)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    body = s3.get_object(Bucket="bench", Key=key)["Body"].read()
    assert hashlib.md5(body).hexdigest() == etag, key
    with open(dest + ".part", "wb") as f:
        f.write(body)
    os.rename(dest + ".part", dest)
with ThreadPoolExecutor(8) as ex:
    list(ex.map(fetch, wanted))
PY
cat >"$TMP/boto3_list.py" <<'PY'
import sys, boto3
from botocore import UNSIGNED
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  config=Config(signature_version=UNSIGNED))
n = 0
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix=sys.argv[2]):
    n += len(page.get("Contents", []))
print(n)
PY

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
best() { printf '%s\n' "$@" | sort -g | head -1; }
export AWS_ENDPOINT_URL_S3=$ENDPOINT
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost

# Subjects are sub-SSNNN (site SS, number NNN), two sessions each.
FIRST=(01001 05003 10010 "$(printf '%02d025' "$SITES")")
SECOND=(02001 06003 11010 "$(printf '%02d024' "$SITES")")
include=()
for s in "${FIRST[@]}"; do include+=(--include "sub-$s/*_T1w.nii.gz"); done
join() { local IFS=,; echo "$*"; }

t_list=() t_boto=() t_aws=() t_cold=() t_warm=() rss_cold=()
for round in $(seq "$([[ ${ONLY:-} == import ]] && echo 0 || echo "$ROUNDS")"); do
    r="$TMP/r$round"
    mkdir -p "$r"
    t0=$(now); "$BENCH_PY" "$TMP/boto3_list.py" "$ENDPOINT" ds/ >/dev/null; t1=$(now)
    t_list+=("$(secs "$t0" "$t1")")
    t0=$(now); "$BENCH_PY" "$TMP/boto3_get.py" "$ENDPOINT" "$r/boto3" "${FIRST[@]}"; t1=$(now)
    t_boto+=("$(secs "$t0" "$t1")")
    t0=$(now)
    "$AWS" s3 sync --no-sign-request --only-show-errors --endpoint-url "$ENDPOINT" \
        s3://bench/ds "$r/aws" --exclude '*' "${include[@]}"
    t1=$(now)
    t_aws+=("$(secs "$t0" "$t1")")
    export ANNEXA_CACHE="$r/cache"
    t0=$(now)
    /usr/bin/time -f '%M' -o "$r/rss" annexa get s3://bench/ds --to "$r/annexa" \
        --sub "$(join "${FIRST[@]}")" --suffix T1w --ext .nii.gz -J 8 >/dev/null 2>"$r/err" \
        || { cat "$r/err" >&2; exit 1; }
    t1=$(now)
    annexa get s3://bench/ds --to "$r/annexa2" \
        --sub "$(join "${SECOND[@]}")" --suffix T1w --ext .nii.gz -J 8 >/dev/null 2>>"$r/err" \
        || { cat "$r/err" >&2; exit 1; }
    t2=$(now)
    t_cold+=("$(secs "$t0" "$t1")") t_warm+=("$(secs "$t1" "$t2")")
    rss_cold+=("$(cat "$r/rss")")
    # The same images, byte for byte, from all three.
    n_boto=$(find "$r/boto3" -type f | wc -l)
    n_aws=$(find "$r/aws" -type f | wc -l)
    n_images=$(find "$r/annexa" -name '*_T1w.nii.gz' | wc -l)
    [[ $n_boto == "$n_aws" && $n_boto == "$n_images" && $n_boto -gt 0 ]] \
        || { echo "s3_source.sh: files differ: boto3 $n_boto, aws $n_aws, annexa $n_images" >&2; exit 1; }
    (cd "$r/boto3" && find . -type f) | while read -r f; do
        cmp -s "$r/boto3/$f" "$r/aws/$f" && cmp -s "$r/boto3/$f" "$r/annexa/$f" \
            || { echo "s3_source.sh: $f differs" >&2; exit 1; }
    done
    n_annexa=$(find "$r/annexa" -type f | wc -l)
    n_annexa2=$(find "$r/annexa2" -type f | wc -l)
done

# Import of about 10,000 objects against listing them (boto3, and the
# AWS CLI's `s3 ls --recursive`), alternating.
t_ilist=() t_als=() t_import=()
for round in $(seq "$ROUNDS"); do
    t0=$(now); "$BENCH_PY" "$TMP/boto3_list.py" "$ENDPOINT" imp/ >/dev/null; t1=$(now)
    "$AWS" s3 ls --no-sign-request --recursive --endpoint-url "$ENDPOINT" s3://bench/imp/ >/dev/null; t2=$(now)
    annexa import s3://bench/imp "$TMP/import$round" >/dev/null 2>"$TMP/import.err" \
        || { cat "$TMP/import.err" >&2; exit 1; }
    t3=$(now)
    t_ilist+=("$(secs "$t0" "$t1")") t_als+=("$(secs "$t1" "$t2")") t_import+=("$(secs "$t2" "$t3")")
done

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
if [[ ${ONLY:-} != import ]]; then
b_list=$(best "${t_list[@]}") b_boto=$(best "${t_boto[@]}") b_aws=$(best "${t_aws[@]}")
b_cold=$(best "${t_cold[@]}") b_warm=$(best "${t_warm[@]}")
faster=$(best "$b_boto" "$b_aws")
echo "git-annex $(git annex version --raw), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$N_DS objects under s3://bench/ds/; subjects ${FIRST[*]} (T1w $T1W_BYTES bytes); best of $ROUNDS"
printf '| %s | %s | %s | %s |\n' method "wall (s), rounds" best files
printf '| --- | --- | ---: | ---: |\n'
printf '| %s | %s | %s | %s |\n' "boto3: list the prefix only" "${t_list[*]}" "$b_list" "-"
printf '| %s | %s | %s | %s |\n' "boto3 script (list, regex, 8 threads, MD5 vs ETag)" "${t_boto[*]}" "$b_boto" "$n_boto"
printf '| %s | %s | %s | %s |\n' "aws s3 sync --no-sign-request --exclude '*' --include ..." "${t_aws[*]}" "$b_aws" "$n_aws"
printf '| %s | %s | %s | %s |\n' "annexa get -J 8, cold cache (max RSS KiB: ${rss_cold[*]})" "${t_cold[*]}" "$b_cold" "$n_annexa"
printf '| %s | %s | %s | %s |\n' "annexa get -J 8 of 4 other subjects, warm cache" "${t_warm[*]}" "$b_warm" "$n_annexa2"
echo "annexa cold / faster of boto3 and aws: $(ratio "$b_cold" "$faster") (target <= 1.0)"
echo "annexa warm / cold: $(ratio "$b_warm" "$b_cold") (target <= 0.5)"
fi
b_ilist=$(best "${t_ilist[@]}") b_als=$(best "${t_als[@]}") b_import=$(best "${t_import[@]}")
echo
echo "$N_IMP objects under s3://bench/imp/; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); best of $ROUNDS"
printf '| %s | %s | %s |\n' method "wall (s), rounds" best
printf '| --- | --- | ---: |\n'
printf '| %s | %s | %s |\n' "boto3: list the prefix" "${t_ilist[*]}" "$b_ilist"
printf '| %s | %s | %s |\n' "aws s3 ls --recursive" "${t_als[*]}" "$b_als"
printf '| %s | %s | %s |\n' "annexa import s3://bench/imp DIR" "${t_import[*]}" "$b_import"
echo "annexa import / boto3 listing: $(ratio "$b_import" "$b_ilist") (target <= 1.2)"
