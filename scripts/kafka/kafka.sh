#!/usr/bin/env bash
# Provision, start, stop and inspect a single-node Apache Kafka broker (KRaft, combined
# broker+controller) on 127.0.0.1 for tests, the demo and benchmarks.
#
#   kafka.sh provision        resolve the broker's jars with mvn into the cache (reused)
#   kafka.sh up [--watch-pid PID]
#                             provision, format fresh storage, start, wait until a topic
#                             can be created, write the pid file. With --watch-pid the
#                             broker is stopped as soon as PID exits (a crashed caller
#                             leaves nothing behind).
#   kafka.sh down             stop it (SIGTERM, then SIGKILL after a deadline)
#   kafka.sh status           say whether it runs and where
#   kafka.sh logs             print the tail of the broker log
#
# Environment (all optional):
#   KAFKA_BROKERS                  use this existing cluster: up/down do nothing but check it
#   PREEMPT_KAFKA_VERSION          Apache Kafka version from Maven Central (default 4.1.1)
#   PREEMPT_KAFKA_PORT             client port (default 9092)
#   PREEMPT_KAFKA_CONTROLLER_PORT  KRaft controller port (default: client port + 1)
#   PREEMPT_KAFKA_CACHE            jar cache (default <repo>/.cache/kafka)
#   PREEMPT_KAFKA_RUN_DIR          data, logs and pid file (default <cache>/run-<port>)
#   PREEMPT_KAFKA_HEAP             JVM heap (default 1g)
#   PREEMPT_KAFKA_START_TIMEOUT_S  seconds to wait for readiness (default 120)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
version="${PREEMPT_KAFKA_VERSION:-4.1.1}"
port="${PREEMPT_KAFKA_PORT:-9092}"
cport="${PREEMPT_KAFKA_CONTROLLER_PORT:-$((port + 1))}"
cache="${PREEMPT_KAFKA_CACHE:-$repo/.cache/kafka}"
libs="$cache/$version/libs"
run="${PREEMPT_KAFKA_RUN_DIR:-$cache/run-$port}"
pidfile="$run/broker.pid"
heap="${PREEMPT_KAFKA_HEAP:-1g}"
timeout_s="${PREEMPT_KAFKA_START_TIMEOUT_S:-120}"
# Marks our broker's command line so that `down` never kills an unrelated process that
# happens to reuse a stale pid.
marker="-Dpreempt.kafka.run=$run"

say() { printf 'kafka: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not on PATH. $2"
}

is_ours() { # pid -> 0 when it is a live broker started from this run dir
  local pid="$1"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker"
}

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  if is_ours "$pid"; then echo "$pid"; return 0; fi
  return 1
}

provision() {
  if [ -f "$libs/.complete" ]; then return 0; fi
  need java "Install a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless), or set KAFKA_BROKERS to an existing cluster."
  need mvn "Install Maven (e.g. apt-get install maven), or set KAFKA_BROKERS to an existing cluster."
  say "provisioning Apache Kafka $version from Maven Central into $libs"
  rm -rf "$libs.tmp"
  mkdir -p "$libs.tmp"
  if ! mvn -B -q -f "$here/pom.xml" -Dkafka.version="$version" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs.tmp" >&2; then
    rm -rf "$libs.tmp"
    die "mvn could not resolve org.apache.kafka:kafka_2.13:$version. Check the network to Maven Central, or pick another version with PREEMPT_KAFKA_VERSION."
  fi
  ls "$libs.tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "kafka_2.13 jar missing after mvn in $libs.tmp"
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  touch "$libs/.complete"
  say "provisioned $(ls "$libs" | wc -l) jars"
}

port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

jvm=(java -Xms256m "-Xmx$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$here/log4j2.properties" "-Dkafka.logs.dir=$run" "$marker" -cp "$libs/*")
java_cmd() { "${jvm[@]}" "$@"; } # main class and args follow

write_config() {
  cat >"$run/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$run/data
num.partitions=1
auto.create.topics.enable=true
# Single node: the internal topics the transactional path needs must fit on one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=67108864
EOF
}

watchdog() { # stop the broker when $1 exits
  local owner="$1" pid="$2"
  (
    trap '' HUP
    while kill -0 "$owner" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done
    if is_ours "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  ) </dev/null >/dev/null 2>&1 &
  disown || true
}

up() {
  local watch="" keep=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --watch-pid) watch="${2:-}"; shift 2 ;;
      --keep-data) keep=1; shift ;;
      *) die "unknown option $1 (usage: kafka.sh up [--watch-pid PID] [--keep-data])" ;;
    esac
  done
  if [ -n "${KAFKA_BROKERS:-}" ]; then
    say "KAFKA_BROKERS=$KAFKA_BROKERS: using that cluster, not starting one"
    node "$here/wait-ready.mjs" "$KAFKA_BROKERS" "$timeout_s"
    return
  fi
  if pid="$(running_pid)"; then
    say "already running (pid $pid) on 127.0.0.1:$port"
    [ -n "$watch" ] && watchdog "$watch" "$pid"
    return 0
  fi
  if port_busy "$port"; then die "port $port is in use by another process. Stop it, or pick another with PREEMPT_KAFKA_PORT."; fi
  if port_busy "$cport"; then die "controller port $cport is in use. Pick another with PREEMPT_KAFKA_CONTROLLER_PORT."; fi
  provision
  need java "Install a Java 17+ runtime."
  if [ -n "$keep" ] && [ -f "$run/data/meta.properties" ]; then
    # A restart: the same storage, topics and offsets as before `down`.
    write_config
  else
    rm -rf "$run"
    mkdir -p "$run/data"
    write_config
    local cluster
    cluster="$(java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    java_cmd kafka.tools.StorageTool format -t "$cluster" -c "$run/server.properties" >"$run/format.log" 2>&1 ||
      { cat "$run/format.log" >&2; die "formatting KRaft storage failed (log above)"; }
  fi
  say "starting Apache Kafka $version on 127.0.0.1:$port (controller $cport, data $run)"
  # setsid: the broker must not receive the caller's terminal signals; it is stopped by
  # `down` or by the watchdog, never half-killed by a Ctrl-C meant for something else.
  setsid "${jvm[@]}" kafka.Kafka "$run/server.properties" </dev/null >"$run/stdout.log" 2>&1 &
  local pid=$!
  sleep 0.3
  # setsid forks when it is a process-group leader; then $! is not the JVM.
  is_ours "$pid" || pid="$(pgrep -f -- "$marker" | head -n 1 || true)"
  [ -n "$pid" ] || { cat "$run/stdout.log" >&2; die "the broker exited at once (log above)"; }
  echo "$pid" >"$pidfile"
  [ -n "$watch" ] && watchdog "$watch" "$pid"
  if ! node "$here/wait-ready.mjs" "127.0.0.1:$port" "$timeout_s"; then
    tail -n 40 "$run/stdout.log" "$run/server.log" >&2 2>/dev/null || true
    down
    die "the broker did not become ready within ${timeout_s}s (logs above)"
  fi
  say "ready: KAFKA_BROKERS=127.0.0.1:$port (pid $pid)"
}

down() {
  if [ -n "${KAFKA_BROKERS:-}" ] && [ ! -f "$pidfile" ]; then
    say "KAFKA_BROKERS is set: nothing of ours to stop"
    return 0
  fi
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$pidfile"
    say "not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "broker did not stop within 30s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
  say "stopped (pid $pid)"
}

status() {
  if [ -n "${KAFKA_BROKERS:-}" ]; then
    say "using KAFKA_BROKERS=$KAFKA_BROKERS"
    return 0
  fi
  local pid
  if pid="$(running_pid)"; then
    say "running: pid $pid, KAFKA_BROKERS=127.0.0.1:$port, data $run"
    return 0
  fi
  say "not running"
  return 3
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  provision) provision ;;
  up) up "$@" ;;
  down) down ;;
  status) status ;;
  logs) tail -n "${1:-100}" "$run/server.log" ;;
  restart) down; up --keep-data "$@" ;;
  *) echo "usage: kafka.sh provision|up [--watch-pid PID] [--keep-data]|restart|down|status|logs [N]" >&2; exit 2 ;;
esac
