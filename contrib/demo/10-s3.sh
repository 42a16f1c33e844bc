#!/usr/bin/env bash
# Demo: an annexa S3 special remote on a local S3 server (moto_server).
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

export AWS_ACCESS_KEY_ID=demo-key AWS_SECRET_ACCESS_KEY=demo-secret
export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@localhost
export GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@localhost

run() { echo "\$ $*"; "$@"; }

cd "$work"
git init -q study && cd study
git annex init -q demo
mkdir -p "sub-01/anat" "sub-01/func"
head -c 3000000 /dev/urandom > sub-01/anat/sub-01_T1w.nii.gz
head -c 200000 /dev/urandom > "sub-01/func/sub-01_task-rest_bold.nii.gz"
echo "notes with spaces" > "lab notes.txt"
git annex add -q . && git commit -q -m "data"

run git annex initremote s3 type=external externaltype=annexa encryption=none \
  provider=s3 bucket=annexa-demo createbucket=yes endpoint="http://127.0.0.1:$port"
run git annex copy -J4 --to s3 .
run git annex drop .
run git annex get -J4 .
run git annex fsck --from s3 --fast .
run git annex whereis sub-01/anat/sub-01_T1w.nii.gz
run git annex info s3
echo "S3 demo: every file went to the local S3 server and came back verified."
