#!/usr/bin/env bash
# Install the Debian packages (and the npm test tools) profd needs, if missing.
# Idempotent: a second run does nothing. Works as root or through sudo.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang clang-format cppcheck valgrind
  librdkafka-dev libhiredis-dev libjson-c-dev libcurl4-openssl-dev libssl-dev
  zlib1g-dev libcmocka-dev
  redis-server kcat python3 curl procps openssl
  docker-compose yamllint python3-yaml
)

# Tools that may come from elsewhere than Debian (a node from its own
# repository, say): install the Debian package only when the command is absent.
TOOLS=(node:nodejs npm:npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
for t in "${TOOLS[@]}"; do
  command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
done

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The schema validator the tests use (ajv), from the npm registry.
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$here/tests/node/package.json" ] && [ ! -d "$here/tests/node/node_modules/ajv" ]; then
  echo "install-deps: npm install in tests/node"
  (cd "$here/tests/node" && npm install --no-audit --no-fund --silent)
fi
