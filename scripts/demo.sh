#!/usr/bin/env bash
# The demo (offline loop, until the streaming scorer lands): simulate a fleet whose failures
# sometimes announce themselves, train a model on it, and evaluate the model on a fleet it
# has never seen, beside a naive static-threshold baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${PREEMPT_DEMO_DIR:-.cache/demo}"
hosts="${PREEMPT_DEMO_HOSTS:-60}"
days="${PREEMPT_DEMO_DAYS:-2}"
preempt() { node bin/preempt.js "$@"; }

echo "== 1. simulate a training fleet ($hosts hosts, ${days} days) and a fresh one to evaluate on"
preempt simulate --hosts "$hosts" --duration "${days}d" --mtbf 4d --seed 1 --out "$out/train-fleet"
preempt simulate --hosts "$hosts" --duration "${days}d" --mtbf 4d --seed 2 --out "$out/eval-fleet"

echo "== 2. train: will a host fail within the next hour?"
preempt train --data "$out/train-fleet/metrics.csv.gz" --failures "$out/train-fleet/failures.csv" \
  --horizon 1h --lead 2m --epochs 12 --out "$out/models/fleet"

echo "== 3. evaluate on the unseen fleet, beside the naive baseline"
preempt evaluate --model "$out/models/fleet" --data "$out/eval-fleet/metrics.csv.gz" \
  --failures "$out/eval-fleet/failures.csv" --out "$out/evaluation"

echo "== 4. score it (host,timestamp,score,alert)"
preempt score --model "$out/models/fleet" --data "$out/eval-fleet/metrics.csv.gz" --out "$out/scores.csv"
head -n 4 "$out/scores.csv"
echo
echo "Reports: $out/models/fleet/report.html (test split) and $out/evaluation/report.html (unseen fleet)"
