#!/usr/bin/env bash
# Benchmark: Secrets Manager GetSecretValue and SSM GetParameter(WithDecryption) through
# the full pipeline (SigV4 + authz incl. the KMS key policy + KMS decrypt + durable
# audit) beside moto_server, one run, wrk replaying pre-signed requests as root.
#   usage: bench/secrets.sh [DURATION_SECONDS=10] [CONNECTIONS=32] [SYNC=full]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}; CONNS=${2:-32}; SYNC=${3:-full}
AK=AKIABENCHROOTKEY0000; SK=benchRootSecretKey0000000000000000000000
WORK=$(mktemp -d); PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
[ -n "${BENCH_KEEP:-}" ] && trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; echo "kept $WORK"' EXIT
cargo build --release --quiet --bin palisade
TARGET=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release
PALISADE_ROOT_ACCESS_KEY_ID=$AK PALISADE_ROOT_SECRET_ACCESS_KEY=$SK \
  "$TARGET/palisade" serve --sync "$SYNC" --listen 127.0.0.1:0 --data-dir "$WORK/data" 2>"$WORK/p.log" &
PIDS+=($!)
for _ in $(seq 1 200); do P_URL=$(grep -m1 -oE 'http://[0-9.:]+' "$WORK/p.log" || true); [ -n "$P_URL" ] && break; sleep 0.05; done
M_URL=""
if command -v moto_server >/dev/null; then
  MPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  moto_server -p "$MPORT" >"$WORK/moto.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$MPORT/moto-api/" >/dev/null 2>&1 && break; sleep 0.05; done
  M_URL="http://127.0.0.1:$MPORT"
fi
setup() { python3 - "$1" "$AK" "$SK" <<'PY'
import sys, boto3
ep, ak, sk = sys.argv[1:]
s = boto3.session.Session(aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1")
s.client("secretsmanager", endpoint_url=ep).create_secret(Name="pettracker/prod/db-credentials", SecretString='{"username":"app","password":"hunter2hunter2"}')
s.client("ssm", endpoint_url=ep).put_parameter(Name="/pettracker/prod/api-url", Value="https://api.pettracker.example", Type="SecureString")
PY
}
setup "$P_URL"; [ -n "$M_URL" ] && setup "$M_URL"
run() { # name url service body target -> "req/s p50 p99 requests errors"
  python3 bench/signed_request.py "$2" "$AK" "$SK" "$3" "$4" "" "$5" >"$WORK/$1.lua"
  wrk -t2 -c"$CONNS" -d"${DUR}s" --latency -s "$WORK/$1.lua" "$2/" >"$WORK/$1.wrk" 2>&1 || true
  grep RESULT "$WORK/$1.wrk" | awk '{printf "%.0f %.2f %.2f %d %d\n", $6, $4/1000, $5/1000, $2, $3}'
}
GSV='{"SecretId":"pettracker/prod/db-credentials"}'
GP='{"Name":"/pettracker/prod/api-url","WithDecryption":true}'
R1=$(run p-gsv "$P_URL" secretsmanager "$GSV" secretsmanager.GetSecretValue)
R2=$(run p-gp "$P_URL" ssm "$GP" AmazonSSM.GetParameter)
M1="0 0 0 0 0"; M2="0 0 0 0 0"
if [ -n "$M_URL" ]; then
  M1=$(run m-gsv "$M_URL" secretsmanager "$GSV" secretsmanager.GetSecretValue)
  M2=$(run m-gp "$M_URL" ssm "$GP" AmazonSSM.GetParameter)
fi
python3 - "$R1" "$R2" "$M1" "$M2" "$DUR" "$CONNS" "$SYNC" <<'PY'
import sys
p1, p2, m1, m2 = (list(map(float, a.split())) for a in sys.argv[1:5])
dur, conns, sync = sys.argv[5:8]
print(f"Secrets Manager / SSM reads, wrk -t2, {dur}s, {conns} connections, --sync {sync}, one run")
print(f"{'scenario':<44}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
for n, r in (("palisade GetSecretValue", p1), ("palisade GetParameter WithDecryption", p2),
             ("moto GetSecretValue", m1), ("moto GetParameter WithDecryption", m2)):
    print(f"{n:<44}{r[0]:>9.0f}{r[1]:>9.2f}{r[2]:>9.2f}{int(r[4]):>8}")
if m1[0]:
    print(f"GetSecretValue palisade/moto: {p1[0]/m1[0]:.0f}x")
if m2[0]:
    print(f"GetParameter palisade/moto: {p2[0]/m2[0]:.0f}x")
PY
