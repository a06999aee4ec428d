#!/usr/bin/env bash
# Install the Debian packages (and the npm test tools) profd needs, if missing.
# Idempotent: a second run does nothing. Works as root or through sudo.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang clang-format cppcheck valgrind
  librdkafka-dev libhiredis-dev libjson-c-dev libcurl4-openssl-dev libssl-dev
  zlib1g-dev libcmocka-dev libdw-dev
  redis-server kcat python3 curl procps openssl
  docker-compose yamllint python3-yaml
  chromium
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
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"
fi

# The test tools from the npm registry (tests/node/package.json: the schema
# validator, playwright-core for the browser tests): installed again whenever a
# dependency listed there is missing from node_modules.
here=$(cd "$(dirname "$0")/.." && pwd)
node_missing() {
  local dir=$1 dep
  for dep in $(node -e 'const p=require(process.argv[1]);console.log(Object.keys(p.dependencies||{}).join(" "))' "$dir/package.json"); do
    [ -d "$dir/node_modules/$dep" ] || return 0
  done
  return 1
}
if [ -f "$here/tests/node/package.json" ] && node_missing "$here/tests/node"; then
  echo "install-deps: npm install in tests/node"
  (cd "$here/tests/node" && npm install --no-audit --no-fund --silent)
fi
