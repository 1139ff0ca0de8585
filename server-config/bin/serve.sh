#!/usr/bin/env bash
# bin/anvil serve: build if needed, configure WildFly, deploy the EAR and run the server in the foreground.
#   http://localhost:8080 (API, /health, /metrics, /openapi, /swagger-ui/, /admin/), management on 9990.
# Environment: ANVIL_DB_URL/ANVIL_DB_USER/ANVIL_DB_PASSWORD select PostgreSQL (else an H2 file database in
# the server's data dir), ANVIL_LOG_JSON=true for JSON console logs, ANVIL_BIND_ADDRESS (default 127.0.0.1),
# ANVIL_MAX_HEAP (default 2g), ANVIL_GC (default -XX:+UseParallelGC), ANVIL_JAVA_OPTS, ANVIL_ADMIN_USER/ANVIL_ADMIN_PASSWORD (first admin user); every MicroProfile Config key as an env var (docs/CONFIGURATION.md).
# Several servers from one checkout (e.g. the nodes of a cluster): ANVIL_SERVER_BASE_DIR (a server base directory
# of this node, created from the provisioned standalone/ on first use) and ANVIL_PORT_OFFSET (added to every port).
# Clustered (docs/USAGE.md, "Clustering"): ANVIL_CLUSTER=true (needs ANVIL_DB_URL: PostgreSQL shared by the nodes),
# ANVIL_CLUSTER_HOSTS (every node's JGroups address, host[port], port 7600 + offset), ANVIL_NODE_NAME (unique per
# node), ANVIL_CLUSTER_BIND_ADDRESS (the address JGroups binds, default ANVIL_BIND_ADDRESS), and the secret every
# node shares, ANVIL_CLUSTER_SECRET or ANVIL_CLUSTER_SECRET_FILE (a file holding it): without one a node refuses to
# start, since it is what keeps other hosts out of the cluster and its traffic encrypted.
# Extra arguments go to WildFly's standalone.sh. Ctrl-C shuts the server down cleanly.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
: "${JAVA_HOME:?serve.sh: JAVA_HOME must point to a JDK 25 (bin/anvil sets it)}"
export JAVA_HOME

# Checked before anything is built, so that a node missing its secret says so at once.
if [ "${ANVIL_CLUSTER:-false}" = "true" ]; then
  # The cluster secret (profiles/clustered.cli: JGroups AUTH and SYM_ENCRYPT), from the environment or a file. Never
  # generated here: a secret of this node's own would only keep it out of the cluster it is meant to join.
  if [ -n "${ANVIL_CLUSTER_SECRET_FILE:-}" ]; then
    if [ -n "${ANVIL_CLUSTER_SECRET:-}" ]; then
      echo "anvil: set ANVIL_CLUSTER_SECRET or ANVIL_CLUSTER_SECRET_FILE, not both" >&2
      exit 1
    fi
    if [ ! -f "$ANVIL_CLUSTER_SECRET_FILE" ] || [ ! -r "$ANVIL_CLUSTER_SECRET_FILE" ]; then
      echo "anvil: ANVIL_CLUSTER_SECRET_FILE names no readable file: $ANVIL_CLUSTER_SECRET_FILE" >&2
      exit 1
    fi
    ANVIL_CLUSTER_SECRET="$(head -n 1 "$ANVIL_CLUSTER_SECRET_FILE" | tr -d '\r')"
    export ANVIL_CLUSTER_SECRET
  fi
  if [ -z "${ANVIL_CLUSTER_SECRET:-}" ]; then
    echo "anvil: ANVIL_CLUSTER=true needs the cluster's shared secret: set ANVIL_CLUSTER_SECRET (or ANVIL_CLUSTER_SECRET_FILE," \
         "a file holding it) to the same value on every node, e.g. one made once with 'openssl rand -base64 48'." \
         "Nodes admit only members that know it and encrypt their traffic with a key derived from it." >&2
    exit 1
  fi
fi

WILDFLY_HOME="$ROOT/server-config/target/wildfly"
EAR="$ROOT/ear/target/anvil.ear"

# Rebuild when the EAR or the server is missing, or any source/pom/CLI script is newer than the EAR. `package`, not
# `install`: the reactor resolves its own modules, and nothing of this checkout goes into ~/.m2.
needs_build=false
if [ ! -f "$EAR" ] || [ ! -x "$WILDFLY_HOME/bin/standalone.sh" ] || [ ! -f "$ROOT/server-config/target/jdbc/postgresql.jar" ]; then
  needs_build=true
elif [ -n "$(find "$ROOT" -path "$ROOT/.git" -prune -o -path '*/target' -prune -o -path "$ROOT/models" -prune \
        -o -type f \( -name pom.xml -o -path '*/src/main/*' \) -newer "$EAR" -print -quit)" ]; then
  needs_build=true
fi
if [ "$needs_build" = true ]; then
  echo "anvil: building (./mvnw -q package -DskipTests)..."
  ./mvnw -q package -DskipTests
fi

BASE_DIR="${ANVIL_SERVER_BASE_DIR:-$WILDFLY_HOME/standalone}"
if [ ! -d "$BASE_DIR/configuration" ]; then
  echo "anvil: creating the server base directory $BASE_DIR from $WILDFLY_HOME/standalone"
  mkdir -p "$BASE_DIR/deployments"
  cp -r "$WILDFLY_HOME/standalone/configuration" "$BASE_DIR/"
fi
export ANVIL_SERVER_BASE_DIR="$BASE_DIR"
OFFSET="${ANVIL_PORT_OFFSET:-0}"
if ! [[ "$OFFSET" =~ ^[0-9]{1,5}$ ]]; then
  echo "anvil: ANVIL_PORT_OFFSET must be a number, got '$OFFSET'" >&2
  exit 1
fi
BIND="${ANVIL_BIND_ADDRESS:-127.0.0.1}"
server_args=(-Djboss.server.base.dir="$BASE_DIR" -Djboss.socket.binding.port-offset="$OFFSET" -b "$BIND")
SERVER_CONFIG=standalone-anvil.xml
if [ "${ANVIL_CLUSTER:-false}" = "true" ]; then
  SERVER_CONFIG=standalone-anvil-ha.xml
  NODE="${ANVIL_NODE_NAME:-$(hostname)-$OFFSET}"
  # The transaction manager's node identifier (at most 23 bytes) must differ between nodes that share a database.
  server_args+=(-Djboss.node.name="$NODE" -Djboss.tx.node.id="${NODE:0:23}"
    -Djboss.bind.address.private="${ANVIL_CLUSTER_BIND_ADDRESS:-$BIND}"
    -Danvil.cluster.hosts="${ANVIL_CLUSTER_HOSTS:-${ANVIL_CLUSTER_BIND_ADDRESS:-$BIND}[$((7600 + OFFSET))]}")
  # Promotions made through another node reach this one at its next reconciliation with the shared registry.
  export ANVIL_SERVING_REGISTRY_SYNC_SECONDS="${ANVIL_SERVING_REGISTRY_SYNC_SECONDS:-5}"
fi

# Applies the idempotent CLI scripts plus the profiles chosen by this environment (H2/PostgreSQL, log format,
# local or distributed caches).
"$ROOT/server-config/bin/configure.sh" "$WILDFLY_HOME"

# The admin API (/api/**) needs a user with the role anvil-admin: when the realm has no user (first start) create
# "admin" (password from ANVIL_ADMIN_PASSWORD, else generated and printed here once). More: bin/anvil admin-user NAME.
if [ -z "$(find "$BASE_DIR/configuration/anvil-users" -type f -name '*.xml' -print -quit)" ]; then
  "$ROOT/server-config/bin/admin-user.sh" "${ANVIL_ADMIN_USER:-admin}"
fi

DEPLOYMENTS="$BASE_DIR/deployments"
rm -f "$DEPLOYMENTS"/anvil.ear.*
cp "$EAR" "$DEPLOYMENTS/anvil.ear"

echo "anvil: starting WildFly ($SERVER_CONFIG) on http://$BIND:$((8080 + OFFSET)) (management http://127.0.0.1:$((9990 + OFFSET))); Ctrl-C stops it"
# exec: standalone.sh forwards Ctrl-C/SIGTERM to the JVM, whose shutdown hook stops WildFly gracefully.
exec "$WILDFLY_HOME/bin/standalone.sh" -c "$SERVER_CONFIG" "${server_args[@]}" "$@"
