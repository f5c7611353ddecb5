#!/usr/bin/env bash
# The dashboard's end-to-end run: a real `pipelogiq serve --demo` on free ports, driven by
# Playwright in Debian's chromium. Used by .ci/run; run it yourself after `invoke ui`.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x /usr/bin/chromium ] || { apt-get update -qq && apt-get install -y -qq chromium; }
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
external=$(free_port)
(cd "$work" && PIPELOGIQ_ADMIN_EMAIL=admin@example.com PIPELOGIQ_ADMIN_PASSWORD=admin-password \
    HTTP_ADDR="127.0.0.1:$port" EXTERNAL_HTTP_ADDR="127.0.0.1:$external" METRICS_ADDR=127.0.0.1:0 \
    PIPELOGIQ_UI_DIST="$OLDPWD/ui/dist" exec "$OLDPWD/.venv/bin/pipelogiq" serve --demo \
    > "$work/server.log" 2>&1) &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 60); do
    curl -sf "http://127.0.0.1:$port/readyz" > /dev/null && break
    sleep 1
done
rc=0
PIPELOGIQ_URL="http://127.0.0.1:$port" PIPELOGIQ_EXTERNAL_URL="http://127.0.0.1:$external" \
    node ui/e2e/run.mjs || rc=$?
kill $server; wait $server || true
if [ $rc -ne 0 ]; then tail -50 "$work/server.log"; fi
exit $rc
