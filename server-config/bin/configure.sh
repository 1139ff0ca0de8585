#!/usr/bin/env bash
# Configures an unpacked WildFly for Anvil, offline, with the checked-in CLI scripts only.
#   configure.sh WILDFLY_HOME
# ANVIL_SERVER_BASE_DIR (optional): configure that server base directory (a copy of standalone/, started
# with -Djboss.server.base.dir) instead of WILDFLY_HOME/standalone; the integration tests use one per run.
# Creates standalone/configuration/standalone-anvil.xml from standalone-full.xml (first run only), then runs,
# in one embedded-server session: every src/main/cli/NN-*.cli (idempotent), then the launch profiles picked
# from the environment: profiles/datasource-postgresql.cli when ANVIL_DB_URL is set (else datasource-h2.cli)
# and profiles/logging-json.cli when ANVIL_LOG_JSON=true (else logging-text.cli). Safe to re-run.
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

BASE_DIR="${ANVIL_SERVER_BASE_DIR:-$WILDFLY_HOME/standalone}"
CONFIG_DIR="$BASE_DIR/configuration"
if [ ! -f "$CONFIG_DIR/standalone-anvil.xml" ]; then
  cp "$CONFIG_DIR/standalone-full.xml" "$CONFIG_DIR/standalone-anvil.xml"
fi
# Directory MicroProfile Config source (see 10-microprofile.cli); must exist before the server starts.
mkdir -p "$CONFIG_DIR/anvil"

# JVM options of every server started from this WILDFLY_HOME (serve.sh, the integration tests):
# the engine needs the Vector API incubator module and native access (FFM mmap of model files).
# standalone.sh adds WildFly's own JDK module options (--add-opens java.base/java.util and others, which e.g.
# the infinispan subsystem's ProtoStream marshaller needs) only when JAVA_OPTS names no --add-modules, so the
# block takes them first (standalone.conf is sourced after bin/common.sh defines setDefaultModularJvmOptions).
# A block of an earlier configure.sh (without them) is replaced.
CONF="$WILDFLY_HOME/bin/standalone.conf"
if grep -q '^# anvil-jvm-options (appended' "$CONF"; then
  sed -i '/^# anvil-jvm-options (appended/,+2d' "$CONF"
fi
if ! grep -q '^# anvil-jvm-options-v2' "$CONF"; then
  cat >> "$CONF" <<'CONF_EOF'
# anvil-jvm-options-v2 (appended by server-config/bin/configure.sh)
if command -v setDefaultModularJvmOptions >/dev/null 2>&1; then
  # The JDK probe needs $JAVA, which standalone.sh only sets after reading this file (to the same value).
  if [ "x$JAVA" = "x" ]; then
    if [ "x$JAVA_HOME" != "x" ]; then JAVA="$JAVA_HOME/bin/java"; else JAVA="java"; fi
  fi
  setDefaultModularJvmOptions $JAVA_OPTS
  JAVA_OPTS="$JAVA_OPTS $DEFAULT_MODULAR_JVM_OPTIONS"
fi
JAVA_OPTS="$JAVA_OPTS --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
JAVA_OPTS="$JAVA_OPTS -Xmx${ANVIL_MAX_HEAP:-2g} ${ANVIL_JAVA_OPTS:-}"
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

# 30-jdbc-drivers.cli adds the driver module only together with the driver resource; a module left behind by
# an interrupted earlier run (driver never registered) would make `module add` fail, so drop it first.
PG_MODULE_DIR="$WILDFLY_HOME/modules/org/postgresql"
if [ -d "$PG_MODULE_DIR" ] && ! grep -q '<driver name="postgresql"' "$CONFIG_DIR/standalone-anvil.xml"; then
  rm -rf "$PG_MODULE_DIR"
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

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
script="$work/configure.cli"
{
  echo "embed-server --server-config=standalone-anvil.xml --std-out=discard"
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
echo "anvil: WildFly configured at $BASE_DIR (profiles: $(for p in "${profiles[@]}"; do basename "$p" .cli; done | tr '\n' ' '))"
