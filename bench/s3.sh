#!/usr/bin/env bash
# S3 benchmark: annexa vs git-annex's built-in S3 remote vs a directory
# special remote, all against one local moto_server started here.
#
#   bash bench/s3.sh            (or: make bench)
#
# Measures, in one run:
#   1. `git annex copy --to` and `git annex get --from` (after a drop) of
#      BENCH_SMALL_KEYS small files (1-16 KiB of random bytes) with -J$BENCH_JOBS,
#      through annexa, through git-annex's built-in S3 remote and through a
#      `directory` special remote (git-annex's own per-key floor);
#   2. one BENCH_LARGE_MIB MiB object: `copy --to` and `get` through annexa
#      (annexa's own share read off `git annex --debug` timestamps), a plain
#      download (and upload) by curl, SigV4-signed by curl itself, from the
#      same server, alternating, best of BENCH_LARGE_ROUNDS; and, for
#      context, the same object through the built-in S3 remote;
#   3. annexa's peak memory and CPU time (every annexa process runs under
#      /usr/bin/time through a wrapper first on PATH).
#
# Environment (defaults in brackets):
#   BENCH_SMALL_KEYS [1000]   BENCH_JOBS [8]   BENCH_LARGE_MIB [1024]
#   BENCH_LARGE_ROUNDS [2]    BENCH_NO_ASYNC_ROW [0] (1: add an annexa row
#     with ANNEXA_NO_ASYNC=1, i.e. one annexa process per git-annex job)
#   BENCH_WRITE_DOC [auto]    1: write the figures into docs/benchmarks.md;
#     0: only print them; auto: write only with the default sizes.
#   BENCH_KEEP [0]            1: keep the temporary directory.
#
# Needs git-annex, moto_server (PyPI moto[server]), curl and /usr/bin/time
# (installed from Debian when missing). No network beyond 127.0.0.1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SMALL_KEYS=${BENCH_SMALL_KEYS:-1000}
JOBS=${BENCH_JOBS:-8}
LARGE_MIB=${BENCH_LARGE_MIB:-1024}
LARGE_ROUNDS=${BENCH_LARGE_ROUNDS:-2}
NO_ASYNC_ROW=${BENCH_NO_ASYNC_ROW:-0}
WRITE_DOC=${BENCH_WRITE_DOC:-auto}
KEEP=${BENCH_KEEP:-0}
DOC="$ROOT/docs/benchmarks.md"
SECTION='## S3 special remote (annexa vs git-annex built-in)'

if [[ $WRITE_DOC == auto ]]; then
    if [[ $SMALL_KEYS == 1000 && $LARGE_MIB == 1024 && $JOBS == 8 ]]; then
        WRITE_DOC=1
    else
        WRITE_DOC=0
    fi
fi

say() { printf '[bench/s3] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# --- tools ------------------------------------------------------------------
need_apt() {
    # $1: command, $2: Debian package
    if ! command -v "$1" >/dev/null 2>&1; then
        say "installing $2 (missing $1)"
        if [[ $(id -u) == 0 ]]; then
            apt-get install -y -q "$2" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "$2" >/dev/null; }
        else
            sudo apt-get install -y -q "$2" >/dev/null
        fi
    fi
}
need_apt git-annex git-annex
need_apt curl curl
[[ -x /usr/bin/time ]] || { need_apt /usr/bin/time time; }
if ! command -v moto_server >/dev/null 2>&1; then
    # Into the project's tools venv, never the system Python.
    say "installing moto[server] into the project venv (missing moto_server)"
    bash "$ROOT/contrib/install-deps.sh" --demo
    PATH="${ANNEXA_VENV:-$ROOT/.venv}/tools/bin:$PATH"
fi

say "building release binaries"
(cd "$ROOT" && cargo build --release --quiet)
# Wherever cargo put them (CARGO_TARGET_DIR, build.target-dir).
TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
REAL_REMOTE="$TARGET_DIR/release/git-annex-remote-annexa"
[[ -x $REAL_REMOTE ]] || die "no $REAL_REMOTE after cargo build"

# --- scratch space and the S3 server -----------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/annexa-bench-s3.XXXXXX")
MOTO_PID=
cleanup() {
    local status=$?
    if [[ -n $MOTO_PID ]]; then
        kill "$MOTO_PID" 2>/dev/null || true
        wait "$MOTO_PID" 2>/dev/null || true
    fi
    if [[ $KEEP == 1 ]]; then
        say "kept $WORK"
    else
        chmod -R u+w "$WORK" 2>/dev/null || true
        rm -rf "$WORK"
    fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_kib=$(( (LARGE_MIB * 3 + SMALL_KEYS * 16 / 1024 * 4 + 256) * 1024 ))
free_kib=$(df -Pk "$WORK" | awk 'NR==2 {print $4}')
(( free_kib > need_kib )) || die "need about $((need_kib / 1024)) MiB free in $WORK, have $((free_kib / 1024)) MiB"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ENDPOINT="http://127.0.0.1:$PORT"
mkdir -p "$WORK/moto-tmp" "$WORK/logs"
# moto keeps large objects in spooled temp files: keep them in $WORK.
TMPDIR="$WORK/moto-tmp" moto_server -H 127.0.0.1 -p "$PORT" >"$WORK/logs/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 100); do
    curl -s -o /dev/null "$ENDPOINT/" && break
    kill -0 "$MOTO_PID" 2>/dev/null || { cat "$WORK/logs/moto.log" >&2; die "moto_server did not start"; }
    sleep 0.2
done
curl -s -o /dev/null "$ENDPOINT/" || die "moto_server is not answering on $ENDPOINT"
MOTO_VERSION=$(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || echo unknown)
say "moto_server $MOTO_VERSION on $ENDPOINT (pid $MOTO_PID), work dir $WORK"

# --- environment for git and git-annex ---------------------------------------
export AWS_ACCESS_KEY_ID=bench-key AWS_SECRET_ACCESS_KEY=bench-secret
unset AWS_SESSION_TOKEN ANNEXA_NO_ASYNC ANNEXA_MAX_RATE
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$WORK/gitconfig"
git config --file "$GIT_CONFIG_GLOBAL" user.name bench
git config --file "$GIT_CONFIG_GLOBAL" user.email bench@example.invalid
git config --file "$GIT_CONFIG_GLOBAL" init.defaultBranch main

# Every annexa process git-annex starts runs under /usr/bin/time, which
# writes its max RSS (KiB) and CPU seconds (user, system) to
# $ANNEXA_RSS_DIR/rss.PID.
mkdir -p "$WORK/wrap"
cat >"$WORK/wrap/git-annex-remote-annexa" <<EOF
#!/bin/sh
exec /usr/bin/time -f "%M %U %S" -o "\${ANNEXA_RSS_DIR:-$WORK/rss-misc}/rss.\$\$" "$REAL_REMOTE" "\$@"
EOF
chmod +x "$WORK/wrap/git-annex-remote-annexa"
mkdir -p "$WORK/rss-misc"
export PATH="$WORK/wrap:$PATH"

REPO="$WORK/repo"
git init -q "$REPO"
cd "$REPO"
git annex init -q bench
git config annex.security.allowed-ip-addresses 127.0.0.1

# --- helpers -------------------------------------------------------------------
# timed NAME CMD...: runs CMD (output to logs/NAME.log), sets T[NAME] to
# its wall-clock seconds; fails the benchmark when CMD fails.
declare -A T CPU MOTO_CPU
moto_ticks() { awk '{ print $14 + $15 }' "/proc/$MOTO_PID/stat"; }
TICKS=$(getconf CLK_TCK)
timed() {
    local name=$1
    shift
    local m0 m1
    m0=$(moto_ticks)
    local start=$EPOCHREALTIME
    if ! /usr/bin/time -f "%U %S" -o "$WORK/logs/$name.cpu" "$@" >"$WORK/logs/$name.log" 2>&1; then
        tail -n 20 "$WORK/logs/$name.log" >&2
        die "$name failed: $*"
    fi
    local end=$EPOCHREALTIME
    m1=$(moto_ticks)
    T[$name]=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    # CPU seconds of the command and everything it waited for (git-annex,
    # its git helpers and annexa), and of the S3 server meanwhile.
    CPU[$name]=$(tail -n 1 "$WORK/logs/$name.cpu" | awk '{ printf "%.2f", $1 + $2 }')
    MOTO_CPU[$name]=$(awk -v a="$m0" -v b="$m1" -v t="$TICKS" 'BEGIN { printf "%.2f", (b - a) / t }')
    say "$name: ${T[$name]} s (CPU: command ${CPU[$name]} s, moto ${MOTO_CPU[$name]} s)"
}

# rss_phase NAME: the following annexa processes report into their own dir.
rss_phase() {
    export ANNEXA_RSS_DIR="$WORK/rss-$1"
    mkdir -p "$ANNEXA_RSS_DIR"
}
# rss_max NAME: max RSS in MiB of the annexa processes of phase NAME.
rss_max() {
    local dir="$WORK/rss-$1" f v max=0
    for f in "$dir"/rss.*; do
        [[ -e $f ]] || continue
        v=$(tail -n 1 "$f" | cut -d' ' -f1)
        [[ $v =~ ^[0-9]+$ ]] && (( v > max )) && max=$v
    done
    awk -v k="$max" 'BEGIN { printf "%.1f", k / 1024 }'
}
# cpu_sum NAME: CPU seconds (user + system) of the annexa processes of NAME.
cpu_sum() {
    local dir="$WORK/rss-$1"
    cat /dev/null "$dir"/rss.* 2>/dev/null | awk 'NF == 3 && $1 ~ /^[0-9]+$/ { s += $2 + $3 } END { printf "%.2f", s }'
}
rss_procs() { ls "$WORK/rss-$1" 2>/dev/null | wc -l; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
mbps() { awk -v bytes="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", bytes / 1e6 / s; else print "n/a" }'; }
minof() { printf '%s\n' "$@" | sort -g | head -n 1; }

all_here() {
    local missing
    missing=$(git annex find --not --in here "$@" | wc -l)
    [[ $missing == 0 ]] || die "$missing files not present after get"
}

# --- remotes -------------------------------------------------------------------
# git-annex's built-in S3 remote cannot create a bucket on moto (moto answers
# IllegalLocationConstraintException to its CreateBucket); create it first.
curl -sS --fail -o /dev/null -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$ENDPOINT/builtin-bench" \
    || die "cannot create bucket builtin-bench"
BUILTIN_PARAMS="type=S3 encryption=none bucket=builtin-bench host=127.0.0.1 port=$PORT protocol=http requeststyle=path signature=v4 datacenter=us-east-1"
ANNEXA_PARAMS="type=external externaltype=annexa encryption=none provider=s3 bucket=annexa-bench createbucket=yes endpoint=$ENDPOINT"
mkdir -p "$WORK/directory-remote"
rss_phase init
git annex initremote annexa $ANNEXA_PARAMS >"$WORK/logs/init-annexa.log" 2>&1 || { cat "$WORK/logs/init-annexa.log" >&2; die "initremote annexa"; }
git annex initremote builtin $BUILTIN_PARAMS >"$WORK/logs/init-builtin.log" 2>&1 || { cat "$WORK/logs/init-builtin.log" >&2; die "initremote builtin"; }
git annex initremote directory type=directory directory="$WORK/directory-remote" encryption=none >"$WORK/logs/init-directory.log" 2>&1 || { cat "$WORK/logs/init-directory.log" >&2; die "initremote directory"; }
if [[ $NO_ASYNC_ROW == 1 ]]; then
    git annex initremote annexa-noasync type=external externaltype=annexa encryption=none provider=s3 bucket=annexa-noasync createbucket=yes endpoint="$ENDPOINT" >"$WORK/logs/init-noasync.log" 2>&1 || { cat "$WORK/logs/init-noasync.log" >&2; die "initremote annexa-noasync"; }
fi

LOAD_BEFORE=$(uptime | sed 's/.*load average: //')

# --- 1. small keys -------------------------------------------------------------
say "creating $SMALL_KEYS small files (1-16 KiB)"
mkdir -p small
python3 - "$SMALL_KEYS" <<'EOF'
import os, random, sys
n = int(sys.argv[1])
sizes = random.Random(20261122)
for i in range(n):
    with open(f"small/f{i:05d}.bin", "wb") as f:
        f.write(os.urandom(sizes.randint(1024, 16 * 1024)))
EOF
SMALL_BYTES=$(du -sb small | cut -f1)
git annex add -q small >"$WORK/logs/add-small.log" 2>&1
git commit -q -m "small files"

SMALL_REMOTES=(directory builtin annexa)
[[ $NO_ASYNC_ROW == 1 ]] && SMALL_REMOTES+=(annexa-noasync)
for r in "${SMALL_REMOTES[@]}"; do
    say "small keys through $r"
    [[ $r == annexa-noasync ]] && export ANNEXA_NO_ASYNC=1
    rss_phase "copy-$r"
    timed "copy-$r" git annex copy -J"$JOBS" --to "$r" small
    git annex drop -q --force -J"$JOBS" small >"$WORK/logs/drop-$r.log" 2>&1
    rss_phase "get-$r"
    timed "get-$r" git annex get -J"$JOBS" --from "$r" small
    all_here small
    unset ANNEXA_NO_ASYNC
done

# --- 2. one large object -------------------------------------------------------
LARGE_BYTES=$((LARGE_MIB * 1024 * 1024))
say "creating a $LARGE_MIB MiB file"
mkdir -p large
head -c "$LARGE_BYTES" /dev/urandom >large/big.bin
git annex add -q large >"$WORK/logs/add-large.log" 2>&1
git commit -q -m "large file"
KEY=$(git annex lookupkey large/big.bin)
OBJECT_URL="$ENDPOINT/annexa-bench/$KEY"    # annexa's default layout: prefix+key
BIG="$REPO/.git/annex/objects/$(git annex examinekey --format='${hashdirmixed}${key}/${key}' "$KEY")"
[[ -f $BIG ]] || die "cannot find the annexed file $BIG"
CURL_SIG=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY")

# transfer_seconds LOG STORE|RETRIEVE: the time between git-annex's TRANSFER
# request and annexa's TRANSFER-SUCCESS, from `git annex --debug` timestamps.
transfer_seconds() {
    python3 - "$1" "$2" <<'PYEOF'
import re, sys
from datetime import datetime
text = open(sys.argv[1], errors="replace").read()
direction = sys.argv[2]
stamp = r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d+)\]"
def when(pattern):
    for line in re.split(r"[\r\n]", text):
        m = re.search(stamp + r".*?" + pattern, line)
        if m:
            return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").timestamp() + float("0." + m.group(2))
    sys.exit("no %r in %s" % (pattern, sys.argv[1]))
start = when(r"<-- (?:J \d+ )?TRANSFER " + direction + " ")
end = when(r"--> (?:J \d+ )?TRANSFER-SUCCESS " + direction + " ")
print("%.2f" % (end - start))
PYEOF
}

# A single PUT by curl: what moto takes to store the object in one request.
timed curl-put curl -sS --fail -o /dev/null "${CURL_SIG[@]}" -T "$BIG" "$ENDPOINT/annexa-bench/curl-put-reference"
curl -sS --fail -o /dev/null -X DELETE "${CURL_SIG[@]}" "$ENDPOINT/annexa-bench/curl-put-reference"

rss_phase copy-large
timed copy-large git annex --debug copy --to annexa large/big.bin
XFER_COPY=$(transfer_seconds "$WORK/logs/copy-large.log" STORE)
RSS_COPY_LARGE=$(rss_max copy-large)

drop_big() { git annex drop -q --force large/big.bin >/dev/null 2>&1; sync; }
# git-annex always hashes what an external special remote retrieved (its
# RetrievalVerifiableKeysSecure policy ignores annex.verify=false); these two
# settings together turn that off, so that git-annex get does what curl does.
NO_VERIFY=(-c remote.annexa.annex-security-allow-unverified-downloads=ACKTHPPT -c annex.verify=false)
GET_WALLS=() XFER_GETS=() CURL_TIMES=()
for round in $(seq "$LARGE_ROUNDS"); do
    # curl: a plain signed GET into a file on the same disk.
    rm -f "$WORK/curl.bin"
    sync
    timed "curl-$round" curl -sS --fail "${CURL_SIG[@]}" -o "$WORK/curl.bin" "$OBJECT_URL"
    [[ $(stat -c %s "$WORK/curl.bin") == "$LARGE_BYTES" ]] || die "curl got a short file"
    rm -f "$WORK/curl.bin"
    CURL_TIMES+=("${T[curl-$round]}")
    drop_big
    rss_phase "get-large-$round"
    timed "get-large-$round" git "${NO_VERIFY[@]}" annex --debug get --from annexa large/big.bin
    all_here large
    GET_WALLS+=("${T[get-large-$round]}")
    XFER_GETS+=("$(transfer_seconds "$WORK/logs/get-large-$round.log" RETRIEVE)")
done
# The get as users run it: git-annex hashes the whole file after annexa's part.
drop_big
rss_phase get-large-verified
timed get-large-verified git annex --debug get --from annexa large/big.bin
all_here large
XFER_VERIFIED=$(transfer_seconds "$WORK/logs/get-large-verified.log" RETRIEVE)
VERIFY_SECONDS=$(awk -v a="${T[get-large-verified]}" -v b="$XFER_VERIFIED" 'BEGIN { printf "%.2f", a - b }')

# The same object through git-annex's built-in S3 remote, for context.
timed copy-large-builtin git annex copy --to builtin large/big.bin
drop_big
timed get-large-builtin git annex get --from builtin large/big.bin
all_here large

RSS_GET_LARGE=0
for round in $(seq "$LARGE_ROUNDS") ; do
    v=$(rss_max "get-large-$round")
    RSS_GET_LARGE=$(awk -v a="$RSS_GET_LARGE" -v b="$v" 'BEGIN { print (b > a) ? b : a }')
done
v=$(rss_max get-large-verified)
RSS_GET_LARGE=$(awk -v a="$RSS_GET_LARGE" -v b="$v" 'BEGIN { print (b > a) ? b : a }')
LOAD_AFTER=$(uptime | sed 's/.*load average: //')

BEST_XFER=$(minof "${XFER_GETS[@]}")
BEST_WALL=$(minof "${GET_WALLS[@]}")
BEST_CURL=$(minof "${CURL_TIMES[@]}")
XFER_MBPS=$(mbps "$LARGE_BYTES" "$BEST_XFER")
WALL_MBPS=$(mbps "$LARGE_BYTES" "$BEST_WALL")
CURL_MBPS=$(mbps "$LARGE_BYTES" "$BEST_CURL")
LARGE_RATIO=$(ratio "$XFER_MBPS" "$CURL_MBPS")
WALL_RATIO=$(ratio "$WALL_MBPS" "$CURL_MBPS")

# --- report --------------------------------------------------------------------
SMALL_RSS_MAX=0
for p in copy get; do
    v=$(rss_max "$p-annexa")
    SMALL_RSS_MAX=$(awk -v a="$SMALL_RSS_MAX" -v b="$v" 'BEGIN { print (b > a) ? b : a }')
done
PEAK=$(awk -v a="$RSS_GET_LARGE" -v c="$RSS_COPY_LARGE" -v d="$SMALL_RSS_MAX" \
    'BEGIN { m = a; if (c > m) m = c; if (d > m) m = d; print m }')

verdict() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN { ok = (dir == "le") ? (v <= t) : (v >= t); print ok ? "met" : "MISSED" }'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.2f", a - b }'; }
COPY_RATIO=$(ratio "${T[copy-annexa]}" "${T[copy-builtin]}")
GET_RATIO=$(ratio "${T[get-annexa]}" "${T[get-builtin]}")

table() {
    local small_mib r label procs
    small_mib=$(awk -v b="$SMALL_BYTES" 'BEGIN { printf "%.1f", b / 1048576 }')
    echo "Small keys: $SMALL_KEYS files of 1-16 KiB ($small_mib MiB in all), -J$JOBS, wall seconds"
    echo
    echo "| remote | copy --to (s) | get (s) | above the floor (copy / get) | CPU s, copy / get: whole command ; annexa part of it ; moto | annexa processes, max RSS (copy / get) |"
    echo "|---|---:|---:|---:|---|---|"
    for r in "${SMALL_REMOTES[@]}"; do
        procs="" label=$r
        case $r in
            directory) label="directory (git-annex's floor)" ;;
            builtin) label="git-annex built-in S3" ;;
            annexa) label="annexa" ;;
            annexa-noasync) label="annexa, ANNEXA_NO_ASYNC=1" ;;
        esac
        local acpu="- ; "
        if [[ $r == annexa* ]]; then
            procs="$(rss_procs "copy-$r") / $(rss_procs "get-$r"); $(rss_max "copy-$r") / $(rss_max "get-$r") MiB"
            acpu="$(cpu_sum "copy-$r") / $(cpu_sum "get-$r") ; "
        fi
        echo "| $label | ${T[copy-$r]} | ${T[get-$r]} | $(minus "${T[copy-$r]}" "${T[copy-directory]}") / $(minus "${T[get-$r]}" "${T[get-directory]}") | ${CPU[copy-$r]} / ${CPU[get-$r]} ; $acpu${MOTO_CPU[copy-$r]} / ${MOTO_CPU[get-$r]} | $procs |"
    done
    echo "| **annexa / built-in** | **$COPY_RATIO** | **$GET_RATIO** | | | target <= 1.00: copy $(verdict "$COPY_RATIO" 1 le), get $(verdict "$GET_RATIO" 1 le) |"
    echo
    echo "Large object: $LARGE_MIB MiB of random bytes, MB = 10^6 bytes; annexa get and curl alternate, best of $LARGE_ROUNDS"
    echo
    echo "| transfer | seconds | MB/s | CPU s (user+sys); annexa max RSS |"
    echo "|---|---:|---:|---:|"
    echo "| curl GET -o FILE (rounds: ${CURL_TIMES[*]}) | $BEST_CURL | $CURL_MBPS | curl ${CPU[curl-1]}, moto ${MOTO_CPU[curl-1]} (round 1) |"
    echo "| annexa RETRIEVE: TRANSFER request to TRANSFER-SUCCESS (rounds: ${XFER_GETS[*]}) | $BEST_XFER | $XFER_MBPS | annexa $(cpu_sum get-large-1), moto ${MOTO_CPU[get-large-1]} (round 1); $RSS_GET_LARGE MiB |"
    echo "| whole \`git annex get --from annexa\`, git-annex's hash turned off (rounds: ${GET_WALLS[*]}) | $BEST_WALL | $WALL_MBPS | |"
    echo "| whole \`git annex get --from annexa\`, default (annexa ${XFER_VERIFIED} s, the rest ${VERIFY_SECONDS} s is git-annex: start, hash, bookkeeping) | ${T[get-large-verified]} | $(mbps "$LARGE_BYTES" "${T[get-large-verified]}") | |"
    echo "| whole \`git annex get --from builtin\` | ${T[get-large-builtin]} | $(mbps "$LARGE_BYTES" "${T[get-large-builtin]}") | git-annex ${CPU[get-large-builtin]}, moto ${MOTO_CPU[get-large-builtin]} |"
    echo "| curl PUT -T FILE (one request) | ${T[curl-put]} | $(mbps "$LARGE_BYTES" "${T[curl-put]}") | curl ${CPU[curl-put]}, moto ${MOTO_CPU[curl-put]} |"
    echo "| annexa STORE (multipart above 64 MiB): TRANSFER request to TRANSFER-SUCCESS | $XFER_COPY | $(mbps "$LARGE_BYTES" "$XFER_COPY") | annexa $(cpu_sum copy-large), moto ${MOTO_CPU[copy-large]}; $RSS_COPY_LARGE MiB |"
    echo "| whole \`git annex copy --to annexa\` | ${T[copy-large]} | $(mbps "$LARGE_BYTES" "${T[copy-large]}") | |"
    echo "| whole \`git annex copy --to builtin\` (one PUT) | ${T[copy-large-builtin]} | $(mbps "$LARGE_BYTES" "${T[copy-large-builtin]}") | git-annex ${CPU[copy-large-builtin]}, moto ${MOTO_CPU[copy-large-builtin]} |"
    echo "| **annexa RETRIEVE / curl** | | **$LARGE_RATIO** | target >= 0.90: $(verdict "$LARGE_RATIO" 0.9 ge) |"
    echo "| whole \`git annex get\` (hash off) / curl | | $WALL_RATIO | |"
    echo
    echo "annexa peak memory (max RSS of every annexa process in the run): **$PEAK MiB** (target < 64 MiB: $(verdict "$PEAK" 63.999 le))"
}

TABLE=$(table)
echo
echo "$TABLE"
echo

if [[ $WRITE_DOC == 1 ]]; then
    CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    REV=$(git -C "$ROOT" rev-parse --short HEAD)
    [[ -n $(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock) ]] && REV="$REV (with uncommitted changes in src/)"
    ANNEX_VERSION=$(git annex version --raw 2>/dev/null || git annex version | head -n 1)
    SECTION_FILE="$WORK/section.md"
    {
        echo "$SECTION"
        echo
        echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`make bench\` (which runs \`bash bench/s3.sh\`), annexa $REV."
        echo
        echo "- Machine: $(nproc) cores ($CPU), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, shared:"
        echo "  other engineers' builds and tests may have been running (load average before: $LOAD_BEFORE; after: $LOAD_AFTER)."
        echo "- S3 server: \`moto_server\` $MOTO_VERSION (PyPI \`moto[server]\`) on 127.0.0.1, started by the script, data in memory"
        echo "  and temp files. moto is Python: it is the slowest party here; curl got $CURL_MBPS MB/s from it for the $LARGE_MIB MiB object."
        echo "  Every client talks to the same server in the same run."
        echo "- git-annex $ANNEX_VERSION; $(curl --version | head -n 1 | cut -d' ' -f1,2)."
        echo "- annexa remote: \`git annex initremote annexa type=external externaltype=annexa encryption=none provider=s3 bucket=annexa-bench createbucket=yes endpoint=http://127.0.0.1:PORT\`"
        echo "  (defaults: flat layout, 64 MiB parts, 4 parts at once)."
        echo "- built-in remote: \`git annex initremote builtin type=S3 encryption=none bucket=builtin-bench host=127.0.0.1 port=PORT protocol=http requeststyle=path signature=v4 datacenter=us-east-1\`,"
        echo "  with \`git config annex.security.allowed-ip-addresses 127.0.0.1\` (git-annex refuses loopback addresses otherwise)"
        echo "  and the bucket created beforehand (moto answers git-annex's CreateBucket with IllegalLocationConstraintException)."
        echo "- floor: \`git annex initremote directory type=directory directory=DIR encryption=none\`."
        echo "- Small keys: SHA256E keys; \`git annex copy -J$JOBS --to R\`, \`git annex drop --force\`, \`git annex get -J$JOBS --from R\`, timed one remote after the other."
        echo "- Large object: \`git annex --debug copy --to annexa\`, then \`curl --aws-sigv4 ... -o FILE\` of the same object"
        echo "  alternating with \`git annex drop --force\` + \`git annex --debug get --from annexa\`; annexa's own time is read off"
        echo "  git-annex's debug timestamps (TRANSFER request to TRANSFER-SUCCESS). git-annex $ANNEX_VERSION always hashes what"
        echo "  an external special remote retrieved when the key is verifiable, even with annex.verify=false (its"
        echo "  RetrievalVerifiableKeysSecure policy), and the protocol has no way for a remote to report its own verification;"
        echo "  so the timed gets use \`git -c remote.annexa.annex-security-allow-unverified-downloads=ACKTHPPT -c annex.verify=false\`"
        echo "  (curl does not hash either), and one default get shows what the hash costs."
        echo "- Memory and CPU: every annexa process runs under \`/usr/bin/time -f '%M %U %S'\` (a wrapper first on PATH);"
        echo "  CPU seconds of the large get are those of round 1, whose process also served PREPARE."
        echo
        echo "$TABLE"
        echo
        echo "Reading the figures:"
        echo
        echo "- Small keys are dominated by git-annex's own per-key work (the directory remote is that floor): annexa"
        echo "  serves all $JOBS jobs from one process (ASYNC extension); with \`ANNEXA_NO_ASYNC=1\` git-annex starts one annexa"
        echo "  per job instead (\`BENCH_NO_ASYNC_ROW=1\` adds that row)."
        echo "- Large get: the target compares annexa's own transfer (TRANSFER RETRIEVE to TRANSFER-SUCCESS) with curl."
        echo "  A default \`git annex get\` then spends more time in git-annex hashing the file than annexa spent downloading it;"
        echo "  that hash is git-annex's: the remote cannot skip it with this git-annex (a user can, with the two settings above,"
        echo "  at the cost of trusting the remote; a git-annex that offers"
        echo "  TRANSFER-RETRIEVE-URL can download and hash at once)."
        echo "- Large copy: annexa sends files above 64 MiB as a multipart upload (4 parts at once), which is what real S3 wants;"
        echo "  moto, in Python, then concatenates the parts at CompleteMultipartUpload (seen with curl alone: 3.7 s to"
        echo "  complete 8 parts of 64 MiB, after 4.8 s to send them), a cost real S3 does not have,"
        echo "  while the built-in remote and curl send one PUT. Compare annexa's STORE with the curl PUT row with that in mind."
        echo
        echo "Sizes can be changed for a quick run: \`BENCH_SMALL_KEYS=100 BENCH_LARGE_MIB=64 bash bench/s3.sh\`"
        echo "(runs with other than the default sizes only print their table)."
    } >"$SECTION_FILE"
    python3 - "$DOC" "$SECTION" "$SECTION_FILE" <<'EOF'
import os, sys
doc, heading, section_file = sys.argv[1:4]
section = open(section_file).read().rstrip("\n") + "\n"
text = open(doc).read() if os.path.exists(doc) else "# Benchmarks\n"
lines = text.splitlines(keepends=True)
start = next((i for i, l in enumerate(lines) if l.rstrip("\n") == heading), None)
if start is None:
    text = text.rstrip("\n") + "\n\n" + section
else:
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    rest = "".join(lines[end:])
    text = "".join(lines[:start]) + section + ("\n" + rest if rest else "")
os.makedirs(os.path.dirname(doc), exist_ok=True)
open(doc, "w").write(text)
EOF
    say "wrote the figures to $DOC"
fi
