# shellcheck shell=bash
# The redis resource: redis_pid, redis_start PORT, redis_stop; redis_prepare and redis_started.
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.

redis_pid() {
  local pid comm
  read -r pid 2>/dev/null <"$RES/redis/redis.pid" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  read -r comm 2>/dev/null <"/proc/$pid/comm" || return 1
  [[ $comm == redis-server* ]] || return 1
  proc_stat "$pid" && [[ $PS_STATE != Z ]] || return 1
  printf '%s\n' "$pid"
}

redis_start() {
  local port=$1 dir=$RES/redis pw server i
  server=$(command -v redis-server) ||
    die 1 "resource redis: redis-server is not installed; run ./manage.sh setup (Debian package: redis-server)"
  ensure_dir 700 "$dir/data"
  pw=$(resource_password redis)
  # The password goes in a 0600 file rather than argv, where `ps` would show it.
  write_private "$dir/redis.conf" "requirepass $pw"
  rm -f -- "$dir/redis.pid"
  say "resource redis: starting on 127.0.0.1:$port"
  # 9>&-: the server must not hold the lock (lib/lock.sh).
  "$server" "$dir/redis.conf" --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$dir/data" \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" </dev/null >>"$dir/redis-start.log" 2>&1 9>&- || {
    cat -- "$dir/redis-start.log" >&2
    tail -n 20 -- "$dir/redis.log" >&2
    die 1 "resource redis: redis-server failed to start (log above, in $dir/redis.log)"
  }
  for ((i = 0; i < 100; i++)); do
    if redis_pid >/dev/null && tcp_open "$port"; then break; fi
    sleep 0.1
  done
  if ! redis_pid >/dev/null || ! tcp_open "$port"; then
    tail -n 20 -- "$dir/redis.log" >&2
    die 1 "resource redis: not answering on port $port after 10s (log above, in $dir/redis.log)"
  fi
  redis_started "$port"
}

# systemd mode's part before the unit starts the server on port $1: the binary, data dir, password.
redis_prepare() {
  command -v redis-server >/dev/null ||
    die 1 "resource redis: redis-server is not installed; run ./manage.sh setup (Debian package: redis-server)"
  ensure_dir 700 "$RES/redis/data"
  resource_password redis >/dev/null
}

# Once the server on port $1 answers: its URL. An explicit user: `redis-cli -u` and ioredis both
# accept it (an empty one only some do).
redis_started() {
  write_private "$RES/redis/url" "redis://default:$(resource_password redis)@127.0.0.1:$1/0"
}

redis_stop() {
  local pid i
  pid=$(redis_pid) || return 1
  say "resource redis: stopping"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_GRACE_S * 10; i++)); do
    redis_pid >/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}
