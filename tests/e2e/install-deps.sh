#!/usr/bin/env bash
# Install what the end-to-end tests need beyond the Python venv: the official JavaScript SDKs
# and playwright-core (tests/e2e/js), and Debian's Chromium for the browser test.
# Idempotent and quick when everything is already in place.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
js="$here/js"

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "install-deps: '$tool' not found; install Node.js >= 20 with npm (Debian: apt-get install nodejs npm)" >&2
        exit 1
    fi
done

# node_modules/.package-lock.json is rewritten by every npm install, so it dates the last install.
installed="$js/node_modules/.package-lock.json"
if [[ ! -f "$installed" || "$js/package-lock.json" -nt "$installed" || "$js/package.json" -nt "$installed" ]]; then
    echo "install-deps: npm ci in tests/e2e/js"
    (cd "$js" && npm ci --no-audit --no-fund)
else
    echo "install-deps: tests/e2e/js/node_modules is up to date"
fi

if [[ ! -x /usr/bin/chromium ]]; then
    sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        sudo=(sudo)
    fi
    echo "install-deps: installing Debian's chromium"
    "${sudo[@]}" apt-get -q update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -q -y --no-install-recommends chromium
else
    echo "install-deps: /usr/bin/chromium is installed"
fi
