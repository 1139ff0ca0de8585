#!/usr/bin/env bash
# bin/anvil gateway-bench: the gateway's overhead per /v1 request (API key authentication, rate limits, budget
# check, audit hand-off), measured inside the server by the timer anvil.gateway.overhead, at p50 and p99.
#   gateway-bench.sh [REQUESTS] [CONCURRENCY]     (defaults 2000 and 4)
# Needs a running server (bin/anvil serve) and an admin user: ANVIL_ADMIN_USER (default admin) and
# ANVIL_ADMIN_PASSWORD. ANVIL_URL defaults to http://127.0.0.1:8080. Creates a tenant with a token budget and
# generous limits (so every check runs but none refuses), a key of it, then sends REQUESTS requests with the key:
# half GET /v1/models (the gateway alone) and half 1-token completions (adds the model-scope check and the
# settlement of tokens, usage row and audit row after the generation). Run it on a freshly started server: the
# timer's quantiles cover the last minutes of /v1 traffic.
set -euo pipefail
requests="${1:-2000}"
concurrency="${2:-4}"
url="${ANVIL_URL:-http://127.0.0.1:8080}"
user="${ANVIL_ADMIN_USER:-admin}"
if [ -z "${ANVIL_ADMIN_PASSWORD:-}" ]; then
  echo "gateway-bench: set ANVIL_ADMIN_PASSWORD to the password of an admin user (bin/anvil admin-user NAME creates one)" >&2
  exit 1
fi
password="$ANVIL_ADMIN_PASSWORD"
command -v curl > /dev/null || { echo "gateway-bench: curl is required" >&2; exit 1; }

tenant="bench-$(date +%s)"
post_admin() {
  curl -sS -f -u "$user:$password" -H 'Content-Type: application/json' "$1" -d "$2"
}
post_admin "$url/api/gateway/tenants" \
  "{\"name\":\"$tenant\",\"tokenBudget\":1000000000000,\"requestsPerMinute\":100000000,\"tokensPerMinute\":100000000}" > /dev/null
created="$(post_admin "$url/api/gateway/tenants/$tenant/keys" '{"name":"bench"}')"
key="$(printf '%s' "$created" | grep -o '"key":"[^"]*"' | cut -d'"' -f4)"
case "$key" in anv-*) ;; *) echo "gateway-bench: could not create a key: $key" >&2; exit 1 ;; esac

count_before="$(curl -sS "$url/metrics?scope=application" | awk '/^anvil_gateway_overhead_seconds_count/ {print $2}' | head -1)"
echo "gateway-bench: $requests requests, $concurrency at a time, tenant $tenant, key ${key:0:12}..."
started=$(date +%s.%N)
seq 1 "$requests" | xargs -P "$concurrency" -I{} sh -c '
  if [ $(({} % 2)) -eq 0 ]; then
    curl -s -o /dev/null -w "%{http_code}\n" -H "Authorization: Bearer $1" "$2/v1/models"
  else
    curl -s -o /dev/null -w "%{http_code}\n" -H "Authorization: Bearer $1" -H "Content-Type: application/json" \
      -d "{\"model\":\"stories260k\",\"prompt\":\"Once\",\"max_tokens\":1,\"temperature\":0}" "$2/v1/completions"
  fi' _ "$key" "$url" | sort | uniq -c | awk '{printf "gateway-bench: HTTP %s x %s\n", $2, $1}'
ended=$(date +%s.%N)

metrics="$(curl -sS "$url/metrics?scope=application" | grep '^anvil_gateway_overhead_seconds')"
quantile() { echo "$metrics" | grep "quantile=\"$1\"" | awk '{printf "%.1f", $2 * 1000000}'; }
count_after="$(echo "$metrics" | awk '/^anvil_gateway_overhead_seconds_count/ {print $2}' | head -1)"
max="$(echo "$metrics" | awk '/^anvil_gateway_overhead_seconds_max/ {printf "%.1f", $2 * 1000000}' | head -1)"
printf 'gateway-bench: %s requests measured in %.1f s (client wall time)\n' "$(awk -v a="${count_after:-0}" -v b="${count_before:-0}" 'BEGIN{print a-b}')" "$(awk -v a="$ended" -v b="$started" 'BEGIN{print a-b}')"
echo "gateway-bench: overhead per request  p50 $(quantile 0.5) us   p90 $(quantile 0.9) us   p99 $(quantile 0.99) us   max $max us"
