#!/usr/bin/env bash
# REST fuzz: schemathesis (from PyPI, into a git-ignored venv) over every route of the
# OpenAPI document at /docs/json, against the API harness (scripts/api-harness.ts: the
# in-memory bus, a simulated fleet scored by models/demo, the scorer in the process).
# Checks: no 5xx, every 4xx/5xx a catalogue code (scripts/fuzz_hooks.py), no stack trace,
# answers that match their declared schema and status codes.
#
#   scripts/fuzz-api.sh [max examples per operation, default 200]
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-200}"
venv=.cache/fuzz-venv
out=.cache/fuzz
mkdir -p "$out"
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "== installing schemathesis into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'schemathesis==4.32.5'
fi
echo "== starting the API harness"
node --import tsx scripts/api-harness.ts --port 0 >"$out/harness.out" 2>"$out/harness.err" &
harness=$!
trap 'kill -TERM $harness 2>/dev/null || true; wait $harness 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
  grep -q '^url=' "$out/harness.out" 2>/dev/null && break
  kill -0 $harness 2>/dev/null || { cat "$out/harness.err" >&2; exit 1; }
  sleep 0.5
done
line=$(grep '^url=' "$out/harness.out")
url=$(sed 's/^url=\([^ ]*\).*/\1/' <<<"$line")
token=$(sed 's/.*token=//' <<<"$line")
echo "== schemathesis on $url/docs/json, $examples examples per operation"
set +e
SCHEMATHESIS_HOOKS=fuzz_hooks PYTHONPATH=scripts "$venv/bin/schemathesis" run "$url/docs/json" \
  --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance,catalogue_error,no_stack_trace \
  --header "Authorization: Bearer $token" \
  --max-examples "$examples" --seed 20261130 \
  --report junit --report-junit-path "$out/junit.xml" 2>&1 | tee "$out/schemathesis.txt"
rc=${PIPESTATUS[0]}
set -e
echo "report: $out/schemathesis.txt, $out/junit.xml"
exit "$rc"
