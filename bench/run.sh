#!/usr/bin/env bash
# Benchmark: STS GetCallerIdentity through Palisade's full pipeline (SigV4 verify + authz +
# durable CloudTrail record) beside (b) a bare hyper server from this workspace and (c)
# moto_server, in one run on this machine, with wrk replaying a pre-signed request.
# Also measures Palisade's start-to-ready time and idle RSS.
#   usage: bench/run.sh [DURATION_SECONDS=10] [CONNECTIONS=32]
# Needs: wrk (apt), python3 with botocore, moto[server] (pip) for the moto column.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}; CONNS=${2:-32}; THREADS=2
AK=AKIABENCHROOTKEY0000; SK=benchRootSecretKey0000000000000000000000
WORK=$(mktemp -d); PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
command -v wrk >/dev/null || { echo "bench: wrk is needed (apt-get install wrk)" >&2; exit 1; }
cargo build --release --quiet --bin palisade --example bare_hyper -p palisade -p palisade-server
TARGET=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release

wait_line() { # file regex -> prints the URL
  for _ in $(seq 1 200); do
    url=$(grep -m1 -oE "$2" "$1" | grep -oE 'http://[0-9.:]+' || true)
    [ -n "$url" ] && { echo "$url"; return 0; }
    sleep 0.05
  done
  echo "bench: no ready line in $1" >&2; return 1
}

# Start-to-ready: fresh data dir each time, best and median of 5.
READY_MS=()
for i in 1 2 3 4 5; do
  t0=$(date +%s%N)
  PALISADE_ROOT_ACCESS_KEY_ID=$AK PALISADE_ROOT_SECRET_ACCESS_KEY=$SK \
    "$TARGET/palisade" serve --listen 127.0.0.1:0 --data-dir "$WORK/ready$i" 2>"$WORK/ready$i.log" &
  pid=$!
  until grep -q "palisade listening on" "$WORK/ready$i.log" 2>/dev/null; do sleep 0.001; done
  t1=$(date +%s%N)
  READY_MS+=($(( (t1 - t0) / 1000000 )))
  kill -TERM $pid; wait $pid || true
done

PALISADE_ROOT_ACCESS_KEY_ID=$AK PALISADE_ROOT_SECRET_ACCESS_KEY=$SK \
  "$TARGET/palisade" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" 2>"$WORK/palisade.log" &
PPID_=$!; PIDS+=($PPID_)
P_URL=$(wait_line "$WORK/palisade.log" 'palisade listening on http://[0-9.:]+')
sleep 0.5
IDLE_RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/$PPID_/status)
PALISADE_ROOT_ACCESS_KEY_ID=$AK PALISADE_ROOT_SECRET_ACCESS_KEY=$SK \
  "$TARGET/palisade" serve --sync normal --listen 127.0.0.1:0 --data-dir "$WORK/data-normal" 2>"$WORK/palisade-normal.log" &
PIDS+=($!)
NPID=${PIDS[-1]}
N_URL=$(wait_line "$WORK/palisade-normal.log" 'palisade listening on http://[0-9.:]+')

"$TARGET/examples/bare_hyper" 127.0.0.1:0 2>"$WORK/hyper.log" &
HPID=$!; PIDS+=($HPID)
H_URL=$(wait_line "$WORK/hyper.log" 'listening on http://[0-9.:]+')

M_URL=""
if command -v moto_server >/dev/null; then
  MPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  moto_server -p "$MPORT" >"$WORK/moto.log" 2>&1 &
  MPID=$!; PIDS+=($MPID)
  for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$MPORT/moto-api/" >/dev/null 2>&1 && break; sleep 0.05; done
  M_URL="http://127.0.0.1:$MPORT"
fi

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() { # name url connections pid -> "req/s p50 p99 requests errors cpu_us_per_request"
  python3 bench/signed_request.py "$2" "$AK" "$SK" >"$WORK/$1.lua"
  local c0; c0=$(cpu_ticks "$4")
  wrk -t$THREADS -c"$3" -d"${DUR}s" --latency -s "$WORK/$1.lua" "$2/" >"$WORK/$1.wrk" 2>&1 || true
  local c1; c1=$(cpu_ticks "$4")
  grep RESULT "$WORK/$1.wrk" | awk -v dt=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
    '{printf "%.0f %.2f %.2f %d %d %.1f\n", $6, $4/1000, $5/1000, $2, $3, ($2 > 0 ? dt * 1e6 / hz / $2 : 0)}'
}

# Sanity: each target answers the signed request with 200 before it is measured.
python3 - "$P_URL" "$AK" "$SK" <<'PY'
import sys, boto3
ep, ak, sk = sys.argv[1:]
ident = boto3.client("sts", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1").get_caller_identity()
assert ident["Arn"].endswith(":root"), ident
PY

P=$(run palisade "$P_URL" "$CONNS" "$PPID_"); N=$(run palisade-normal "$N_URL" "$CONNS" "$NPID"); H=$(run hyper "$H_URL" "$CONNS" "$HPID")
M="0 0 0 0 0 0"; [ -n "$M_URL" ] && M=$(run moto "$M_URL" 8 "$MPID")
EVENTS=$(python3 - "$P_URL" "$AK" "$SK" <<'PY'
import sys, boto3
ep, ak, sk = sys.argv[1:]
ct = boto3.client("cloudtrail", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1")
r = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}], MaxResults=1)
print("yes" if r["Events"] else "no")
PY
)
python3 - "$P" "$H" "$M" "$DUR" "$CONNS" "$IDLE_RSS_KB" "${READY_MS[*]}" "$EVENTS" "$N" <<'PY'
import sys
p, h, m = (list(map(float, a.split())) for a in sys.argv[1:4])
n = list(map(float, sys.argv[9].split()))
dur, conns, rss, ready, events = sys.argv[4], sys.argv[5], int(sys.argv[6]), sorted(map(int, sys.argv[7].split())), sys.argv[8]
print(f"STS GetCallerIdentity, wrk -t2, {dur}s, {conns} connections (moto: 8), same machine, one run")
print(f"{'target':<34}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'CPU us/req':>12}")
for name, r in (("palisade --sync full", p), ("palisade --sync normal", n), ("bare hyper (200, no work)", h), ("moto_server", m)):
    print(f"{name:<34}{r[0]:>10.0f}{r[1]:>9.2f}{r[2]:>9.2f}{int(r[4]):>8}{r[5]:>12.1f}")
if h[0]:
    print(f"palisade / bare hyper: {p[0] / h[0]:.1%} (full), {n[0] / h[0]:.1%} (normal)")
if m[0]:
    print(f"palisade / moto:       {p[0] / m[0]:.0f}x (full), {n[0] / m[0]:.0f}x (normal)")
print("CPU us/req: the server process's own CPU time (user+sys) per request during its run;")
print("  unlike req/s it does not depend on what else the machine is doing.")
print(f"start to ready: median {ready[len(ready)//2]} ms (min {ready[0]} ms, 5 fresh data dirs)")
print(f"idle RSS after start: {rss / 1024:.1f} MB")
print(f"events recorded during the run: {events}")
PY
