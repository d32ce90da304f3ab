#!/usr/bin/env bash
# `make run`: Tastemaker workers with their web servers, and a local Kafka when no broker is configured.
# TASTEMAKER_WORKERS=N (default 1) starts N workers in one consumer group: worker i (0..N-1) serves on
# TASTEMAKER_WEB_PORT + i and keeps its state under TASTEMAKER_DATA_DIR/worker-i (var/data when N is 1).
# Ctrl-C stops the workers and the Kafka this script started (a broker you configured is left alone).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv=.venv/bin
started_kafka=""
worker_pids=()

cleanup() {
  trap '' INT TERM  # a second Ctrl-C must not skip stopping the broker
  trap - EXIT
  for pid in "${worker_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${worker_pids[@]}"; do
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ -n "$started_kafka" ]; then infra/kafka/kafka.sh stop; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${TASTEMAKER_BROKER:-}" ]; then
  export KAFKA_PORT=${KAFKA_PORT:-9092}
  if ! infra/kafka/kafka.sh status >/dev/null 2>&1; then started_kafka=1; fi
  infra/kafka/kafka.sh start
  export TASTEMAKER_BROKER="kafka://127.0.0.1:$KAFKA_PORT"
fi
# A development write key for the collector, so events can be sent at once (README). Never use it in production.
export TASTEMAKER_WRITE_KEYS=${TASTEMAKER_WRITE_KEYS:-dev-write-key=development}
# Likewise development secrets (app/web/auth.py): admin and read tokens, the peer token workers forward with,
# and the secret visitor tokens are signed with (`faust -A app visitor-token ID`). Never use them in production.
export TASTEMAKER_ADMIN_TOKENS=${TASTEMAKER_ADMIN_TOKENS:-dev-admin-token-local}
export TASTEMAKER_READ_TOKENS=${TASTEMAKER_READ_TOKENS:-dev-read-token-local}
export TASTEMAKER_PEER_TOKEN=${TASTEMAKER_PEER_TOKEN:-dev-peer-token-local}
export TASTEMAKER_VISITOR_SECRETS=${TASTEMAKER_VISITOR_SECRETS:-dev-visitor-secret-local}
web_port=${TASTEMAKER_WEB_PORT:-6066}
web_host=${TASTEMAKER_WEB_HOST:-127.0.0.1}
workers=${TASTEMAKER_WORKERS:-1}
case "$workers" in ''|*[!0-9]*|0) echo "TASTEMAKER_WORKERS=$workers: a number of workers, at least 1" >&2; exit 2;; esac
data_dir=${TASTEMAKER_DATA_DIR:-var/data}

for i in $(seq 0 $((workers - 1))); do
  if [ "$workers" -gt 1 ]; then dir="$data_dir/worker-$i"; else dir="$data_dir"; fi
  TASTEMAKER_WEB_PORT=$((web_port + i)) TASTEMAKER_WEB_HOST=$web_host TASTEMAKER_DATA_DIR=$dir \
    "$venv/faust" -A app worker -l info &
  worker_pids+=($!)
done
if [ "$workers" -gt 1 ]; then
  echo "  $workers workers: http://$web_host:$web_port ... http://$web_host:$((web_port + workers - 1)) (any answers for any user)"
fi

# Print the URLs once the first worker serves (GET /health answers 200).
for _ in $(seq 240); do
  for pid in "${worker_pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; exit $?; fi
  done
  if curl -fsS -o /dev/null "http://$web_host:$web_port/health" 2>/dev/null; then
    cat <<MSG

  Tastemaker is running.
    broker         $TASTEMAKER_BROKER
    health         http://$web_host:$web_port/health
    collector      http://$web_host:$web_port/v1/track (and /v1/page, /v1/identify, /v1/batch, ...)
    profiles       http://$web_host:$web_port/profiles/{user_id}   (Authorization: Bearer \$TASTEMAKER_READ_TOKENS)
    rules          http://$web_host:$web_port/rules                (Authorization: Bearer \$TASTEMAKER_ADMIN_TOKENS)
    decisions      http://$web_host:$web_port/decisions/{user_id}/stream?access_token=\$(faust -A app visitor-token {user_id})
  Try: curl -u dev-write-key: -H 'Content-Type: application/json' \\
         -d '{"userId":"alice","event":"Product Viewed"}' http://$web_host:$web_port/v1/track
       curl -H "Authorization: Bearer \$TASTEMAKER_READ_TOKENS" http://$web_host:$web_port/profiles/alice
         (the tokens' development values are at the top of scripts/run.sh)
  Ctrl-C stops everything started here.

MSG
    break
  fi
  sleep 0.5
done
curl -fsS -o /dev/null "http://$web_host:$web_port/health" 2>/dev/null ||
  echo "The worker is not healthy after 120 s: see http://$web_host:$web_port/health and its log above." >&2
wait -n "${worker_pids[@]}"  # the first worker to stop stops them all (cleanup)
