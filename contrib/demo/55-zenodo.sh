#!/usr/bin/env bash
# Demo: Zenodo on the fake InvenioRDM (loopback, no network, no account):
# import a published record by its concept DOI (the latest version, keyed by
# Zenodo's md5: checksums, nothing downloaded), select with BIDS filters,
# then keep content in a draft, publish it, and see that published content
# cannot be dropped from Zenodo while new content goes to the new version.
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

token=demo-zenodo-token-0123456789
python3 "$here/tests/fakes/zenodo_server.py" --port 0 --token "$token" --record 4242 \
  --record 5353 --data-dir "$work/server" >"$work/ready" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q READY "$work/ready" && break; sleep 0.1; done
read -r _ port <"$work/ready"
web="http://127.0.0.1:$port"
api="$web/api"

export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@localhost
export GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@localhost
run() { echo "\$ $*"; "$@"; }
seed() { curl -sf -X POST --data-binary @- "$web/_fake/file?record=$1&name=$2" >/dev/null; }

# A published BIDS record (names as annexa's export writes them).
printf '{"Name": "demo", "BIDSVersion": "1.8.0"}' | seed 4242 dataset_description.json
for s in 01 02; do
  head -c 200000 /dev/urandom | seed 4242 "sub-$s%252Fanat%252Fsub-${s}_T1w.nii.gz"
  head -c 300000 /dev/urandom | seed 4242 "sub-$s%252Ffunc%252Fsub-${s}_task-rest_bold.nii.gz"
done
concept=$(curl -sf -X POST "$web/_fake/publish?record=4242" | python3 -c 'import json,sys; print(json.load(sys.stdin)["parent"])')

cd "$work"
echo "# anonymous: the concept DOI names the latest version; --api names the (fake) InvenioRDM"
run annexa import "doi:10.5281/zenodo.$concept" --api "$api" ds
(cd ds && git annex find --not --in here | head -3)
run annexa ls "$api/records/$concept" --sub 01 --suffix T1w
run annexa get "$api/records/$concept" --to "$work/t1" --sub 01 --suffix T1w
ls -l "$work/t1/sub-01/anat"

echo "# a draft as a remote (the owner's token)"
export ZENODO_TOKEN=$token
git init -q study && cd study
git annex init -q demo
head -c 150000 /dev/urandom > atlas.nii.gz
printf 'index\tname\n1\tV1\n' > labels.tsv
git annex add -q . && git commit -q -m data
run git annex initremote zenodo type=external externaltype=annexa encryption=none \
  provider=zenodo api="$api" record=5353
run git annex copy --to zenodo .
run git annex drop .
run git annex get .
echo "# publishing the draft on Zenodo, then trying to drop from it (must fail):"
curl -sf -X POST "$web/_fake/publish?record=5353" >/dev/null
if git annex drop --from zenodo labels.tsv; then
  echo "unexpected: drop of a published file succeeded" >&2
  exit 1
fi
echo "# new content goes to the record's new version (a draft to publish):"
printf 'index\tname\n1\tV1\n2\tV2\n' > labels-v2.tsv
git annex add -q labels-v2.tsv && git commit -q -m v2
run git annex copy --to zenodo labels-v2.tsv
curl -sf "$web/_fake/state" | python3 -c '
import json, sys
for rid, r in sorted(json.load(sys.stdin).items()):
    print("   record %s: version %s, %s, %d files" % (rid, r["index"], "published" if r["published"] else "draft", len(r["files"])))'
echo "Zenodo demo: imported by concept DOI without downloading, selected by BIDS filters, stored in a draft, published content kept."
