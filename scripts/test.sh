#!/usr/bin/env bash
# The test command (README): installs what the tests need when it is missing, builds every
# binary the stories start, then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# redis-server: the log-pipeline stories start their own on a free port.
if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing redis-server (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
fi
# policy-rc.d keeps a package from starting its own server on the standard port while it
# installs (removed when this script exits, unless it was there before).
no_service_start() {
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
}
# prometheus and promtool: the dashboards story checks deploy/ against a private Prometheus.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  echo "installing prometheus (Debian package, its service not started)" >&2
  no_service_start
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# initdb and postgres: tests that need PostgreSQL start a private one (test-services/), never the
# machine's own on 5432. Debian keeps them in /usr/lib/postgresql/<version>/bin, off PATH.
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  echo "installing postgresql (Debian package, its service not started)" >&2
  no_service_start
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
# Chromium (Debian's; Playwright never downloads a browser): the console story runs in it.
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium (Debian package)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
# The official OpenAI, Anthropic and Respan Python SDKs: stories drive the gateway with them;
# Playwright (Python) drives Chromium for the console story.
if ! python3 -c 'import openai, anthropic, respan, playwright' >/dev/null 2>&1; then
  echo "installing the openai, anthropic, respan-api and playwright Python packages (PyPI)" >&2
  python3 -m pip install -q openai anthropic respan-api playwright
fi

cargo build --workspace --bins
cargo test --workspace "$@"
