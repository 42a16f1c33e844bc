#!/usr/bin/env bash
# Demo: an archive becomes a dataset. A public S3 prefix laid out as BIDS (on a
# local moto_server) is imported with `annexa import` without downloading,
# then fetched by BIDS filters, straight from the S3 source too.
# No network, no accounts: everything runs on loopback in a temp folder.
set -euo pipefail

work=$(mktemp -d)
moto_pid=
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null || true
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@localhost
export GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@localhost
export ANNEXA_CACHE="$work/cache"

run() { echo "\$ $*"; "$@"; }

# A publisher puts a small BIDS dataset in a bucket anyone may read.
python3 - "http://127.0.0.1:$port" <<'PY'
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id="publisher", aws_secret_access_key="publisher")
s3.create_bucket(Bucket="bids-demo")
def put(path, body):
    s3.put_object(Bucket="bids-demo", Key="ds001/" + path, Body=body, ACL="public-read")
put("dataset_description.json", b'{"Name": "demo", "BIDSVersion": "1.9.0"}')
put("participants.tsv", b"participant_id\nsub-01\nsub-02\nsub-03\n")
put("task-rest_bold.json", b'{"RepetitionTime": 2.0}')
for sub in ("01", "02", "03"):
    put(f"sub-{sub}/anat/sub-{sub}_T1w.nii.gz", os.urandom(40000))
    put(f"sub-{sub}/func/sub-{sub}_task-rest_bold.nii.gz", os.urandom(90000))
PY

# The reader has no credentials: the bucket is read anonymously.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$port"
cd "$work"
run annexa import s3://bids-demo/ds001 ds001
run git -C ds001 annex find --not --in here | head -3
run git -C ds001 annex get sub-02/anat
test "$(stat -L -c %s ds001/sub-02/anat/sub-02_T1w.nii.gz)" = 40000

# The same source straight into a folder of plain files, by BIDS filters.
run annexa get s3://bids-demo/ds001 --to t1 --suffix T1w --sub 01 --sub 03
find t1 -type f | sort
test -f t1/sub-01/anat/sub-01_T1w.nii.gz && test -f t1/sub-03/anat/sub-03_T1w.nii.gz
test ! -e t1/sub-02
echo "import demo: ok"
