#!/usr/bin/env bash
# Demo: an annexa Figshare remote on the fake Figshare server (loopback, no
# network, no account): store (multi-part upload), drop, get back verified
# through the API download endpoint, add a file by its browser URL (which
# answers plain tools with an empty WAF challenge), then publish and see that
# a published file cannot be dropped from Figshare.
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

token=demo-figshare-token-0123456789
article=4242
python3 "$here/tests/fakes/figshare_server.py" --port 0 --token "$token" --article "$article" \
  --data-dir "$work" >"$work/ready" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q READY "$work/ready" && break; sleep 0.1; done
read -r _ api_port _ <"$work/ready"
web="http://127.0.0.1:$api_port"
api="$web/v2"

export FIGSHARE_API_KEY=$token
export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@localhost
export GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@localhost
run() { echo "\$ $*"; "$@"; }

cd "$work"
git init -q study && cd study
git annex init -q demo
head -c 1500000 /dev/urandom > connectome.npz
printf 'index\tname\n1\tV1\n' > labels.tsv
git annex add -q . && git commit -q -m data

run git annex initremote fs type=external externaltype=annexa encryption=none \
  provider=figshare api="$api" article="$article"
run git annex copy --to fs .
run git annex drop .
run git annex get .
run git annex fsck --from fs --fast .
echo "# the article's files as Figshare lists them:"
curl -s -H "Authorization: token $token" "$api/account/articles/$article/files?page=1&page_size=100" |
  python3 -c 'import json,sys; [print("  ", f["id"], f["name"], f["size"], f["status"]) for f in json.load(sys.stdin)]'
id=$(curl -s -H "Authorization: token $token" "$api/account/articles/$article/files" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
echo "# the browser URL answers plain tools with an empty WAF challenge:"
curl -s -o /dev/null -w '   HTTP %{http_code}, %{size_download} bytes\n' "$web/ndownloader/files/$id"
echo "# annexa claims it and fetches the bytes through the API instead:"
run git annex addurl --file by-url.bin "$web/ndownloader/files/$id"
ls -lL by-url.bin
echo "# publishing version 1, then trying to drop from Figshare (must fail):"
curl -s -X POST "$web/_fake/publish?article=$article" >/dev/null
if git annex drop --from fs labels.tsv; then
  echo "unexpected: drop of a published file succeeded" >&2
  exit 1
fi
echo "# the token never reached the storage host:"
curl -s "$web/_fake/storage-log" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("   storage requests:", len(d["requests"]), "carrying the token:", len(d["violations"])); sys.exit(1 if d["violations"] else 0)'
echo "Figshare demo: stored, dropped, fetched back verified; the WAF challenge never became a file; published content is not dropped."
