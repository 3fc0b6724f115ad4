#!/usr/bin/env bash
# Starts Sluice's back end alone: an ephemeral PostgreSQL 15 cluster in
# .stack/, then the gateway (127.0.0.1:54321), the demo agent
# (127.0.0.1:54330) and the event generator. Ctrl-C (or SIGTERM) stops it all
# and removes the cluster. Settings: see `sluice-stack --help` (each flag has
# an SLUICE_* environment variable) and docs/local-stack.md.
# SLUICE_STACK_PROFILE=release builds the stack optimised (bench, soak).
#
#   scripts/backend.sh            # in the foreground
#   scripts/backend.sh --detach   # in the background; returns once it is ready
#   scripts/backend.sh --stop     # stops a detached back end
#   scripts/backend.sh --restart-stack  # restarts sluice-stack, keeping the database
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

PG_BIN=/usr/lib/postgresql/15/bin
STACK_DIR="$ROOT/.stack"
PGDATA="$STACK_DIR/pgdata"
PIDFILE="$STACK_DIR/backend.pid"
LOGFILE="$STACK_DIR/backend.log"

if [[ ${1:-} == --stop ]]; then
  if [[ -f $PIDFILE ]]; then
    pid=$(cat "$PIDFILE")
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  exit 0
fi

if [[ ${1:-} == --restart-stack ]]; then
  kill -HUP "$(cat "$PIDFILE")"
  exit 0
fi

if [[ ${1:-} == --detach ]]; then
  shift
  mkdir -p "$STACK_DIR"
  if [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    log "back end already running (pid $(cat "$PIDFILE"))"
    exit 0
  fi
  setsid "$0" "$@" >"$LOGFILE" 2>&1 < /dev/null &
  pid=$!
  echo "$pid" >"$PIDFILE"
  for _ in $(seq 1 600); do
    if grep -q "sluice-stack ready" "$LOGFILE" 2>/dev/null; then
      log "back end ready (pid $pid, log $LOGFILE)"
      exit 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  log "back end failed to start; its log:"
  cat "$LOGFILE" >&2
  exit 1
fi

# Run as the postgres user when we are root (initdb refuses root).
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Benchmarks and the soak build the stack in release, so that the gateway and
# the demo agent are not what they measure.
if [[ ${SLUICE_STACK_PROFILE:-debug} == release ]]; then
  log "building sluice-stack (release)"
  cargo build --quiet --locked --release -p localstack
  STACK_BIN="$ROOT/target/release/sluice-stack"
else
  log "building sluice-stack"
  cargo build --quiet --locked -p localstack
  STACK_BIN="$ROOT/target/debug/sluice-stack"
fi

stack_pid=""
cleanup() {
  trap - EXIT INT TERM
  [[ -n $stack_pid ]] && kill "$stack_pid" 2>/dev/null && wait "$stack_pid" 2>/dev/null
  if [[ -f $PGDATA/postmaster.pid ]]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PGDATA" "$PIDFILE"
  log "back end stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A fresh cluster every time: the stack is ephemeral by design.
if [[ -f $PGDATA/postmaster.pid ]]; then
  as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
fi
rm -rf "$PGDATA"
mkdir -p "$PGDATA"
[[ $(id -u) == 0 ]] && chown postgres: "$STACK_DIR" "$PGDATA"
PG_PORT=$(free_port)
log "starting PostgreSQL 15 on 127.0.0.1:$PG_PORT"
as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -o "-p $PG_PORT -k $PGDATA -c listen_addresses=127.0.0.1 -c fsync=off -c timezone=UTC" start >/dev/null
as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres sluice

export SLUICE_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/sluice"
# SIGHUP restarts the stack on the same database, as a gateway restart would.
restart=0
trap 'restart=1; kill "$stack_pid" 2>/dev/null' HUP
while true; do
  "$STACK_BIN" "$@" &
  stack_pid=$!
  set +e
  wait "$stack_pid"
  status=$?
  set -e
  if [[ $restart == 1 ]]; then
    wait "$stack_pid" 2>/dev/null || true
    restart=0
    log "restarting sluice-stack"
    continue
  fi
  exit "$status"
done
