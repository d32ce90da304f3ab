#!/usr/bin/env bash
# A local, single-node Apache Kafka broker in KRaft mode (broker and controller in one JVM), no Docker.
#
#   infra/kafka/kafka.sh fetch            copy the pinned broker jars from Maven Central into the cache
#   infra/kafka/kafka.sh start            fetch, format storage once, start, wait until it serves
#   infra/kafka/kafka.sh stop             stop it (SIGTERM, then SIGKILL after 30 s)
#   infra/kafka/kafka.sh status           exit 0 when it is running
#
# Environment (defaults in brackets):
#   KAFKA_PORT [9092]                 client listener on 127.0.0.1
#   KAFKA_CONTROLLER_PORT [KAFKA_PORT+1000]
#   KAFKA_STATE_DIR [.run/kafka-$KAFKA_PORT]   data, config, pid file and the broker log (server.log)
#   KAFKA_CACHE_DIR [.cache/kafka]    where the jars are cached, per version
#   KAFKA_HEAP_OPTS [-Xms256m -Xmx768m]
#   KAFKA_START_TIMEOUT [90]          seconds to wait for the broker to serve
#
# Topics are never created by the broker (auto.create.topics.enable=false): Tastemaker declares each one.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

# Keep in step with <kafka.version> in pom.xml.
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1000))}
KAFKA_STATE_DIR=${KAFKA_STATE_DIR:-$repo/.run/kafka-$KAFKA_PORT}
KAFKA_CACHE_DIR=${KAFKA_CACHE_DIR:-$repo/.cache/kafka}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}

libs="$KAFKA_CACHE_DIR/$KAFKA_VERSION/libs"
pid_file="$KAFKA_STATE_DIR/kafka.pid"
log_file="$KAFKA_STATE_DIR/server.log"
config="$KAFKA_STATE_DIR/server.properties"

say() { echo "kafka: $*" >&2; }

fetch() {
  if [ -f "$libs/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || { say "Maven (mvn) is needed to fetch the broker jars"; exit 1; }
  command -v java >/dev/null || { say "Java 17+ is needed to run the broker"; exit 1; }
  say "fetching Apache Kafka $KAFKA_VERSION from Maven Central into $libs"
  rm -rf "$libs" && mkdir -p "$libs"
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$libs" -DincludeScope=runtime >&2
  touch "$libs/.complete"
}

running() {
  [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

java_cmd() {
  # shellcheck disable=SC2206 # KAFKA_HEAP_OPTS holds several flags
  java_argv=(java $KAFKA_HEAP_OPTS -XX:+UseG1GC -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$here/log4j2.properties" -cp "$libs/*" "$@")
}

java_run() { java_cmd "$@"; "${java_argv[@]}"; }

write_config() {
  mkdir -p "$KAFKA_STATE_DIR/data"
  cat >"$config" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_STATE_DIR/data
auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# A lone local broker: let the first consumer group form at once instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0
# Let tests and local runs use a short consumer session (Faust's default is 60 s).
group.min.session.timeout.ms=1000
EOF
}

start() {
  if running; then say "already running on 127.0.0.1:$KAFKA_PORT (pid $(cat "$pid_file"))"; return 0; fi
  fetch
  write_config
  if [ ! -f "$KAFKA_STATE_DIR/data/meta.properties" ]; then
    java_run kafka.tools.StorageTool format -t "$(java_run kafka.tools.StorageTool random-uuid)" \
      -c "$config" >>"$log_file" 2>&1
  fi
  say "starting Apache Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (log: $log_file)"
  : >>"$log_file"
  local start_line
  start_line=$(wc -l <"$log_file")
  # setsid: the broker must not receive the Ctrl-C meant for a foreground worker; kafka.sh stop ends it.
  java_cmd kafka.Kafka "$config"
  setsid "${java_argv[@]}" >>"$log_file" 2>&1 </dev/null &
  echo $! >"$pid_file"
  local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  until grep -q "Kafka Server started" < <(tail -n +"$((start_line + 1))" "$log_file"); do
    if ! running; then say "the broker exited; last lines of $log_file:"; tail -n 30 "$log_file" >&2; exit 1; fi
    if [ "$SECONDS" -ge "$deadline" ]; then say "not ready after ${KAFKA_START_TIMEOUT}s; see $log_file"; stop; exit 1; fi
    sleep 0.5
  done
  say "ready: kafka://127.0.0.1:$KAFKA_PORT"
}

stop() {
  if ! running; then rm -f "$pid_file"; return 0; fi
  local pid
  pid=$(cat "$pid_file")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then say "still running after 30 s: SIGKILL"; kill -KILL "$pid" || true; fi
  rm -f "$pid_file"
  say "stopped"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running (pid $(cat "$pid_file"))"; else echo "stopped"; exit 1; fi ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
