#!/usr/bin/env bash
# The scale-out test, with real processes on loopback: the machine's PostgreSQL (a fresh database)
# and a private Redis, two `serve --no-workers` replicas behind nginx (least connections), two
# `worker` processes and two `scheduler` processes. It
#   1. submits 200 jobs of mixed kinds, SIGKILLs one worker mid-run, and checks every job ended
#      succeeded once with the right result;
#   2. sends a fixed number of requests through nginx while SIGKILLing one API replica, and checks
#      at most 0.1 % failed;
#   3. runs an every-minute schedule across a minute boundary and checks each tick fired once;
#   4. stops Redis and checks the API still answers and /readyz says degraded.
# Everything it starts, it stops. Usage: bash .ci/scale-out.sh path/to/quantdesk
set -euo pipefail
bin=$(realpath "$1")
fixtures=${QUANTDESK_FIXTURES:?set QUANTDESK_FIXTURES}
pg_base=${QUANTDESK_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
work=$(mktemp -d)
pids=()
db="qd_scale_$$"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
fail() { echo "FAILED: $*"; exit 1; }
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && nginx -c "$work/nginx.conf" -p "$work" -s stop 2>/dev/null || true
  psql "$pg_base" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

if ! command -v nginx >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx >/dev/null
fi
psql "$pg_base" -qc "CREATE DATABASE $db" >/dev/null
export QUANTDESK_DATABASE_URL="${pg_base%/*}/$db"
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >"$work/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
export QUANTDESK_REDIS_URL="redis://127.0.0.1:$redis_port"
export QUANTDESK_LOG_LEVEL=warn QUANTDESK_JOB_LEASE_SECS=4 QUANTDESK_WORKER_CONCURRENCY=4
# Every request reaches the replicas from nginx's one address, and part 3 is a load test:
# lift the per-address and per-key limits (their behaviour is tested in the Rust suite).
export QUANTDESK_RATE_LIMIT_PER_MINUTE=10000000 QUANTDESK_RATE_LIMIT_IP_PER_MINUTE=10000000

"$bin" migrate >/dev/null
QUANTDESK_USER_PASSWORD=scale-out-admin-pw "$bin" user create --email ops@quantdesk.test --role admin >/dev/null
export QD_TOKEN=$("$bin" key create --email ops@quantdesk.test --name scale-out --scopes read,jobs,admin 2>/dev/null)
printf 'header = "Authorization: Bearer %s"\n' "$QD_TOKEN" >"$work/.curlrc"
export CURL_HOME=$work
"$bin" import bars "$fixtures/us/goog_1d.csv" --symbol GOOG --resolution 1D >/dev/null

start() { # start NAME ARGS... ; echo pid
  "$bin" "${@:2}" >"$work/$1.log" 2>&1 &
  pids+=("$!")
  echo "$!"
}
api1_port=$(free_port); api2_port=$(free_port); lb_port=$(free_port)
api1=$(start api1 serve --no-workers --listen "127.0.0.1:$api1_port")
api2=$(start api2 serve --no-workers --listen "127.0.0.1:$api2_port")
worker1=$(start worker1 worker)
worker2=$(start worker2 worker)
start scheduler1 scheduler >/dev/null
start scheduler2 scheduler >/dev/null
cat >"$work/nginx.conf" <<NGX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  upstream quantdesk {
    least_conn;
    server 127.0.0.1:$api1_port max_fails=1 fail_timeout=10s;
    server 127.0.0.1:$api2_port max_fails=1 fail_timeout=10s;
    keepalive 16;
  }
  server {
    listen 127.0.0.1:$lb_port;
    location / {
      proxy_pass http://quantdesk;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 2;
      proxy_buffering off;
    }
  }
}
NGX
for p in "$api1_port" "$api2_port"; do
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$p/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
done
nginx -c "$work/nginx.conf" -p "$work"
lb="http://127.0.0.1:$lb_port"
for _ in $(seq 1 50); do curl -fsS "$lb/healthz" >/dev/null 2>&1 && break; sleep 0.2; done

echo "== 1. 200 jobs, one worker killed mid-run"
python3 - "$lb" >"$work/jobs.txt" <<'PY'
import json, os, sys, urllib.request
o = urllib.request.build_opener(); o.addheaders = [("Authorization", "Bearer " + os.environ["QD_TOKEN"])]; urllib.request.install_opener(o)
lb = sys.argv[1]
ids = []
for i in range(200):
    if i % 20 == 0:
        body = {"kind": "backtest", "params": {"symbols": ["GOOG"], "params": {"fast": 5 + i // 20, "slow": 30}}}
    elif i % 10 == 0:
        body = {"kind": "echo", "params": {"value": i, "fail_times": 1}}
    else:
        body = {"kind": "echo", "params": {"value": i, "sleep_ms": 100 + (i * 37) % 400}}
    req = urllib.request.Request(f"{lb}/api/v1/jobs", json.dumps(body).encode(), {"content-type": "application/json"})
    ids.append((i, json.load(urllib.request.urlopen(req))["id"]))
print(json.dumps(ids))
PY
# Kill worker1 while it holds a sleeping echo job it started within the last 50 ms (they run 100 ms or
# more, so it cannot finish between this query and the kill); the victims are then read again:
# the jobs still running under the dead worker's id, which only a rerun can finish.
held=""
for _ in $(seq 1 400); do
  held=$(psql "$QUANTDESK_DATABASE_URL" -Atc "SELECT string_agg(id::text, ',') FROM jobs WHERE state = 'running' AND worker LIKE '%-$worker1-%' AND params LIKE '%sleep_ms%' AND started_at > (extract(epoch from clock_timestamp()) * 1000)::bigint - 50")
  [ -n "$held" ] && break
  sleep 0.02
done
[ -n "$held" ] || fail "worker1 never held a freshly started job"
kill -9 "$worker1"
sleep 0.2
victims=$(psql "$QUANTDESK_DATABASE_URL" -Atc "SELECT string_agg(id::text, ',') FROM jobs WHERE state = 'running' AND worker LIKE '%-$worker1-%'")
[ -n "$victims" ] || fail "worker1's jobs ($held) all finished before the kill landed"
echo "killed worker1 (pid $worker1) with SIGKILL while it ran jobs $victims"
python3 - "$lb" "$(cat "$work/jobs.txt")" "$victims" <<'PY'
import json, os, sys, time, urllib.request
o = urllib.request.build_opener(); o.addheaders = [("Authorization", "Bearer " + os.environ["QD_TOKEN"])]; urllib.request.install_opener(o)
lb, ids, victims = sys.argv[1], json.loads(sys.argv[2]), [int(v) for v in sys.argv[3].split(",")]
deadline = time.time() + 180
while True:
    jobs = {j["id"]: j for j in json.load(urllib.request.urlopen(f"{lb}/api/v1/jobs?limit=200"))["items"]}
    pending = [i for _, i in ids if jobs[i]["state"] not in ("succeeded", "failed", "cancelled")]
    if not pending or time.time() > deadline:
        break
    time.sleep(1)
assert not pending, f"{len(pending)} jobs never finished"
retried = 0
for n, i in ids:
    j = jobs[i]
    assert j["state"] == "succeeded", (n, j)
    if j["kind"] == "echo":
        assert j["result"]["value"] == n, (n, j["result"])
    else:
        assert j["result"]["trades"] > 0 and j["result"]["final_equity"] > 0, j["result"]
    retried += j["attempts"] > 1
for v in victims:
    assert jobs[v]["attempts"] >= 2 and jobs[v]["state"] == "succeeded", ("the killed worker's job was not rerun", jobs[v])
print(f"ok: 200 jobs succeeded once each with the right result; the killed worker's {len(victims)} jobs ran again elsewhere; "
      f"{retried} jobs needed more than one attempt in all (10 fail once on purpose)")
PY

echo "== 2. bounded load through nginx while an API replica is killed"
python3 - "$lb" "$api1" <<'PY'
import concurrent.futures, os, signal, sys, time, urllib.request
o = urllib.request.build_opener(); o.addheaders = [("Authorization", "Bearer " + os.environ["QD_TOKEN"])]; urllib.request.install_opener(o)
lb, victim = sys.argv[1], int(sys.argv[2])
urls = [f"{lb}/udf/history?symbol=GOOG&resolution={r}&to=4102444800&countback={n}" for r in ("1D", "1W") for n in (100, 500)]
TOTAL, THREADS = 4000, 16
def hit(k):
    try:
        with urllib.request.urlopen(urls[k % len(urls)], timeout=10) as r:
            return r.status == 200 and b'"s":"ok"' in r.read()
    except Exception:
        return False
start = time.time()
with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
    futures = [pool.submit(hit, k) for k in range(TOTAL)]
    time.sleep(0.5)
    os.kill(victim, signal.SIGKILL)
    ok = sum(f.result() for f in futures)
failed = TOTAL - ok
rate = failed / TOTAL
print(f"{TOTAL} requests in {time.time() - start:.1f} s, {failed} failed ({rate:.3%}); replica pid {victim} SIGKILLed after 0.5 s")
assert rate <= 0.001, "more than 0.1 % of requests failed"
print("ok: at most 0.1 % failed")
PY

echo "== 3. an every-minute schedule across a minute boundary, with four schedulers (2 workers, 2 schedulers)"
"$bin" schedule add every-minute --cron "* * * * *" --kind echo --params '{"value": "tick"}' --timezone Asia/Shanghai >/dev/null
now=$(date +%s); wait_s=$(( 60 - now % 60 + 5 ))
echo "waiting ${wait_s} s for the next minute boundary"
sleep "$wait_s"
psql "$QUANTDESK_DATABASE_URL" -Atc "SELECT fire_at, COUNT(*) FROM schedule_runs GROUP BY fire_at" >"$work/ticks.txt"
psql "$QUANTDESK_DATABASE_URL" -Atc "SELECT idempotency_key, COUNT(*) FROM jobs WHERE idempotency_key LIKE 'schedule:%' GROUP BY idempotency_key" >"$work/tick-jobs.txt"
[ -s "$work/ticks.txt" ] || fail "no tick fired"
if awk -F'|' '$2 != 1 {bad=1} END {exit !bad}' "$work/ticks.txt" "$work/tick-jobs.txt"; then fail "a tick fired more than once: $(cat "$work/ticks.txt")"; fi
echo "ok: $(wc -l <"$work/ticks.txt") tick(s) fired, each exactly once: $(tr '\n' ' ' <"$work/ticks.txt")"

echo "== 4. Redis stops"
curl -fsS "$lb/readyz" | grep -q '"status":"ok"' || fail "not ready before Redis stops"
kill -9 "$redis_pid"
sleep 0.5
curl -fsS "$lb/udf/history?symbol=GOOG&resolution=1M&to=4102444800&countback=12" | grep -q '"s":"ok"' || fail "the API stopped answering without Redis"
curl -fsS "$lb/readyz" | grep -q '"status":"degraded"' || fail "/readyz does not say degraded: $(curl -fsS "$lb/readyz")"
echo "ok: without Redis the API answers and /readyz says degraded"
echo "scale-out: all checks passed"
