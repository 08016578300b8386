#!/usr/bin/env bash
# Benchmark: KMS Encrypt, Decrypt and GenerateDataKey through the full pipeline (SigV4 +
# authz incl. the key policy + AES-256-GCM with the sealed key material) beside moto_server,
# one run, wrk replaying pre-signed requests as root.
#   usage: bench/kms.sh [DURATION_SECONDS=10] [CONNECTIONS=32] [SYNC=full]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}; CONNS=${2:-32}; SYNC=${3:-full}
AK=AKIABENCHROOTKEY0000; SK=benchRootSecretKey0000000000000000000000
WORK=$(mktemp -d); PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
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
setup() { # url -> base64 ciphertext of a 32-byte data key under alias/bench (context app=bench)
  python3 - "$1" "$AK" "$SK" <<'PY'
import sys, base64, boto3
ep, ak, sk = sys.argv[1:]
s = boto3.session.Session(aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1")
k = s.client("kms", endpoint_url=ep)
key = k.create_key(Description="bench")["KeyMetadata"]["KeyId"]
k.create_alias(AliasName="alias/bench", TargetKeyId=key)
blob = k.encrypt(KeyId="alias/bench", Plaintext=b"k" * 32, EncryptionContext={"app": "bench"})["CiphertextBlob"]
print(base64.b64encode(blob).decode())
PY
}
P_BLOB=$(setup "$P_URL"); M_BLOB=""; [ -n "$M_URL" ] && M_BLOB=$(setup "$M_URL")
run() { # name url body target -> "req/s p50 p99 requests errors"
  python3 bench/signed_request.py "$2" "$AK" "$SK" kms "$3" "" "$4" >"$WORK/$1.lua"
  wrk -t2 -c"$CONNS" -d"${DUR}s" --latency -s "$WORK/$1.lua" "$2/" >"$WORK/$1.wrk" 2>&1 || true
  grep RESULT "$WORK/$1.wrk" | awk '{printf "%.0f %.2f %.2f %d %d\n", $6, $4/1000, $5/1000, $2, $3}'
}
ENC='{"KeyId":"alias/bench","Plaintext":"aGVsbG8gcGV0dHJhY2tlcg==","EncryptionContext":{"app":"bench"}}'
GDK='{"KeyId":"alias/bench","KeySpec":"AES_256","EncryptionContext":{"app":"bench"}}'
dec() { printf '{"CiphertextBlob":"%s","EncryptionContext":{"app":"bench"}}' "$1"; }
R=(); M=()
R+=("$(run p-enc "$P_URL" "$ENC" TrentService.Encrypt)")
R+=("$(run p-dec "$P_URL" "$(dec "$P_BLOB")" TrentService.Decrypt)")
R+=("$(run p-gdk "$P_URL" "$GDK" TrentService.GenerateDataKey)")
if [ -n "$M_URL" ]; then
  M+=("$(run m-enc "$M_URL" "$ENC" TrentService.Encrypt)")
  M+=("$(run m-dec "$M_URL" "$(dec "$M_BLOB")" TrentService.Decrypt)")
  M+=("$(run m-gdk "$M_URL" "$GDK" TrentService.GenerateDataKey)")
else
  M=("0 0 0 0 0" "0 0 0 0 0" "0 0 0 0 0")
fi
python3 - "${R[@]}" "${M[@]}" "$DUR" "$CONNS" "$SYNC" <<'PY'
import sys
rows = [list(map(float, a.split())) for a in sys.argv[1:7]]
dur, conns, sync = sys.argv[7:10]
names = ["Encrypt", "Decrypt", "GenerateDataKey"]
print(f"KMS, wrk -t2, {dur}s, {conns} connections, --sync {sync}, one run")
print(f"{'scenario':<32}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
for who, part in (("palisade", rows[:3]), ("moto", rows[3:])):
    for n, r in zip(names, part):
        print(f"{who + ' ' + n:<32}{r[0]:>9.0f}{r[1]:>9.2f}{r[2]:>9.2f}{int(r[4]):>8}")
for n, p, m in zip(names, rows[:3], rows[3:]):
    if m[0]:
        print(f"{n} palisade/moto: {p[0]/m[0]:.0f}x")
PY
