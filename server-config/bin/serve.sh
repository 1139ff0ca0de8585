#!/usr/bin/env bash
# bin/anvil serve: build if needed, configure WildFly, deploy the EAR and run the server in the foreground.
#   http://localhost:8080 (API, /health, /metrics, /openapi, /swagger-ui/, /admin/), management on 9990.
# Environment: ANVIL_DB_URL/ANVIL_DB_USER/ANVIL_DB_PASSWORD select PostgreSQL (else an H2 file database in
# the server's data dir), ANVIL_LOG_JSON=true for JSON console logs, ANVIL_BIND_ADDRESS (default 127.0.0.1),
# ANVIL_MAX_HEAP (default 2g), ANVIL_GC (default -XX:+UseParallelGC), ANVIL_JAVA_OPTS, ANVIL_ADMIN_USER/ANVIL_ADMIN_PASSWORD (first admin user); every MicroProfile Config key as an env var (see README).
# Extra arguments go to WildFly's standalone.sh. Ctrl-C shuts the server down cleanly.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
: "${JAVA_HOME:?serve.sh: JAVA_HOME must point to a JDK 25 (bin/anvil sets it)}"
export JAVA_HOME

WILDFLY_HOME="$ROOT/server-config/target/wildfly"
EAR="$ROOT/ear/target/anvil.ear"

# Rebuild when the EAR or the server is missing, or any source/pom/CLI script is newer than the EAR.
needs_build=false
if [ ! -f "$EAR" ] || [ ! -x "$WILDFLY_HOME/bin/standalone.sh" ] || [ ! -f "$ROOT/server-config/target/jdbc/postgresql.jar" ]; then
  needs_build=true
elif [ -n "$(find "$ROOT" -path "$ROOT/.git" -prune -o -path '*/target' -prune -o -path "$ROOT/models" -prune \
        -o -type f \( -name pom.xml -o -path '*/src/main/*' \) -newer "$EAR" -print -quit)" ]; then
  needs_build=true
fi
if [ "$needs_build" = true ]; then
  echo "anvil: building (./mvnw -q install -DskipTests)..."
  ./mvnw -q install -DskipTests
fi

# Applies the idempotent CLI scripts plus the profiles chosen by this environment (H2/PostgreSQL, log format).
"$ROOT/server-config/bin/configure.sh" "$WILDFLY_HOME"

# The admin API (/api/**) needs a user with the role anvil-admin: on first start create "admin" (password from
# ANVIL_ADMIN_PASSWORD, else generated and printed here once). More users: bin/anvil admin-user NAME.
if ! grep -q '^[^#]' "$WILDFLY_HOME/standalone/configuration/anvil-users.properties"; then
  ANVIL_SERVER_BASE_DIR="$WILDFLY_HOME/standalone" "$ROOT/server-config/bin/admin-user.sh" "${ANVIL_ADMIN_USER:-admin}"
fi

DEPLOYMENTS="$WILDFLY_HOME/standalone/deployments"
rm -f "$DEPLOYMENTS"/anvil.ear.*
cp "$EAR" "$DEPLOYMENTS/anvil.ear"

BIND="${ANVIL_BIND_ADDRESS:-127.0.0.1}"
echo "anvil: starting WildFly on http://$BIND:8080 (management http://127.0.0.1:9990); Ctrl-C stops it"
# exec: standalone.sh forwards Ctrl-C/SIGTERM to the JVM, whose shutdown hook stops WildFly gracefully.
exec "$WILDFLY_HOME/bin/standalone.sh" -c standalone-anvil.xml -b "$BIND" "$@"
