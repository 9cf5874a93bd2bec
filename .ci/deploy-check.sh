#!/usr/bin/env bash
# Offline checks of the deployment files under deploy/, with the real tools and no network
# besides installing them when missing (Debian packages: docker-compose, prometheus for promtool,
# nginx, kubectl; PyPI: kubernetes-validate in a venv under ~/.cache):
#   1. docker-compose config -q for every profile, and every depends_on inside its profiles
#   2. the Dockerfile's COPY sources exist and pass its .dockerignore; non-root; HEALTHCHECK
#   3. kubectl kustomize of the base and the prod overlay, kubernetes-validate --strict, and the
#      pod hardening every workload must have
#   4. nginx -t over deploy/nginx (test upstreams, a throw-away self-signed certificate)
#   5. promtool check config / check rules / test rules over deploy/monitoring
#   6. promtool check metrics over a live scrape of /metrics from the given binary (a temp SQLite
#      database, one job run), and the metric names the alerts and the dashboard use
#   7. the Grafana dashboard is JSON and every panel has a query
# Idempotent; everything it starts, it stops. Usage: bash .ci/deploy-check.sh path/to/quantdesk
set -euo pipefail
bin=$(realpath "${1:?usage: bash .ci/deploy-check.sh path/to/quantdesk}")
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
server_pid=""
started=$(date +%s)
checks=0
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
ok() { checks=$((checks + 1)); echo "ok: $*"; }
fail() { echo "FAILED: $*"; exit 1; }
note() { echo "note: $*"; }

# ------------------------------------------------------------------------------------- tools
missing=()
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v promtool >/dev/null || missing+=(prometheus)
command -v nginx >/dev/null || missing+=(nginx)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ] || ! command -v kubectl >/dev/null; then
  # Installing prometheus and nginx must not start their daemons: deny service starts for the
  # duration of the install when the machine has no policy of its own.
  policy_added=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_added=1
  fi
  apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
  command -v kubectl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends kubectl >/dev/null || true
  if [ -n "$policy_added" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
command -v kubectl >/dev/null || fail "kubectl is not installed and no apt source offers it (it renders the kustomizations)"
venv=${XDG_CACHE_HOME:-$HOME/.cache}/quantdesk-deploy-venv
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==1.37.0"
fi
py=$venv/bin/python # has PyYAML (a dependency of kubernetes-validate)
echo "tools: $(docker-compose version --short), $(promtool --version 2>&1 | head -1 | cut -d' ' -f1-3), $(nginx -v 2>&1),"\
     "kubectl $(kubectl version --client 2>/dev/null | sed -n 's/Kustomize Version: /kustomize /p'), kubernetes-validate $("$venv/bin/kubernetes-validate" --version)"

# ------------------------------------------------------------------------ 1. docker compose
# Throw-away secret files: compose v2 wants the files a secret names to exist.
mkdir -p "$work/secrets"
for f in database_url postgres_password tls.crt tls.key grafana_admin_password; do echo "dummy" >"$work/secrets/$f"; done
export QUANTDESK_SECRETS="$work/secrets"
profiles=(default prod monitoring backup)
for p in "${profiles[@]}"; do
  docker-compose -f deploy/compose.yaml --profile "$p" config -q || fail "compose profile $p"
done
docker-compose -f deploy/compose.yaml --profile prod --profile monitoring --profile backup config -q || fail "compose prod+monitoring+backup"
# docker-compose 1.x neither filters `config` by profile nor refuses a depends_on that points
# outside the active profiles (v2 does, at `up`): check that here.
"$py" - deploy/compose.yaml "${profiles[@]}" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
services = doc["services"]
for name, s in services.items():
    assert s.get("profiles"), f"service {name} has no profile: it would start with every profile"
combos = [{p} for p in sys.argv[2:]] + [{"default", "backup", "monitoring"}, {"prod", "backup", "monitoring"}]
for combo in combos:
    active = {n for n, s in services.items() if combo & set(s["profiles"])}
    for n in active:
        for dep in services[n].get("depends_on", {}):
            assert dep in active, f"with profiles {sorted(combo)}, {n} depends on {dep}, which is not started"
default = {n for n, s in services.items() if "default" in s["profiles"]}
prod = {n for n, s in services.items() if "prod" in s["profiles"]}
assert not default & prod, f"default and prod share {default & prod}"
assert services["migrate"]["healthcheck"].get("disable"), "migrate is one-shot: its healthcheck must be off"
for n in ("worker", "scheduler", "backup-worker"):
    cmd = services[n]["command"]
    assert "--metrics-listen" in cmd, f"{n}: --metrics-listen gives it /healthz and /metrics"
    port = cmd[cmd.index("--metrics-listen") + 1].rsplit(":", 1)[1]
    assert f"127.0.0.1:{port}/healthz" in " ".join(services[n]["healthcheck"]["test"]), f"{n}: healthcheck on its probe port"
PY
ok "docker-compose config -q for profiles ${profiles[*]} and prod+monitoring+backup; depends_on stays inside its profiles"

# ----------------------------------------------------------------------------- 2. Dockerfile
"$py" - deploy/Dockerfile deploy/Dockerfile.dockerignore <<'PY'
import fnmatch, os, re, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
allowed = [l[1:].rstrip("/") for l in open(sys.argv[2]).read().splitlines() if l.startswith("!")]
for line in text.splitlines():
    m = re.match(r"\s*COPY\s+(.*)", line)
    if not m or "--from=" in m.group(1):
        continue
    *srcs, _dest = m.group(1).split()
    for src in srcs:
        assert os.path.exists(src), f"COPY {src}: no such path in the repository"
        assert any(src.rstrip("/") == a or fnmatch.fnmatch(src.rstrip("/"), a) for a in allowed), f"COPY {src} is excluded by {sys.argv[2]}"
assert re.search(r"^USER\s+10001", text, re.M), "the runtime image must run as uid 10001"
assert re.search(r'^HEALTHCHECK .*"quantdesk", "healthcheck"', text, re.M), "HEALTHCHECK must use `quantdesk healthcheck`"
assert "cargo build --release --locked -p quantdesk" in text
PY
ok "Dockerfile: COPY sources exist and pass Dockerfile.dockerignore; non-root; HEALTHCHECK via quantdesk healthcheck"

# ----------------------------------------------------------------------------- 3. Kubernetes
for k in base overlays/prod; do
  out="$work/k8s-$(basename "$k").yaml"
  kubectl kustomize "deploy/k8s/$k" >"$out" || fail "kubectl kustomize deploy/k8s/$k"
  # Strict: unknown fields are errors. Two API versions: an older one still in support, and the
  # newest the validator knows. Only core kinds are used (cert-manager is an Ingress annotation,
  # no CRD), so no "unknown kind" warning is expected either.
  for v in 1.30.0 1.37.0; do
    "$venv/bin/kubernetes-validate" --strict --quiet -k "$v" "$out" >"$work/kv.log" 2>&1 || { cat "$work/kv.log"; fail "kubernetes-validate $k against $v"; }
    if grep -q WARN "$work/kv.log"; then cat "$work/kv.log"; fail "kubernetes-validate $k warned"; fi
  done
  "$py" - "$out" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = {d["kind"] for d in docs}
assert "Secret" not in kinds, "secrets are referenced, never committed"
for need in ("Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "CronJob"):
    assert need in kinds, f"no {need}"
pods = {}
for d in docs:
    spec = d.get("spec", {})
    if d["kind"] == "Deployment":
        pods[d["metadata"]["name"]] = spec["template"]["spec"]
    elif d["kind"] == "CronJob":
        pods[d["metadata"]["name"]] = spec["jobTemplate"]["spec"]["template"]["spec"]
for name, pod in pods.items():
    assert pod["securityContext"].get("runAsNonRoot") is True, f"{name}: runAsNonRoot"
    assert pod.get("automountServiceAccountToken") is False, f"{name}: automountServiceAccountToken"
    for c in pod.get("initContainers", []) + pod["containers"]:
        sc = c["securityContext"]
        assert sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False, f"{name}/{c['name']}: securityContext"
        assert sc["capabilities"]["drop"] == ["ALL"], f"{name}/{c['name']}: drop ALL capabilities"
        assert c["resources"].get("requests") and c["resources"].get("limits"), f"{name}/{c['name']}: requests and limits"
        assert not any("value" in e and "URL" in e["name"] and "_FILE" not in e["name"] for e in c.get("env", [])), f"{name}/{c['name']}: a URL in plain env"
api = pods["quantdesk-api"]
c = api["containers"][0]
assert c["livenessProbe"]["httpGet"]["path"] == "/healthz" and c["readinessProbe"]["httpGet"]["path"] == "/readyz"
assert api["initContainers"][0]["args"] == ["migrate"]
for name in ("quantdesk-worker", "quantdesk-scheduler"):
    c = pods[name]["containers"][0]
    assert "--metrics-listen=0.0.0.0:8081" in c["args"], f"{name}: --metrics-listen"
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}, f"{name}: liveness on /healthz"
assert pods["quantdesk-backup"]["containers"][0]["args"][:3] == ["backup", "--dir", "/backups"]
PY
done
ok "kubectl kustomize base and overlays/prod; kubernetes-validate --strict (1.30, 1.37); hardening, probes, no Secret committed"

# ---------------------------------------------------------------------------------- 4. nginx
# The checked-in files, unchanged, through symlinks; only the environment-specific pieces are
# test ones: upstream.conf (Compose's `api` does not resolve here) and the certificate.
mkdir -p "$work/nginx/certs"
ln -s "$root/deploy/nginx/nginx.conf" "$work/nginx/nginx.conf"
cat >"$work/nginx/upstream.conf" <<'NGX'
upstream quantdesk {
  least_conn;
  server 127.0.0.1:18081 max_fails=3 fail_timeout=10s;
  server 127.0.0.1:18082 max_fails=3 fail_timeout=10s;
  keepalive 32;
}
NGX
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=quantdesk.test" \
  -keyout "$work/nginx/certs/tls.key" -out "$work/nginx/certs/tls.crt" >/dev/null 2>&1
nginx -t -q -e stderr -p "$work/nginx" -c "$work/nginx/nginx.conf" || fail "nginx -t"
grep -q 'include upstream.conf;' deploy/nginx/nginx.conf && grep -q '^upstream quantdesk' deploy/nginx/upstream.conf || fail "nginx upstream layout"
ok "nginx -t over deploy/nginx/nginx.conf with test upstreams and a self-signed certificate"

# ----------------------------------------------------------------------------- 5. Prometheus
promtool check config deploy/monitoring/prometheus.yml >"$work/promtool.log" 2>&1 || { cat "$work/promtool.log"; fail "promtool check config"; }
promtool check rules deploy/monitoring/alerts.yml >"$work/promtool.log" 2>&1 || { cat "$work/promtool.log"; fail "promtool check rules"; }
promtool test rules deploy/monitoring/alerts.test.yml >"$work/promtool.log" 2>&1 || { cat "$work/promtool.log"; fail "promtool test rules"; }
ok "promtool check config, check rules ($(grep -c '^      - alert:' deploy/monitoring/alerts.yml) alerts), test rules"

# ------------------------------------------------------------------- 6. a live /metrics scrape
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
export QUANTDESK_DATABASE_URL="sqlite://$work/quantdesk.db" QUANTDESK_MAILBOX_DIR="$work/mailbox" QUANTDESK_LOG_LEVEL=warn
"$bin" migrate >/dev/null
QUANTDESK_USER_PASSWORD=deploy-check-admin-pw "$bin" user create --email ops@quantdesk.test --role admin >/dev/null
token=$("$bin" key create --email ops@quantdesk.test --name deploy-check --scopes read,jobs 2>/dev/null)
"$bin" serve --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$base/healthz" >/dev/null || { cat "$work/server.log"; fail "the server did not start"; }
curl -fsS "$base/readyz" >/dev/null
curl -sS -o /dev/null "$base/api/v1/instruments" # a 401, so a 4xx series exists
job=$(curl -fsS -H "Authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"kind":"echo","params":{"value":1}}' "$base/api/v1/jobs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 1 100); do
  curl -fsS -H "Authorization: Bearer $token" "$base/api/v1/jobs/$job" | grep -q '"state":"succeeded"' && break
  sleep 0.1
done
# Prometheus scrapes without credentials: /metrics must answer anonymously.
code=$(curl -sS -o "$work/metrics.txt" -w '%{http_code}' "$base/metrics")
[ "$code" = 200 ] || fail "GET /metrics without credentials answered $code"
set +e
promtool check metrics <"$work/metrics.txt" >"$work/lint.txt" 2>&1
lint=$?
set -e
case $lint in
  0) ok "promtool check metrics over a live scrape ($(grep -c '^# TYPE' "$work/metrics.txt") metric families)" ;;
  3) # Parsed, with lint findings: the names and help texts are in crates/quantdesk-server/src/ops.rs.
     echo "promtool check metrics (lint findings, owned by crates/quantdesk-server/src/ops.rs and the job runtime):"
     sed 's/^/  | /' "$work/lint.txt"
     fail "promtool check metrics: lint findings (every metric needs help text and a conventional name)" ;;
  *) cat "$work/lint.txt"; fail "promtool check metrics could not parse the exposition" ;;
esac
# `quantdesk healthcheck` is what the image's HEALTHCHECK runs.
if "$bin" healthcheck --help >/dev/null 2>&1; then
  "$bin" healthcheck --url "$base/healthz" >/dev/null || fail "quantdesk healthcheck against a live server"
  if "$bin" healthcheck --url "http://127.0.0.1:9/healthz" >/dev/null 2>&1; then fail "quantdesk healthcheck succeeded against a closed port"; fi
  ok "quantdesk healthcheck: 0 against the live server, non-zero against a closed port"
else
  note "this binary has no \`quantdesk healthcheck\` yet: deploy/Dockerfile's HEALTHCHECK and compose's healthchecks need it"
fi
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

# ------------------------------------------------------- 7. dashboard, and the names queried
"$py" - "$work/metrics.txt" deploy/monitoring/grafana/dashboards/quantdesk.json deploy/monitoring/alerts.yml \
  deploy/monitoring/grafana/provisioning/datasources/prometheus.yml deploy/monitoring/grafana/provisioning/dashboards/quantdesk.yml <<'PY'
import json, re, sys, yaml
scrape, dash_path, alerts_path, ds_path, prov_path = sys.argv[1:]
dash = json.load(open(dash_path))
exprs = []
assert dash["panels"], "no panels"
for p in dash["panels"]:
    targets = [t.get("expr", "").strip() for t in p.get("targets", [])]
    assert targets and all(targets), f"panel {p.get('title')!r} has no query"
    exprs += targets
ids = [p["id"] for p in dash["panels"]]
assert len(ids) == len(set(ids)), "panel ids repeat"
for g in yaml.safe_load(open(alerts_path))["groups"]:
    exprs += [r["expr"] for r in g["rules"]]
ds = yaml.safe_load(open(ds_path))["datasources"][0]
assert ds["uid"] == "prometheus" and ds["url"] == "http://prometheus:9090"
assert yaml.safe_load(open(prov_path))["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"
# The interface: what the binary exposes now, and what the backup, users and sessions work adds.
known = {"up", "http_requests_total", "http_request_duration_seconds", "jobs_queued", "jobs_total",
         "job_duration_seconds", "job_retries_total", "schedule_runs_total", "db_pool_connections",
         "db_pool_max_connections", "redis_errors_total", "quantdesk_build_info",
         "quantdesk_backup_last_success_timestamp_seconds", "quantdesk_backup_age_seconds",
         "quantdesk_users", "quantdesk_active_sessions"}
used = set()
for e in exprs:
    for m in re.finditer(r"\b([a-z_][a-z0-9_]*)\s*\{", e):
        used.add(re.sub(r"_(bucket|sum|count)$", "", m.group(1)))
unknown = used - known
assert not unknown, f"queries use metrics quantdesk does not define: {sorted(unknown)}"
exposed = {l.split()[2] for l in open(scrape) if l.startswith("# TYPE ")} | {"up"}
absent = sorted(used - exposed)
print(f"ok: dashboard JSON: {len(dash['panels'])} panels, each with a query; {len(used)} metric names queried, all in the interface")
if absent:
    print("note: not in this scrape (created on first use, or not implemented yet): " + ", ".join(absent))
PY
checks=$((checks + 1))

echo "deploy-check: all $checks checks passed in $(( $(date +%s) - started )) s"
