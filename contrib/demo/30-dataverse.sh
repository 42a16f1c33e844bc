#!/usr/bin/env bash
# Demo: an annexa Dataverse remote on the fake Dataverse server (loopback,
# no network, no account): store, drop, get back verified, then publish and
# see that a published file cannot be dropped from Dataverse.
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

token=demo-token-0123456789
pid=doi:10.5072/FK2/DEMO01
python3 "$here/tests/fakes/dataverse_server.py" --port 0 --token "$token" --dataset "$pid" \
  --data-dir "$work" >"$work/ready" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q READY "$work/ready" && break; sleep 0.1; done
read -r _ api_port _ <"$work/ready"
url="http://127.0.0.1:$api_port"

export DATAVERSE_API_KEY=$token
export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@localhost
export GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@localhost
run() { echo "\$ $*"; "$@"; }

cd "$work"
git init -q study && cd study
git annex init -q demo
mkdir -p sub-01/anat
head -c 2000000 /dev/urandom > sub-01/anat/sub-01_T1w.nii.gz
printf 'participant_id,age\nsub-01,23\n' > participants.csv
git annex add -q . && git commit -q -m data

run git annex initremote dv type=external externaltype=annexa encryption=none \
  provider=dataverse url="$url" doi="$pid" rootpath=annex
run git annex copy --to dv .
run git annex drop .
run git annex get .
run git annex fsck --from dv --fast .
run git annex whereis participants.csv
echo "# the dataset's draft as Dataverse lists it:"
curl -s -H "X-Dataverse-key: $token" \
  "$url/api/datasets/:persistentId/versions/:draft/files?persistentId=$pid" |
  python3 -c 'import json,sys; [print("  ", f.get("directoryLabel",""), f["label"], f["dataFile"]["filesize"]) for f in json.load(sys.stdin)["data"]]'
echo "# publishing version 1.0, then trying to drop from Dataverse (must fail):"
curl -s -X POST -H "X-Dataverse-key: $token" \
  "$url/api/datasets/:persistentId/actions/:publish?persistentId=$pid&type=major" >/dev/null
if git annex drop --from dv participants.csv; then
  echo "unexpected: drop of a published file succeeded" >&2
  exit 1
fi
echo "# the token never reached the storage host:"
curl -s "$url/_fake/storage-log" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("   storage requests:", len(d["requests"]), "carrying the token:", len(d["violations"])); sys.exit(1 if d["violations"] else 0)'
echo "Dataverse demo: stored, dropped, fetched back verified; published content is not dropped."
