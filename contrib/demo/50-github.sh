#!/usr/bin/env bash
# Demo: an annexa GitHub Releases remote on the fake GitHub (loopback, no
# network, no account): store, drop, get back verified, an empty file, and
# `git annex addurl` of a release page.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

token=ghp_demo0123456789
python3 "$here/tests/fakes/github_server.py" --port 0 --token "$token" --repo lab/study \
  --release lab/study:v1.0 --data-dir "$work/fake" >"$work/ready" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q READY "$work/ready" 2>/dev/null && break; sleep 0.1; done
read -r _ api_port _ <"$work/ready"
api="http://127.0.0.1:$api_port"

export GITHUB_TOKEN=$token
export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@localhost
export GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@localhost
run() { echo "\$ $*"; "$@"; }

# A published release with two assets, as a collaborator made it.
printf 'a,b\n1,2\n' | curl -s -X POST --data-binary @- \
  "$api/_fake/asset?repo=lab/study&tag=v1.0&name=table.csv" >/dev/null
head -c 50000 /dev/urandom | curl -s -X POST --data-binary @- \
  "$api/_fake/asset?repo=lab/study&tag=v1.0&name=scan.bin" >/dev/null

cd "$work"
git init -q study && cd study
git annex init -q demo
mkdir -p sub-01/anat
head -c 2000000 /dev/urandom > sub-01/anat/sub-01_T1w.nii.gz
: > sub-01/empty.txt
git annex add -q . && git commit -q -m data

run git annex initremote gh type=external externaltype=annexa encryption=none \
  provider=github api="$api" repo=lab/study tag=annex-data createrelease=yes
run git annex copy --to gh .
run git annex drop .
run git annex get .
run git annex fsck --from gh --fast .
echo "# assets of release annex-data (the empty file needs none):"
curl -s "$api/_fake/state" | python3 -c 'import json,sys; [print("  ", a["name"], a["size"]) for r in json.load(sys.stdin)["lab/study"] if r["tag_name"]=="annex-data" for a in r["assets"]]'
run git annex addurl "$api/lab/study/releases/tag/v1.0"
run git annex whereis --in gh .
echo "# the token never reached the storage host:"
curl -s "$api/_fake/storage-log" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("   storage requests:", len(d["requests"]), "carrying the token:", len(d["violations"])); sys.exit(1 if d["violations"] else 0)'
echo "GitHub demo: stored, dropped, fetched back verified; a release page added with addurl."
