#!/usr/bin/env bash
# bin/anvil test: install what the tests need when missing, then run every test (unit + integration):
#   ./mvnw -B verify
# The integration tests (module integration-tests) start the configured WildFly with the EAR twice:
# against H2 and against a throwaway PostgreSQL server they start themselves (Debian's postgresql binaries).
# The admin console's browser tests (ConsoleIT) drive Debian's chromium through chromium-driver (Selenium).
# Extra arguments go to Maven.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
: "${JAVA_HOME:?test.sh: JAVA_HOME must point to a JDK 25 (bin/anvil sets it)}"
export JAVA_HOME

have_postgresql() {
  compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null && compgen -G "/usr/lib/postgresql/*/bin/postgres" > /dev/null
}

missing=()
have_postgresql || missing+=(postgresql)
command -v runuser > /dev/null || missing+=(util-linux)
command -v chromium > /dev/null || missing+=(chromium)
command -v chromedriver > /dev/null || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get > /dev/null; then
    echo "anvil: installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Debian's package may start a default cluster on 5432; the tests use their own server on a free port.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
  else
    echo "anvil: missing ${missing[*]}; install them (Debian: apt-get install ${missing[*]}) and re-run" >&2
    exit 1
  fi
fi

exec ./mvnw -B verify "$@"
