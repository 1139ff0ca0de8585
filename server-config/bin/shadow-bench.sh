#!/usr/bin/env bash
# bin/anvil shadow-bench: what SHADOW traffic costs the live (control) requests, on a running server.
#   1. measures the control's latency with `bin/anvil load` (no experiment);
#   2. registers a shadow version of the model (the same artifact as its PRODUCTION version, so the shadow does the
#      same work), starts a SHADOW experiment copying every request to it at LOW batch priority, measures again;
#   3. completes the experiment and prints both p99 latencies and their ratio.
# Usage: bin/anvil shadow-bench [--url URL] [--model NAME] [--clients N] [--requests M] [--max-tokens K] [--same-version]
# --same-version: the shadow variant is the PRODUCTION version itself (other parameters: temperature 0), so the copies
# run in the control's own batch at LOW priority instead of on a second loaded version.
# Defaults: http://localhost:8080, stories260k, 8 clients, 64 requests, 64 tokens. Needs curl; the server must run
# (bin/anvil serve) and the model must have a PRODUCTION version. The admin API calls authenticate as ANVIL_ADMIN_USER
# (default admin) with ANVIL_ADMIN_PASSWORD; the experiment's changes are recorded under that user.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
URL=http://localhost:8080 MODEL=stories260k CLIENTS=8 REQUESTS=64 MAX_TOKENS=64 SAME_VERSION=false
while [ $# -gt 0 ]; do
  case "$1" in
    --url) URL="$2"; shift 2 ;;
    --model) MODEL="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --requests) REQUESTS="$2"; shift 2 ;;
    --max-tokens) MAX_TOKENS="$2"; shift 2 ;;
    --same-version) SAME_VERSION=true; shift ;;
    *) echo "shadow-bench: unknown option '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done

if [ -z "${ANVIL_ADMIN_PASSWORD:-}" ]; then
  echo "shadow-bench: set ANVIL_ADMIN_PASSWORD to the password of an admin user (bin/anvil admin-user NAME creates one)" >&2
  exit 1
fi
ADMIN="${ANVIL_ADMIN_USER:-admin}:$ANVIL_ADMIN_PASSWORD"
json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p" | head -1; }
post() { curl -sS -f -u "$ADMIN" -X POST -H 'Content-Type: application/json' "$URL$1" -d "$2"; }
load() { "$ROOT/bin/anvil" load --url "$URL" --model "$MODEL" --clients "$CLIENTS" --requests "$REQUESTS" --max-tokens "$MAX_TOKENS" --json; }

production=$(curl -sS -f -u "$ADMIN" "$URL/api/registry/models/$MODEL" | json_field productionVersion)
[ -n "$production" ] || { echo "shadow-bench: model $MODEL has no PRODUCTION version" >&2; exit 1; }
path=$(curl -sS -f -u "$ADMIN" "$URL/api/registry/models/$MODEL/versions/$production" | json_field path)
stamp=$(date +%s)
shadow="0.0.$stamp"
experiment="shadow-bench-$stamp"

echo "control $MODEL@$production: $CLIENTS clients, $REQUESTS requests of $MAX_TOKENS tokens; shadow version: \
$([ "$SAME_VERSION" = true ] && echo "the control's own ($production, LOW priority in its batch)" || echo "a second loaded copy ($shadow)")"
load >/dev/null # warm-up, not counted
baseline=$(load)
if [ "$SAME_VERSION" = true ]; then
  shadow="$production"
else
  post "/api/registry/models/$MODEL/versions" "{\"version\":\"$shadow\",\"path\":\"$path\"}" >/dev/null
fi
post "/api/experiments" "{\"name\":\"$experiment\",\"model\":\"$MODEL\",\"strategy\":\"SHADOW\",\"primaryMetric\":\"latency_ms\",
  \"variants\":[{\"name\":\"control\",\"modelVersion\":\"$production\",\"weightPercent\":100,\"control\":true},
                {\"name\":\"shadow\",\"modelVersion\":\"$shadow\",\"weightPercent\":0,\"control\":false,\"temperature\":0}]}" >/dev/null
post "/api/experiments/$experiment/start" '{}' >/dev/null
load >/dev/null # the shadow version loads on the first copies: warm-up, not counted
shadowed=$(load)
post "/api/experiments/$experiment/complete" '{"reason":"benchmark done"}' >/dev/null
comparisons=$(curl -sS -f -u "$ADMIN" "$URL/api/experiments/$experiment/results" | grep -o "\"comparisons\":[0-9][0-9]*" | head -1 | cut -d: -f2)

p99_base=$(echo "$baseline" | json_field latency_ms_p99)
p99_shadow=$(echo "$shadowed" | json_field latency_ms_p99)
p50_base=$(echo "$baseline" | json_field latency_ms_p50)
p50_shadow=$(echo "$shadowed" | json_field latency_ms_p50)
echo "without shadow: latency p50 ${p50_base} ms, p99 ${p99_base} ms"
echo "with shadow   : latency p50 ${p50_shadow} ms, p99 ${p99_shadow} ms (shadow comparisons recorded: ${comparisons:-0})"
awk -v a="$p99_base" -v b="$p99_shadow" 'BEGIN { printf "control p99 with shadow / without: %.2f\n", b / a }'
