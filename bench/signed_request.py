"""Prints a wrk Lua script that replays one SigV4-signed awsQuery request.

Header-signed requests stay valid for the 15-minute skew window, so wrk can replay the
same bytes for a whole run, exactly as a client re-sending it would.
usage: signed_request.py ENDPOINT ACCESS_KEY SECRET_KEY [SERVICE [BODY [SESSION_TOKEN [X_AMZ_TARGET]]]] > request.lua
  (default: sts "Action=GetCallerIdentity&Version=2011-06-15"; with X_AMZ_TARGET the body
  is awsJson 1.1)
"""
import json
import sys

import botocore.auth
import botocore.awsrequest
import botocore.credentials

endpoint, ak, sk = sys.argv[1:4]
service = sys.argv[4] if len(sys.argv) > 4 else "sts"
body = sys.argv[5] if len(sys.argv) > 5 else "Action=GetCallerIdentity&Version=2011-06-15"
token = sys.argv[6] if len(sys.argv) > 6 and sys.argv[6] else None
target = sys.argv[7] if len(sys.argv) > 7 and sys.argv[7] else None
headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
if target:
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
req = botocore.awsrequest.AWSRequest(
    method="POST",
    url=endpoint + "/",
    data=body,
    headers=headers,
)
botocore.auth.SigV4Auth(botocore.credentials.Credentials(ak, sk, token), service, "us-east-1").add_auth(req)
lua_headers = "".join(
    f'wrk.headers["{k}"] = "{v}"\n' for k, v in req.headers.items() if k.lower() != "host"
)
print('wrk.method = "POST"')
print(f"wrk.body = {json.dumps(body)}")
print(lua_headers, end="")
print(
    """done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.1f %.1f %.1f\\n", summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), summary.requests / (summary.duration / 1e6)))
end"""
)
