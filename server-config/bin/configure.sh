#!/usr/bin/env bash
# Configures an unpacked WildFly for Anvil, offline, with the checked-in CLI scripts only.
#   configure.sh WILDFLY_HOME
# ANVIL_SERVER_BASE_DIR (optional): configure that server base directory (a copy of standalone/, started
# with -Djboss.server.base.dir) instead of WILDFLY_HOME/standalone; the integration tests use one per run.
# Creates standalone/configuration/standalone-anvil.xml from standalone-full.xml (first run only), then runs,
# in one embedded-server session: every src/main/cli/NN-*.cli (idempotent), then the launch profiles picked
# from the environment: profiles/datasource-postgresql.cli when ANVIL_DB_URL is set (else datasource-h2.cli),
# profiles/logging-json.cli when ANVIL_LOG_JSON=true (else logging-text.cli), and profiles/caches-local.cli
# (else clustered.cli, see below). Safe to re-run.
# ANVIL_CLUSTER=true: the clustered configuration standalone-anvil-ha.xml instead, created from
# standalone-full-ha.xml, with a JGroups TCP stack that finds its peers in a static list (TCPPING) and the caches
# of container "anvil" distributed (profiles/clustered.cli). Needs PostgreSQL (ANVIL_DB_URL): every node
# shares the registry, API keys and usage. Peers, node name and addresses are start-time settings (serve.sh).
# It also needs ANVIL_CLUSTER_SECRET, the secret every node of the cluster shares (32-512 characters of
# A-Z a-z 0-9 + / = . _ ~ -): JGroups admits only members that prove it (AUTH) and encrypts the cluster's traffic
# with an AES key derived from it (SYM_ENCRYPT), which bin/ClusterKeyStore.java writes to
# configuration/anvil-cluster.p12 on every run. The server needs the same variable when it starts.
set -euo pipefail
SERVER_CONFIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WILDFLY_HOME="${1:?usage: configure.sh WILDFLY_HOME}"
CLI_DIR="$SERVER_CONFIG_DIR/src/main/cli"
PG_JAR="$SERVER_CONFIG_DIR/target/jdbc/postgresql.jar"

if [ ! -f "$WILDFLY_HOME/bin/jboss-cli.sh" ]; then
  echo "configure.sh: no WildFly at $WILDFLY_HOME (run ./mvnw -pl server-config package first)" >&2
  exit 1
fi
if [ ! -f "$PG_JAR" ]; then
  echo "configure.sh: PostgreSQL driver missing at $PG_JAR (run ./mvnw -pl server-config package first)" >&2
  exit 1
fi
: "${JAVA_HOME:?configure.sh: set JAVA_HOME to a JDK 25}"
export JAVA_HOME

# Maven's unpack drops the executable bits of the launch scripts.
chmod +x "$WILDFLY_HOME"/bin/*.sh

case "${ANVIL_CLUSTER:-false}" in
  true) SERVER_CONFIG=standalone-anvil-ha.xml; SOURCE_CONFIG=standalone-full-ha.xml ;;
  false) SERVER_CONFIG=standalone-anvil.xml; SOURCE_CONFIG=standalone-full.xml ;;
  *) echo "configure.sh: ANVIL_CLUSTER must be true or false, got '$ANVIL_CLUSTER'" >&2; exit 1 ;;
esac
if [ "${ANVIL_CLUSTER:-false}" = "true" ] && [ -z "${ANVIL_DB_URL:-}" ]; then
  echo "configure.sh: ANVIL_CLUSTER=true needs a PostgreSQL database shared by every node: set ANVIL_DB_URL," \
       "ANVIL_DB_USER and ANVIL_DB_PASSWORD (the H2 file database belongs to one server)" >&2
  exit 1
fi
if [ "${ANVIL_CLUSTER:-false}" = "true" ]; then
  # Without a shared secret any host that reaches the JGroups port would join the cluster and read and write its
  # caches. The character set keeps the value inert in WildFly's expressions (${env.ANVIL_CLUSTER_SECRET}).
  if [ -z "${ANVIL_CLUSTER_SECRET:-}" ]; then
    echo "configure.sh: ANVIL_CLUSTER=true needs ANVIL_CLUSTER_SECRET, the secret shared by every node of the cluster" \
         "(e.g. the output of 'openssl rand -base64 48', the same on every node)" >&2
    exit 1
  fi
  if ! [[ "$ANVIL_CLUSTER_SECRET" =~ ^[A-Za-z0-9+/=._~-]{32,512}$ ]]; then
    echo "configure.sh: ANVIL_CLUSTER_SECRET must be 32 to 512 characters of A-Z a-z 0-9 + / = . _ ~ -" \
         "(got ${#ANVIL_CLUSTER_SECRET} characters; 'openssl rand -base64 48' makes one)" >&2
    exit 1
  fi
fi

BASE_DIR="${ANVIL_SERVER_BASE_DIR:-$WILDFLY_HOME/standalone}"
CONFIG_DIR="$BASE_DIR/configuration"
if [ ! -f "$CONFIG_DIR/$SERVER_CONFIG" ]; then
  cp "$CONFIG_DIR/$SOURCE_CONFIG" "$CONFIG_DIR/$SERVER_CONFIG"
fi
# Directory MicroProfile Config source (see 10-microprofile.cli); must exist before the server starts.
mkdir -p "$CONFIG_DIR/anvil"
# Admin users: the filesystem realm of 80-security.cli (salted bcrypt hashes), one file per user, readable by the
# server's user only; existing users stay.
mkdir -p "$CONFIG_DIR/anvil-users"
chmod 700 "$CONFIG_DIR/anvil-users"

if [ "${ANVIL_CLUSTER:-false}" = "true" ]; then
  # The key store of SYM_ENCRYPT (clustered.cli), from the secret, before the CLI session that references it.
  if ! "$JAVA_HOME/bin/java" "$SERVER_CONFIG_DIR/bin/ClusterKeyStore.java" "$CONFIG_DIR/anvil-cluster.p12"; then
    echo "configure.sh: could not write the cluster key store $CONFIG_DIR/anvil-cluster.p12" >&2
    exit 1
  fi
fi

# JVM options of every server started from this WILDFLY_HOME (serve.sh, the integration tests):
# the engine needs the Vector API incubator module and native access (FFM mmap of model files).
# --add-modules goes into PREPEND_JAVA_OPTS, not JAVA_OPTS: standalone.sh leaves out ALL of WildFly's default
# --add-opens when JAVA_OPTS names --add-modules, and without them Infinispan's ProtoStream marshaller (cache
# container "anvil") cannot open java.util and fails to start. A block written by an earlier version is replaced.
# The collector is ParallelGC unless ANVIL_GC names another (e.g. -XX:+UseG1GC): the engine allocates short-lived
# activation and logits arrays at every step, and with the 2 GB heap ParallelGC's young collections gave 25 %
# more output at 16 streaming clients and a lower TTFT p99 than G1 (docs/BENCHMARKS.md, Serving).
CONF="$WILDFLY_HOME/bin/standalone.conf"
if ! grep -q '^# anvil-jvm-options v3' "$CONF"; then
  sed -i '/^# anvil-jvm-options (appended/,+2d; /^# anvil-jvm-options v2 (appended/,+2d' "$CONF"
  cat >> "$CONF" <<'CONF_EOF'
# anvil-jvm-options v3 (appended by server-config/bin/configure.sh)
PREPEND_JAVA_OPTS="${PREPEND_JAVA_OPTS:-} --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
JAVA_OPTS="$JAVA_OPTS -Xmx${ANVIL_MAX_HEAP:-2g} ${ANVIL_GC:--XX:+UseParallelGC} ${ANVIL_JAVA_OPTS:-}"
CONF_EOF
fi

# Check the launch environment up front, naming what is wrong, instead of failing at deployment time.
if [ -n "${ANVIL_DB_URL:-}" ]; then
  case "$ANVIL_DB_URL" in
    jdbc:postgresql:*) ;;
    *) echo "configure.sh: ANVIL_DB_URL must be a PostgreSQL JDBC URL (jdbc:postgresql://host:port/db), got '$ANVIL_DB_URL'" >&2; exit 1 ;;
  esac
  for variable in ANVIL_DB_USER ANVIL_DB_PASSWORD; do
    if [ -z "${!variable:-}" ]; then
      echo "configure.sh: ANVIL_DB_URL is set but $variable is empty; set both ANVIL_DB_USER and ANVIL_DB_PASSWORD" >&2
      exit 1
    fi
  done
fi
case "${ANVIL_LOG_JSON:-false}" in
  true|false) ;;
  *) echo "configure.sh: ANVIL_LOG_JSON must be true or false, got '$ANVIL_LOG_JSON'" >&2; exit 1 ;;
esac

# 30-jdbc-drivers.cli adds the driver module only together with the driver resource. The module lives in
# WILDFLY_HOME, shared by every configuration and server base directory: when a complete module is there but this
# configuration has no driver yet (a new base directory, or the clustered configuration next to the standalone
# one), only the driver resource is added, and the module, which running servers may use, stays. A partial
# module (an interrupted earlier run) would make `module add` fail, so it is dropped first.
PG_MODULE_DIR="$WILDFLY_HOME/modules/org/postgresql"
register_existing_driver=false
if [ -d "$PG_MODULE_DIR" ] && ! grep -q '<driver name="postgresql"' "$CONFIG_DIR/$SERVER_CONFIG"; then
  if [ -f "$PG_MODULE_DIR/main/module.xml" ] && compgen -G "$PG_MODULE_DIR/main/*.jar" > /dev/null; then
    register_existing_driver=true
  else
    rm -rf "$PG_MODULE_DIR"
  fi
fi

profiles=()
if [ -n "${ANVIL_DB_URL:-}" ]; then
  profiles+=("$CLI_DIR/profiles/datasource-postgresql.cli")
else
  profiles+=("$CLI_DIR/profiles/datasource-h2.cli")
fi
if [ "${ANVIL_LOG_JSON:-false}" = "true" ]; then
  profiles+=("$CLI_DIR/profiles/logging-json.cli")
else
  profiles+=("$CLI_DIR/profiles/logging-text.cli")
fi
if [ "${ANVIL_CLUSTER:-false}" = "true" ]; then
  profiles+=("$CLI_DIR/profiles/clustered.cli")
else
  profiles+=("$CLI_DIR/profiles/caches-local.cli")
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
script="$work/configure.cli"
{
  echo "embed-server --server-config=$SERVER_CONFIG --std-out=discard"
  if [ "$register_existing_driver" = true ]; then
    echo "/subsystem=datasources/jdbc-driver=postgresql:add(driver-name=postgresql, driver-module-name=org.postgresql, driver-xa-datasource-class-name=org.postgresql.xa.PGXADataSource)"
  fi
  for file in "$CLI_DIR"/[0-9][0-9]-*.cli "${profiles[@]}"; do
    echo "# ---- $(basename "$file")"
    cat "$file"
    echo
  done
  echo "stop-embedded-server"
} > "$script"
printf 'anvil.postgresql.jar=%s\n' "$PG_JAR" > "$work/cli.properties"

log="$work/cli.log"
# The embedded server reads jboss.server.base.dir from the CLI's JVM.
if ! JAVA_OPTS="${JAVA_OPTS:-} -Djboss.server.base.dir=$BASE_DIR" "$WILDFLY_HOME/bin/jboss-cli.sh" --file="$script" --properties="$work/cli.properties" > "$log" 2>&1; then
  grep -v '^WARNING: ' "$log" >&2 || true
  echo "configure.sh: WildFly configuration failed (script: $(ls "$CLI_DIR"))" >&2
  exit 1
fi
# The properties realm of earlier versions kept unsalted MD5 digests, which cannot be turned into salted hashes:
# 80-security.cli has replaced the realm, its files go, and the users they held are named to be created again.
legacy_users="$CONFIG_DIR/anvil-users.properties"
if [ -f "$legacy_users" ]; then
  names="$(grep -v '^#' "$legacy_users" | cut -d= -f1 | tr '\n' ' ' || true)"
  rm -f "$legacy_users" "$CONFIG_DIR/anvil-roles.properties"
  if [ -n "${names// /}" ]; then
    echo "anvil: admin users are now kept as salted bcrypt hashes; the users of the old properties realm (unsalted" \
         "MD5 digests) were removed: create them again with bin/anvil admin-user NAME: ${names% }" >&2
  fi
fi
echo "anvil: WildFly configured at $BASE_DIR/configuration/$SERVER_CONFIG (profiles: $(for p in "${profiles[@]}"; do basename "$p" .cli; done | tr '\n' ' '))"
