#!/usr/bin/env python3
"""Creates ferrite-bench's rule (crates/bench/src/rules.rs) through the SigV4-signed API.

    mkrule.py API_ADDR ACCESS_KEY_ID SECRET [QOS]"""
import datetime, hashlib, hmac, json, sys, urllib.request
addr, key_id, secret = sys.argv[1], sys.argv[2], sys.argv[3]
qos = int(sys.argv[4]) if len(sys.argv) > 4 else 0
body = json.dumps({"sql": "SELECT * FROM 'bench/rin/+' WHERE topic(3) <> 'none'",
  "awsIotSqlVersion": "2016-03-23",
  "actions": [{"republish": {"roleArn": "arn:aws:iam::000000000000:role/bench",
     "topic": "bench/rout/${topic(3)}", "qos": qos}}]}).encode()
path = "/rules/ferrite_bench_republish"
now = datetime.datetime.now(datetime.UTC)
amz = now.strftime("%Y%m%dT%H%M%SZ"); day = now.strftime("%Y%m%d")
ph = hashlib.sha256(body).hexdigest()
hdrs = {"content-type": "application/json", "host": addr, "x-amz-date": amz}
signed = ";".join(sorted(hdrs))
canon = "\n".join(["POST", path, "", "".join(f"{k}:{hdrs[k]}\n" for k in sorted(hdrs)), signed, ph])
scope = f"{day}/us-east-1/iot/aws4_request"
sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canon.encode()).hexdigest()])
k = ("AWS4" + secret).encode()
for part in [day, "us-east-1", "iot", "aws4_request"]:
    k = hmac.new(k, part.encode(), hashlib.sha256).digest()
sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
hdrs["authorization"] = f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={signed}, Signature={sig}"
req = urllib.request.Request(f"http://{addr}{path}", data=body, method="POST", headers=hdrs)
print(urllib.request.urlopen(req).status)
