#!/usr/bin/env bash
# The demo (`npm run demo`): the whole loop on a real Kafka broker.
#
#   1. the bundled broker (provisioned from Maven Central on first use), unless KAFKA_BROKERS;
#   2. `preempt serve` with the REST API, scoring with the committed model models/demo;
#   3. the fleet simulator in Kafka mode, time-compressed, with live progress from both
#      sides (the simulator: failures, outages, averted; preempt's API: hosts at risk,
#      commands sent and blocked);
#   4. the outcome beside the same fleet (same seed) with no preempt;
#   5. everything stopped (serve, and the broker if the demo started it), unless --keep.
#
#   scripts/demo.sh [--model DIR] [--speed X] [--keep] [-- simulate fleet flags…]
#
# Default fleet: --hosts 100 --duration 1d --interval 10s --mtbf 4d --seed 123 at --speed 600
# (about 2.5 minutes of simulation). Topics get a fresh prefix per run.
# PREEMPT_DEMO_SPEED and PREEMPT_DEMO_DIR (default .cache/demo) set the speed and the folder.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
model=models/demo
keep=0
speed="${PREEMPT_DEMO_SPEED:-600}"
fleet=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --speed) speed="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --) shift; [ $# -gt 0 ] && fleet=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) echo "demo: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ ${#fleet[@]} -gt 0 ] || fleet=(--hosts 100 --duration 1d --interval 10s --mtbf 4d --seed 123)
[ -f "$model/preempt.json" ] || { echo "demo: no model in $model (preempt train writes one)" >&2; exit 2; }

id="demo-$(date +%s)"
out="${PREEMPT_DEMO_DIR:-.cache/demo}/$id"
mkdir -p "$out"
token=$(node -e 'process.stdout.write(require("node:crypto").randomBytes(18).toString("base64url"))')
cat >"$out/config.json" <<JSON
{ "topics": { "metrics": "$id.metrics", "failures": "$id.failures", "predictions": "$id.predictions",
  "commands": "$id.commands", "commandStatus": "$id.status", "deadLetter": "$id.dlq", "state": "$id.state" },
  "log": { "level": "warn" }, "api": { "token": "$token" } }
JSON
preempt() { node bin/preempt.js --config "$out/config.json" "$@"; }

serve=""
poller=""
started_broker=0
cleanup() {
  [ -n "$poller" ] && kill "$poller" 2>/dev/null || true
  if [ -n "$serve" ] && kill -0 "$serve" 2>/dev/null; then
    kill -TERM "$serve" 2>/dev/null || true
    wait "$serve" 2>/dev/null || true
  fi
  if [ "$started_broker" = 1 ]; then bash scripts/kafka/kafka.sh down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== 1. Kafka"
if [ -n "${KAFKA_BROKERS:-}" ]; then
  echo "using KAFKA_BROKERS=$KAFKA_BROKERS"
elif bash scripts/kafka/kafka.sh status >/dev/null 2>&1; then
  echo "the bundled broker is already running on 127.0.0.1:${PREEMPT_KAFKA_PORT:-9092}"
else
  bash scripts/kafka/kafka.sh up
  started_broker=1
fi
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:${PREEMPT_KAFKA_PORT:-9092}}"

echo "== 2. preempt serve --model $model, with the REST API"
# node itself in the background (not a shell function), so SIGTERM reaches it.
node bin/preempt.js --config "$out/config.json" serve --model "$model" --group "$id" --from-beginning \
  --api-port "${PREEMPT_DEMO_API_PORT:-0}" --no-progress 2>"$out/serve.log" &
serve=$!
echo "== 3. the fleet: simulate --kafka ${fleet[*]} --speed $speed"
preempt simulate --kafka "${fleet[@]}" --speed "$speed" --report "$out/with.json" \
  > >(tee "$out/with.txt") 2> >(sed -u 's/^/  [fleet]   /') &
sim=$!
# The API comes up once serve has joined its group (after the simulator created the topics).
url=""
for _ in $(seq 1 240); do
  url=$(sed -n 's/.*REST API on \(http[^ ]*\).*/\1/p' "$out/serve.log" | head -n 1)
  [ -n "$url" ] && break
  kill -0 "$serve" 2>/dev/null || { echo "demo: serve exited:" >&2; cat "$out/serve.log" >&2; exit 1; }
  sleep 0.5
done
[ -n "$url" ] || { echo "demo: the API did not come up (see $out/serve.log)" >&2; exit 1; }
echo "  [preempt] API on $url"
# Live progress from preempt's side, every 10 s.
node -e '
  const url = process.argv[1]
  const get = async (p) => (await fetch(url + p)).json()
  setInterval(async () => {
    try {
      const [pol, st, act] = await Promise.all([get("/v1/policy"), get("/v1/stats"), get("/v1/predictions?risk=act&limit=1")])
      const blocked = Object.entries(pol.counters?.blocked ?? {}).map(([g, n]) => g + " " + n).join(", ") || "none"
      const sent = Object.entries(st.commands.byAction).map(([a, n]) => a + " " + n).join(", ") || "none"
      const s = st.scorer
      console.log(`  [preempt] ${s.records.toLocaleString("en-US")} samples scored, ${pol.hosts.known} hosts, ${act.total} at risk now; commands sent: ${sent}; guard blocks (per score): ${blocked}`)
    } catch {}
  }, 10000)
' "$url" &
poller=$!
wait "$sim"
kill "$poller" 2>/dev/null || true
poller=""
sleep 3 # the last statuses reach the scorer
# The same fleet as preempt's API sees it (GET /v1/stats: the topics, not the simulator).
node -e '
  fetch(process.argv[1] + "/v1/stats").then((r) => r.json()).then((s) => {
    const h = (ms) => (ms === null ? "-" : (ms / 3600000).toFixed(1) + " h")
    const m = (ms) => (ms === null ? "-" : (ms / 60000).toFixed(1) + " min")
    console.log(`  [preempt] GET /v1/stats: ${s.failures} failures over ${Math.round(s.span.hostHours)} host-hours, MTBF ${h(s.mtbfMs)}, MTTR ${m(s.mttrMs)}, availability ${s.availability === null ? "-" : (s.availability * 100).toFixed(3) + " %"}; ${s.selfHealing.incidents} healed incidents, self-healing median ${m(s.selfHealing.selfHealingMs.median)} (detect ${m(s.selfHealing.detectMs.median)} + diagnose ${m(s.selfHealing.diagnoseMs.median)} + recover ${m(s.selfHealing.recoverMs.median)}); alert recall ${s.alerts.recall === null ? "-" : (s.alerts.recall * 100).toFixed(0) + " %"}, median lead ${m(s.alerts.leadTimeMs.median)}`)
  }).catch((e) => console.log("  [preempt] /v1/stats: " + e.message))
' "$url"

echo "== 4. the same fleet with no preempt"
preempt simulate --out "$out/bare" "${fleet[@]}" --no-progress --report "$out/without.json" >"$out/without.txt"
node -e '
  const [w, wo] = process.argv.slice(1).map((f) => JSON.parse(require("node:fs").readFileSync(f, "utf8")))
  const pred = (o) => o.incidents.filter((i) => i.predictable)
  const hm = (ms) => (ms === null ? "-" : (ms / 60000).toFixed(1) + " min")
  const row = (name, o) => `${name.padEnd(14)} outages ${String(o.outages).padStart(3)}, averted ${pred(o).filter((i) => i.averted).length}/${pred(o).length} predictable, unneeded actions ${o.actions.unnecessary}, availability ${(o.availability * 100).toFixed(3)} %, MTTR ${hm(o.mttrMs)}, self-healing median ${hm(o.selfHealing.medianMs)}`
  console.log(row("with preempt", w)); console.log(row("without", wo))
' "$out/with.json" "$out/without.json" | tee "$out/outcome.txt"

if [ "$keep" = 1 ]; then
  trap - EXIT
  cat <<EOF
== 5. left running (--keep): serve (pid $serve)$([ "$started_broker" = 1 ] && echo " and the broker")
  API:        $url   (OpenAPI: $url/docs)
  token:      $token
  try:
    curl -s '$url/v1/predictions?risk=watch&limit=5'
    curl -s '$url/v1/stats'
    curl -s '$url/v1/commands?limit=3'
    curl -s -X POST -H 'Authorization: Bearer $token' -H 'content-type: application/json' \\
         -d '{"on":true}' '$url/v1/policy/kill-switch'
  stop:       kill $serve$([ "$started_broker" = 1 ] && echo "; npm run kafka:down")
EOF
  exit 0
fi
echo "== 5. stopping"
kill -TERM "$serve"
if wait "$serve"; then echo "serve: exited 0 after SIGTERM"; else echo "serve: exited $? after SIGTERM"; fi
serve=""
grep -v '"level"' "$out/serve.log" | grep -v 'FSTDEP\|trace-warnings' | tail -n 1 || true
echo "reports: $out (with.json, without.json, serve.log)"
