#!/usr/bin/env bash
# The closed loop on a real broker, as a person would run it: `preempt serve` and
# `preempt simulate --kafka` side by side, then the same fleet (same seed) with no scorer,
# and the two outcomes beside each other.
#
#   KAFKA_BROKERS=127.0.0.1:9092 scripts/e2e.sh MODEL_DIR [simulate fleet flags…]
#
# Default fleet: --hosts 100 --duration 1d --interval 30s --mtbf 4d --seed 123 at --speed 900
# (about 100 s). Topics get a fresh prefix per run, so runs never see each other's records.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
model="$1"; shift
fleet=("$@")
[ ${#fleet[@]} -gt 0 ] || fleet=(--hosts 100 --duration 1d --interval 30s --mtbf 4d --seed 123)
speed="${PREEMPT_E2E_SPEED:-900}"
id="e2e-$(date +%s)"
out="${PREEMPT_E2E_DIR:-.cache/e2e/$id}"
mkdir -p "$out"
cat >"$out/config.json" <<JSON
{ "topics": { "metrics": "$id.metrics", "failures": "$id.failures", "predictions": "$id.predictions",
  "commands": "$id.commands", "commandStatus": "$id.status", "deadLetter": "$id.dlq", "state": "$id.state" },
  "log": { "level": "warn" } }
JSON
preempt() { node bin/preempt.js --config "$out/config.json" "$@"; }

echo "== serve ($model), waiting for the simulator's topics"
# node itself in the background (not a shell function), so SIGTERM reaches it.
node bin/preempt.js --config "$out/config.json" serve --model "$model" --group "$id" --from-beginning --no-progress 2>"$out/serve.log" &
serve=$!
trap 'kill -TERM $serve 2>/dev/null || true' EXIT
sleep 5
echo "== simulate --kafka ${fleet[*]} --speed $speed"
preempt simulate --kafka "${fleet[@]}" --speed "$speed" --no-progress --report "$out/with.json" | tee "$out/with.txt"
sleep 3   # the last statuses reach the scorer
kill -TERM "$serve"
wait "$serve" && echo "serve: exited 0 after SIGTERM" || echo "serve: exited $? after SIGTERM"
trap - EXIT
grep -v '"level"' "$out/serve.log" | tail -n 2
echo "== the same fleet with no scorer"
preempt simulate --out "$out/bare" "${fleet[@]}" --no-progress --report "$out/without.json" >"$out/without.txt"
node -e '
  const [w, wo] = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f, "utf8")))
  const pred = (o) => o.incidents.filter((i) => i.predictable)
  const row = (name, o) => `${name.padEnd(14)} outages ${String(o.outages).padStart(3)}, averted ${pred(o).filter((i) => i.averted).length}/${pred(o).length} predictable, unneeded actions ${o.actions.unnecessary}, availability ${(o.availability * 100).toFixed(4)} %, MTTR ${o.mttrMs === null ? "-" : (o.mttrMs / 60000).toFixed(1) + " min"}`
  console.log(row("with preempt", w)); console.log(row("without", wo))
' "$out/with.json" "$out/without.json"
echo "reports: $out"
