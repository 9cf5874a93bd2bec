#!/usr/bin/env bash
# Smoke run of a built quantdesk binary: serve --demo on a free port, every UDF endpoint, readiness,
# metrics, a CLI import of the SSE Composite that must come back through /udf/history bar for bar,
# and a clean SIGTERM shutdown.
set -euo pipefail
bin=$(realpath "$1")
fixtures=${QUANTDESK_FIXTURES:?set QUANTDESK_FIXTURES}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
fail() { echo "FAILED: $*"; exit 1; }
export QUANTDESK_DATABASE_URL="sqlite://$work/quantdesk.db"
export QUANTDESK_LOG_FORMAT=json

"$bin" serve --demo --listen "127.0.0.1:$port" >"$work/stdout.log" 2>"$work/server.log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

for _ in $(seq 1 120); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fsS "$base/healthz" >/dev/null || { cat "$work/server.log"; exit 1; }
grep -q "listening on http://127.0.0.1:$port" "$work/stdout.log"

# accounts: serve --demo prints the demo account; anonymous callers are refused; a key from the
# command line (shown once) authenticates everything below, through curl's config file
grep -q "demo account: demo@quantdesk.local  password: " "$work/stdout.log" && echo "ok: demo account printed" || fail "demo account printed"
demo_password=$(sed -n 's/.*demo account: demo@quantdesk.local  password: //p' "$work/stdout.log")
code=$(curl -sS -o /dev/null -w '%{http_code}' "$base/api/v1/instruments")
[ "$code" = 401 ] && echo "ok: anonymous API call refused" || fail "anonymous API call answered $code"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'accept: text/html' "$base/jobs")
[ "$code" = 303 ] && echo "ok: anonymous page sent to sign-in" || fail "anonymous page answered $code"
curl -fsS -c "$work/cookies" -H 'content-type: application/json' \
  -d "{\"email\": \"demo@quantdesk.local\", \"password\": \"$demo_password\"}" "$base/api/v1/auth/login" | grep -q '"role":"admin"' \
  && curl -fsS -b "$work/cookies" "$base/settings" | grep -q 'demo@quantdesk.local' && echo "ok: demo login and settings page" || fail "demo login"
export QD_TOKEN=$("$bin" key create --email demo@quantdesk.local --name smoke --scopes read,jobs,admin 2>/dev/null)
printf 'header = "Authorization: Bearer %s"\n' "$QD_TOKEN" >"$work/.curlrc"
export CURL_HOME=$work

check() { # check NAME URL PYTHON-ASSERTION-ON-v
  # The body goes through standard input: the OpenAPI document is larger than one argument may be.
  curl -fsS "$base$2" | python3 -c "import json,sys; s=sys.stdin.read(); v=json.loads(s); assert $3, s[:500]" \
    || { echo "FAILED: $1"; exit 1; }
  echo "ok: $1"
}
far=4102444800
check config        "/udf/config"                                   'v["supports_search"] is True and "1D" in v["supported_resolutions"]'
check symbols       "/udf/symbols?symbol=000858.SZ"                 'v["timezone"]=="Asia/Shanghai" and v["session"]=="0930-1130,1300-1500" and v["pricescale"]==100'
check unknown       "/udf/symbols?symbol=NOPE.SH"                   'v["s"]=="error"'
check search        "/udf/search?query=YSJY&limit=5"                'v[0]["symbol"]=="000858.SZ"'
check history-1D    "/udf/history?symbol=000858.SZ&resolution=1D&from=0&to=$far"  'v["s"]=="ok" and len(v["t"])>1000 and all(a<b for a,b in zip(v["t"],v["t"][1:]))'
check history-1     "/udf/history?symbol=000858.SZ&resolution=1&to=$far&countback=240" 'v["s"]=="ok" and len(v["t"])==240'
check history-60    "/udf/history?symbol=000858.SZ&resolution=60&to=$far&countback=2" 'v["s"]=="ok" and len(v["t"])==2'
check history-W-qfq "/udf/history?symbol=000858.SZ&resolution=W&from=0&to=$far&adjustment=qfq" 'v["s"]=="ok"'
check no_data       "/udf/history?symbol=000858.SZ&resolution=1D&from=0&to=86400"  'v["s"]=="no_data"'
check bad-res       "/udf/history?symbol=000858.SZ&resolution=7&from=0&to=1"       'v["s"]=="error"'
check marks         "/udf/marks?symbol=600005.SH&from=0&to=$far&resolution=1D"     'len(v["time"])>0 and len(v["time"])==len(v["color"])'
check ts_marks      "/udf/timescale_marks?symbol=000858.SZ&from=0&to=$far&resolution=1D" 'len(v)==1'
check quotes        "/udf/quotes?symbols=000858.SZ,600900.SH"       'v["s"]=="ok" and all(d["s"]=="ok" for d in v["d"])'
curl -fsS "$base/udf/time" | grep -Eq '^[0-9]{10}$' && echo "ok: time" || fail "time"
check readyz        "/readyz"                                       'v["status"]=="ok" and v["checks"][0]["name"]=="database"'
check openapi       "/api/v1/openapi.json"                          '"/api/v1/bars/{symbol}" in v["paths"]'
check api-bars      "/api/v1/bars/000998.SH?resolution=1M&limit=12" 'len(v["bars"])==12'

"$bin" import bars "$fixtures/cn/sh000001_1d.csv" --symbol 000001.SH --resolution 1D
python3 - "$base" "$fixtures/cn/sh000001_1d.csv" <<'PY'
import csv, datetime, json, os, sys, urllib.request
opener = urllib.request.build_opener()
opener.addheaders = [("Authorization", "Bearer " + os.environ["QD_TOKEN"])]
urllib.request.install_opener(opener)
base, path = sys.argv[1], sys.argv[2]
v = json.load(urllib.request.urlopen(f"{base}/udf/history?symbol=000001.SH&resolution=1D&from=0&to=4102444800"))
rows = list(csv.DictReader(open(path)))
assert v["s"] == "ok" and len(v["t"]) == len(rows), (v["s"], len(v.get("t", [])), len(rows))
for i, r in enumerate(rows):
    t = int(datetime.datetime.strptime(r["date"], "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc).timestamp())
    got = (v["t"][i], v["o"][i], v["h"][i], v["l"][i], v["c"][i], v["v"][i])
    want = (t, float(r["open"]), float(r["high"]), float(r["low"]), float(r["close"]), float(r["volume"]))
    assert got == want, (i, got, want)
print(f"ok: {len(rows)} bars of 000001.SH came back bar for bar")
PY
# a bad file is refused and names its line
printf 'date,open,high,low,close\n2024-01-02,1,1,1,1\n2024-01-03,1,1,2,1\n' >"$work/bad.csv"
if "$bin" import bars "$work/bad.csv" --symbol 000001.SH --resolution 1D 2>"$work/bad.err"; then
  echo "FAILED: a bad file was accepted"; exit 1
fi
grep -q 'bad.csv:3' "$work/bad.err" && echo "ok: bad file refused with its line number" || fail "bad file refused with its line number"

# backtests from the command line: the GOOG anchor from a file, and an A-share run on stored bars
equity=$("$bin" backtest "$fixtures/us/goog_1d.csv" --symbol GOOG --param fast=10 --param slow=20 --commission 0.001 --format json \
  | python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["final_equity"], len([t for t in v["trades"] if t["exit_time"]]))')
python3 -c "import sys; e, n = sys.argv[1], int(sys.argv[2]); assert abs(float(e) - 703347.97936) < 0.7 and n == 46, (e, n)" $equity
echo "ok: GOOG SMA 10/20 backtest: 46 closed trades, final equity ${equity%% *}"
"$bin" backtest --symbol 000858.SZ --market cn-a --commission 0.0003 --strategy macd --benchmark 000998.SH --report "$work/report.html" \
  | grep -q "alpha / beta" && grep -q "<h2>Monthly returns</h2>" "$work/report.html" && echo "ok: cn-a backtest on stored bars with a benchmark and an HTML report" || fail "cn-a backtest on stored bars with a benchmark and an HTML report"

"$bin" sweep "$fixtures/us/goog_1d.csv" --symbol GOOG --commission 0.001 --grid fast=5:15:5 --grid slow=20:40:10 --format json \
  | python3 -c 'import json,sys; v=json.load(sys.stdin); assert len(v)==9 and v[0]["params"]=={"fast":10.0,"slow":20.0}, v[0]["params"]' \
  && echo "ok: a 9-run sweep ranks fast=10 slow=20 first by Sharpe" || fail "a 9-run sweep ranks fast=10 slow=20 first by Sharpe"
"$bin" decide --symbol 000858.SZ --symbol 000998.SH --format json \
  | python3 -c 'import json,sys; v=json.load(sys.stdin); assert len(v)==2 and all(d["decision"]["action"] in ("BUY","SELL","HOLD") and len(d["decision"]["votes"])==4 for d in v), v' \
  && echo "ok: voting decisions for two symbols" || fail "voting decisions for two symbols"

# a backtest as a background job on the in-process workers, followed to the end, its report downloaded
job=$(curl -fsS -H 'content-type: application/json' -d '{"kind": "backtest", "params": {"symbols": ["000858.SZ"], "strategy": "macd", "config": {"market": {"profile": "cn-a"}}}}' "$base/api/v1/jobs" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -fsS -N --max-time 60 "$base/api/v1/jobs/$job/events" | grep -q '"state":"succeeded"' || fail "job $job did not succeed: $(curl -fsS "$base/api/v1/jobs/$job")"
curl -fsS "$base/api/v1/jobs/$job/artifacts/report.html" | grep -q "<h2>Trades</h2>" && echo "ok: backtest job $job ran on a worker, streamed its progress, left its report" || fail "backtest job report"

metrics=$(curl -fsS "$base/metrics")
for m in 'http_requests_total{' 'http_request_duration_seconds_bucket{' 'db_pool_connections{' 'quantdesk_build_info{' 'jobs_total{' 'job_duration_seconds_bucket{'; do
  grep -qF "$m" <<<"$metrics" || { echo "FAILED: /metrics lacks $m"; exit 1; }
done
grep -q 'route="/udf/history"' <<<"$metrics" && echo "ok: metrics" || fail "metrics"
# JSON logs carry the request id on request lines
grep '"path":"/udf/config"' "$work/server.log" | grep -q '"request_id":"' || { echo "FAILED: no request id on request log lines"; exit 1; }
! grep -q "$QD_TOKEN\|$demo_password" "$work/server.log" || fail "a secret reached the log"
echo "ok: no key or password in the log"
echo "ok: request ids on JSON log lines"

kill -TERM "$pid"
for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
if kill -0 "$pid" 2>/dev/null; then echo "FAILED: server did not stop on SIGTERM"; exit 1; fi
wait "$pid" || { echo "FAILED: server exited with an error"; exit 1; }
echo "ok: clean shutdown on SIGTERM"
echo "smoke: all checks passed"
