#!/usr/bin/env bash
# Adds or replaces a user of the admin API (bin/anvil admin-user).
#   admin-user.sh [--no-role] NAME [PASSWORD]
# Without PASSWORD (and without ANVIL_ADMIN_PASSWORD) a random one is generated and printed once. The user gets
# the role anvil-admin unless --no-role (a user that authenticates but may not administer, for testing).
# Writes the user to the filesystem realm AnvilRealm of 80-security.cli in ANVIL_SERVER_BASE_DIR/configuration
# (default: the provisioned server's standalone/configuration) with the realm's own management operations, in an
# embedded server (offline, about ten seconds): the password is stored as a salted bcrypt hash (cost 10, 16 random
# bytes of salt), never in clear. A running server sees the change at its next login check, without a restart.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# bcrypt's work factor (2^10 rounds, a tenth of a second per check here): each admin request with HTTP Basic pays it.
BCRYPT_COST=10
role="anvil-admin"
if [ "${1:-}" = "--no-role" ]; then
  role=""
  shift
fi
name="${1:-}"
if ! [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$ ]]; then
  echo "usage: bin/anvil admin-user [--no-role] NAME [PASSWORD]  (NAME: 1-64 of A-Z a-z 0-9 . _ @ -)" >&2
  exit 1
fi
password="${2:-${ANVIL_ADMIN_PASSWORD:-}}"
generated=false
if [ -z "$password" ]; then
  password="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
  generated=true
fi
# HTTP Basic carries no character set that every client agrees on: printable ASCII logs in from any client.
if ! LC_ALL=C bash -c '[[ "$1" =~ ^[\ -~]+$ ]]' _ "$password"; then
  echo "admin-user: the password must be printable ASCII: letters, digits, space and punctuation; no line breaks," \
       "tabs or other characters" >&2
  exit 1
fi
# bcrypt reads at most 72 bytes of a password: a longer one would be accepted with any ending.
if [ "${#password}" -lt 8 ] || [ "${#password}" -gt 72 ]; then
  echo "admin-user: the password must be 8 to 72 characters long (bcrypt reads no more than 72), got ${#password}" >&2
  exit 1
fi
: "${JAVA_HOME:?admin-user: set JAVA_HOME to a JDK 25 (bin/anvil sets it)}"
export JAVA_HOME
WILDFLY_HOME="$ROOT/server-config/target/wildfly"
CONFIG_DIR="${ANVIL_SERVER_BASE_DIR:-$WILDFLY_HOME/standalone}/configuration"
server_config=""
for candidate in standalone-anvil.xml standalone-anvil-ha.xml; do
  if [ -f "$CONFIG_DIR/$candidate" ] && grep -q '<filesystem-realm name="AnvilRealm"' "$CONFIG_DIR/$candidate"; then
    server_config="$candidate"
    break
  fi
done
if [ -z "$server_config" ] || [ ! -x "$WILDFLY_HOME/bin/jboss-cli.sh" ]; then
  echo "admin-user: no configured server at $CONFIG_DIR (run bin/anvil serve once, or build server-config)" >&2
  exit 1
fi

work="$(mktemp -d)"
chmod 700 "$work"
trap 'rm -rf "$work"' EXIT
# The CLI string syntax: a backslash and a double quote are escaped with a backslash.
quoted="${password//\\/\\\\}"
quoted="${quoted//\"/\\\"}"
salt="$(head -c 16 /dev/urandom | od -An -tx1 -v | tr -s ' \n' ' ' | sed 's/^ //; s/ $//; s/ /,0x/g')"
realm="/subsystem=elytron/filesystem-realm=AnvilRealm"
# Written to a file readable by this user only (a command line would show the password to every user of the machine).
(
  umask 077
  {
    echo "embed-server --server-config=$server_config --std-out=discard"
    echo "if (outcome == success) of $realm:read-identity(identity=$name)"
    echo "    $realm:remove-identity(identity=$name)"
    echo "end-if"
    echo "$realm:add-identity(identity=$name)"
    echo "$realm:set-password(identity=$name, bcrypt={password=\"$quoted\", salt=bytes{0x$salt}, iteration-count=$BCRYPT_COST})"
    if [ -n "$role" ]; then
      echo "$realm:add-identity-attribute(identity=$name, name=groups, value=[$role])"
    fi
    echo "stop-embedded-server"
  } > "$work/user.cli"
)
# The embedded server reads this server's configuration but keeps its own data, log and temporary files, so that
# it never touches those of a server running from the same base directory.
mkdir -p "$work/base"
if ! JAVA_OPTS="${JAVA_OPTS:-} -Djboss.server.base.dir=$work/base -Djboss.server.config.dir=$CONFIG_DIR" \
     "$WILDFLY_HOME/bin/jboss-cli.sh" --file="$work/user.cli" > "$work/cli.log" 2>&1; then
  grep -v '^WARNING: ' "$work/cli.log" | grep -v 'password=' >&2 || true
  echo "admin-user: could not write the user '$name' to $CONFIG_DIR/anvil-users" >&2
  exit 1
fi
chmod -R go-rwx "$CONFIG_DIR/anvil-users"
if [ "$generated" = true ]; then
  echo "anvil: admin user '$name' created with password: $password"
else
  echo "anvil: admin user '$name' set"
fi
