#!/usr/bin/env bash
# Adds or replaces a user of the admin API (bin/anvil admin-user).
#   admin-user.sh [--no-role] NAME [PASSWORD]
# Without PASSWORD (and without ANVIL_ADMIN_PASSWORD) a random one is generated and printed once. The user gets
# the role anvil-admin unless --no-role (a user that authenticates but may not administer, for testing).
# Writes the properties realm files of 80-security.cli in ANVIL_SERVER_BASE_DIR/configuration (default: the
# provisioned server's standalone/configuration): the password is stored as HEX(MD5(name:anvil:password)), the
# digest form of WildFly's properties realm. A running server picks the change up without a restart.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
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
CONFIG_DIR="${ANVIL_SERVER_BASE_DIR:-$ROOT/server-config/target/wildfly/standalone}/configuration"
if [ ! -d "$CONFIG_DIR" ]; then
  echo "admin-user: no server configuration at $CONFIG_DIR (run bin/anvil serve once, or build server-config)" >&2
  exit 1
fi
users="$CONFIG_DIR/anvil-users.properties"
roles="$CONFIG_DIR/anvil-roles.properties"
for file in "$users" "$roles"; do
  [ -f "$file" ] || printf '#$REALM_NAME=anvil$\n' > "$file"
  chmod 600 "$file"
done
hash="$(printf '%s' "$name:anvil:$password" | md5sum | cut -d' ' -f1)"
# Replace the user's lines (if any), then append the new ones; a temp file + mv keeps each file whole.
for file in "$users" "$roles"; do
  grep -v "^${name//./\\.}=" "$file" > "$file.tmp" || true
  mv "$file.tmp" "$file"
  chmod 600 "$file"
done
echo "$name=$hash" >> "$users"
echo "$name=$role" >> "$roles"
if [ "$generated" = true ]; then
  echo "anvil: admin user '$name' created with password: $password"
else
  echo "anvil: admin user '$name' set"
fi
