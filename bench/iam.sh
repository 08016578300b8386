#!/usr/bin/env bash
# Benchmark: the cost of policy evaluation and of IAM/STS calls through the full pipeline.
# Scenarios (awsQuery, wrk replaying pre-signed requests, one run on this machine):
#   GetUser as root (no policy evaluation: root is allowed outright)
#   GetUser as alex (IAM user: user + group policies, MFA-style deny, evaluated per call)
#   AssumeRole as alex (trust policy + identity policies; writes a credential)
#   GetUser as an admin role session in a member account (3 SCP levels: root, OU, account)
#   vs the same in a standalone account (no SCPs), to price SCP evaluation
#   and the same GetUser / AssumeRole against moto_server.
#   usage: bench/iam.sh [DURATION_SECONDS=10] [CONNECTIONS=32] [SYNC=full]
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
PPID_=$!; PIDS+=($PPID_)
for _ in $(seq 1 200); do P_URL=$(grep -m1 -oE 'http://[0-9.:]+' "$WORK/p.log" || true); [ -n "$P_URL" ] && break; sleep 0.05; done
M_URL=""
if command -v moto_server >/dev/null; then
  MPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  moto_server -p "$MPORT" >"$WORK/moto.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$MPORT/moto-api/" >/dev/null 2>&1 && break; sleep 0.05; done
  M_URL="http://127.0.0.1:$MPORT"
fi
# Same setup on both servers: alex in Developers (IAMReadOnlyAccess + an MFA-style deny
# that does not apply to GetUser), a role alex may assume.
setup() { python3 - "$1" "$AK" "$SK" <<'PY'
import json, sys, boto3
ep, ak, sk = sys.argv[1:]
s = boto3.session.Session(aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1")
iam = s.client("iam", endpoint_url=ep)
iam.create_group(GroupName="Developers")
try:
    iam.attach_group_policy(GroupName="Developers", PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
except iam.exceptions.NoSuchEntityException:
    # moto ships few AWS managed policies; it does not evaluate policies anyway.
    pass
iam.put_group_policy(GroupName="Developers", PolicyName="DenyWithoutMFA", PolicyDocument=json.dumps({
  "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "NotAction": ["iam:Get*", "iam:List*", "sts:*"],
  "Resource": "*", "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}]}))
iam.create_user(UserName="alex")
iam.add_user_to_group(GroupName="Developers", UserName="alex")
iam.put_user_policy(UserName="alex", PolicyName="AssumeApp", PolicyDocument=json.dumps({
  "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
key = iam.create_access_key(UserName="alex")["AccessKey"]
acct = s.client("sts", endpoint_url=ep).get_caller_identity()["Account"]
iam.create_role(RoleName="pettracker-app", AssumeRolePolicyDocument=json.dumps({
  "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"},
  "Action": "sts:AssumeRole"}]}))
print(key["AccessKeyId"], key["SecretAccessKey"], acct)
PY
}
read -r P_AK P_SK P_ACCT <<<"$(setup "$P_URL")"
[ -n "$M_URL" ] && read -r M_AK M_SK M_ACCT <<<"$(setup "$M_URL")"
# Organization for the SCP scenario (Palisade only: moto does not enforce SCPs).
read -r S_AK S_SK S_TOK O_AK O_SK O_TOK <<<"$(python3 - "$P_URL" "$AK" "$SK" <<'PY'
import json, sys, boto3
ep, ak, sk = sys.argv[1:]
s = boto3.session.Session(aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1")
orgs, iam, sts = (s.client(n, endpoint_url=ep) for n in ("organizations", "iam", "sts"))
orgs.create_organization(FeatureSet="ALL")
root = orgs.list_roots()["Roots"][0]["Id"]
orgs.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
ou = orgs.create_organizational_unit(ParentId=root, Name="Prod")["OrganizationalUnit"]["Id"]
st = orgs.create_account(Email="prod@bench.example", AccountName="prod")["CreateAccountStatus"]
acct = orgs.describe_create_account_status(CreateAccountRequestId=st["Id"])["CreateAccountStatus"]["AccountId"]
orgs.move_account(AccountId=acct, SourceParentId=root, DestinationParentId=ou)
guard = {"Version": "2012-10-17", "Statement": [
  {"Effect": "Deny", "Action": ["organizations:LeaveOrganization", "cloudtrail:StopLogging", "cloudtrail:DeleteTrail"], "Resource": "*"},
  {"Effect": "Deny", "NotAction": ["iam:*", "sts:*", "organizations:*"], "Resource": "*",
   "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "us-west-2"]}}}]}
pid = orgs.create_policy(Content=json.dumps(guard), Description="g", Name="Guardrails", Type="SERVICE_CONTROL_POLICY")["Policy"]["PolicySummary"]["Id"]
orgs.attach_policy(PolicyId=pid, TargetId=ou)
# Root may not assume roles (AWS refuses it); an administrator user of the management
# account does.
iam.create_user(UserName="bench-ops")
iam.attach_user_policy(UserName="bench-ops", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
ops = iam.create_access_key(UserName="bench-ops")["AccessKey"]
sts = boto3.session.Session(aws_access_key_id=ops["AccessKeyId"], aws_secret_access_key=ops["SecretAccessKey"],
                            region_name="us-east-1").client("sts", endpoint_url=ep)
member = sts.assume_role(RoleArn=f"arn:aws:iam::{acct}:role/OrganizationAccountAccessRole", RoleSessionName="bench")["Credentials"]
mgmt = sts.get_caller_identity()["Account"]
iam.create_role(RoleName="bench-admin", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{mgmt}:root"}, "Action": "sts:AssumeRole"}]}))
iam.attach_role_policy(RoleName="bench-admin", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
alone = sts.assume_role(RoleArn=f"arn:aws:iam::{mgmt}:role/bench-admin", RoleSessionName="bench")["Credentials"]
# Both sessions look up a user in their own account.
for c in (member, alone):
    s2 = boto3.session.Session(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"], region_name="us-east-1")
    try:
        s2.client("iam", endpoint_url=ep).create_user(UserName="alex")
    except Exception:
        pass
print(member["AccessKeyId"], member["SecretAccessKey"], member["SessionToken"], alone["AccessKeyId"], alone["SecretAccessKey"], alone["SessionToken"])
PY
)"
[ -n "${O_TOK:-}" ] || { echo "bench: the organization setup failed (see above)" >&2; exit 1; }

cpu_ticks() { if [ "$1" = "$P_URL" ]; then awk '{print $14 + $15}' "/proc/$PPID_/stat"; else echo 0; fi; }
run() { # name url ak sk service body [token] -> "req/s p50 p99 requests errors cpu_us_per_request"
  python3 bench/signed_request.py "$2" "$3" "$4" "$5" "$6" "${7:-}" >"$WORK/$1.lua"
  local c0; c0=$(cpu_ticks "$2")
  wrk -t2 -c"$CONNS" -d"${DUR}s" --latency -s "$WORK/$1.lua" "$2/" >"$WORK/$1.wrk" 2>&1 || true
  local c1; c1=$(cpu_ticks "$2")
  grep RESULT "$WORK/$1.wrk" | awk -v dt=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
    '{printf "%.0f %.2f %.2f %d %d %.1f\n", $6, $4/1000, $5/1000, $2, $3, ($2 > 0 ? dt * 1e6 / hz / $2 : 0)}'
}
GU="Action=GetUser&UserName=alex&Version=2010-05-08"
AR="Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A${P_ACCT}%3Arole%2Fpettracker-app&RoleSessionName=bench&Version=2011-06-15"
R1=$(run gu-root "$P_URL" "$AK" "$SK" iam "$GU")
R2=$(run gu-alex "$P_URL" "$P_AK" "$P_SK" iam "$GU")
R3=$(run ar-alex "$P_URL" "$P_AK" "$P_SK" sts "$AR")
R4=$(run gu-scp "$P_URL" "$S_AK" "$S_SK" iam "$GU" "$S_TOK")
R5=$(run gu-alone "$P_URL" "$O_AK" "$O_SK" iam "$GU" "$O_TOK")
M1="0 0 0 0 0 0"; M3="0 0 0 0 0 0"
if [ -n "$M_URL" ]; then
  MAR="Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A${M_ACCT}%3Arole%2Fpettracker-app&RoleSessionName=bench&Version=2011-06-15"
  M1=$(run m-gu "$M_URL" "$M_AK" "$M_SK" iam "$GU"); M3=$(run m-ar "$M_URL" "$M_AK" "$M_SK" sts "$MAR")
fi
python3 - "$R1" "$R2" "$R3" "$M1" "$M3" "$DUR" "$CONNS" "$SYNC" "$R4" "$R5" <<'PY'
import sys
rows = [list(map(float, a.split())) for a in sys.argv[1:6]]
dur, conns, sync = sys.argv[6:9]
scp, alone = (list(map(float, a.split())) for a in sys.argv[9:11])
names = ["palisade GetUser as root (no eval)", "palisade GetUser as alex (eval)", "palisade AssumeRole as alex",
         "moto GetUser", "moto AssumeRole"]
rows_all = rows + [scp, alone]
names_all = names + ["palisade GetUser, member role (3 SCP lv)", "palisade GetUser, standalone role"]
print(f"IAM/STS through the full pipeline, wrk -t2, {dur}s, {conns} connections, --sync {sync}, one run")
print(f"{'scenario':<42}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'CPU us/req':>12}")
for n, r in zip(names_all, rows_all):
    print(f"{n:<42}{r[0]:>9.0f}{r[1]:>9.2f}{r[2]:>9.2f}{int(r[4]):>8}{(r[5] if r[5] else float('nan')):>12.1f}")
for n, r in zip(names_all, rows_all):
    if r[4]:
        # A row with errors measured error answers, not the scenario: no ratio uses it.
        print(f"warning: {n}: {int(r[4])} errors; its numbers are not the scenario's")
        r[0] = 0
root, alex, ar, mgu, mar = rows
if root[0] and alex[0]:
    print(f"policy evaluation cost: {(1/alex[0] - 1/root[0]) / (1/root[0]):+.1%} wall, "
          f"{(alex[5] - root[5]) / root[5]:+.1%} server CPU per GetUser (alex vs root)")
if scp[0] and alone[0]:
    print(f"SCP cost: {(1/scp[0] - 1/alone[0]) / (1/alone[0]):+.1%} wall, "
          f"{(scp[5] - alone[5]) / alone[5]:+.1%} server CPU per GetUser (3 SCP levels vs none)")
if mgu[0] and alex[0]:
    print(f"GetUser palisade/moto: {alex[0]/mgu[0]:.0f}x")
if mar[0] and ar[0]:
    print(f"AssumeRole palisade/moto: {ar[0]/mar[0]:.0f}x")
PY
