#!/usr/bin/env bash
# The closed loop on a real broker with a model of your own: the demo's loop (serve with
# the API + simulate --kafka side by side, then the same fleet with no scorer).
#
#   KAFKA_BROKERS=127.0.0.1:9092 scripts/e2e.sh MODEL_DIR [simulate fleet flags…]
#
# Default fleet: --hosts 100 --duration 1d --interval 10s --mtbf 4d --seed 123.
# PREEMPT_E2E_SPEED sets --speed (default 900).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
model="$1"; shift
exec bash scripts/demo.sh --model "$model" --speed "${PREEMPT_E2E_SPEED:-900}" -- "$@"
