# shellcheck shell=bash
# The postgres resource: postgres_pid, postgres_start PORT (postgres_prepare, the server,
# postgres_started), postgres_stop.
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.

PG_DIR() { printf '%s' "$RES/postgres"; }

# Debian's server binaries: the data's major version, else pg_config's, else the newest.
pg_bindir() {
  local v
  if [[ -f $(PG_DIR)/data/PG_VERSION ]]; then
    read -r v <"$(PG_DIR)/data/PG_VERSION"
    if [[ -x /usr/lib/postgresql/$v/bin/postgres ]]; then
      printf '%s\n' "/usr/lib/postgresql/$v/bin"
      return
    fi
  fi
  pg_installed_bindir && return
  die 1 "resource postgres: no PostgreSQL server binaries found; run ./manage.sh setup (Debian package: postgresql)"
}

# Runs a command as the postgres user when we are root (initdb and postgres refuse root).
as_pg() {
  if ((EUID == 0)); then
    (cd -- "$(PG_DIR)" && runuser -u postgres -- "$@")
  else
    (cd -- "$(PG_DIR)" && "$@")
  fi
}

postgres_pid() {
  local data pid comm
  data=$(PG_DIR)/data
  read -r pid 2>/dev/null <"$data/postmaster.pid" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  read -r comm 2>/dev/null <"/proc/$pid/comm" || return 1
  [[ $comm == postgres || $comm == postmaster ]] || return 1
  proc_stat "$pid" && [[ $PS_STATE != Z ]] || return 1
  printf '%s\n' "$pid"
}

# As root: hand the data to the postgres user and make sure it can reach it.
pg_prepare_owner() {
  local dir p
  dir=$(PG_DIR)
  ((EUID == 0)) || return 0
  chown postgres: -- "$dir/data" "$dir/postgres.log"
  chmod o+x -- "$HOME_DIR"
  if ! runuser -u postgres -- test -w "$dir/data"; then
    # Name the outermost directory the postgres user cannot enter.
    local part
    local -a parts
    IFS=/ read -r -a parts <<<"${dir#/}"
    p=''
    for part in "${parts[@]}"; do
      p+=/$part
      runuser -u postgres -- test -x "$p" || break
    done
    die 1 "resource postgres: the postgres user cannot reach $dir (blocked at $p, mode $(stat -c %a -- "$p")); run: chmod o+x $p, or use a workdir outside it"
  fi
}

# Settings that may change between starts live in an included file we own.
pg_write_settings() {
  local port=$1 data sock
  data=$(PG_DIR)/data sock=$(PG_DIR)/socket
  # A unix socket path is limited to ~107 bytes; without one, everything goes over TCP.
  if ((${#sock} > 90)); then sock=''; fi
  printf "port = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n" \
    "$port" "${sock//\'/\'\'}" >"$data/stagecoach.conf"
  if ((EUID == 0)); then chown postgres: -- "$data/stagecoach.conf"; fi
}

pg_init() {
  local bindir=$1 data pwfile
  data=$(PG_DIR)/data pwfile=$(PG_DIR)/initdb.pw
  say "resource postgres: initialising $data"
  (umask 077 && resource_password postgres >"$pwfile")
  if ((EUID == 0)); then chown postgres: -- "$pwfile"; fi
  if ! as_pg "$bindir/initdb" -D "$data" -A scram-sha-256 -U stagecoach --pwfile="$pwfile" \
    -E UTF8 --locale=C >"$(PG_DIR)/initdb.log" 2>&1; then
    rm -f -- "$pwfile"
    tail -n 20 -- "$(PG_DIR)/initdb.log" >&2
    die 1 "resource postgres: initdb failed (output above, in $(PG_DIR)/initdb.log); fix it, remove $data and retry"
  fi
  rm -f -- "$pwfile"
  printf "include_if_exists = 'stagecoach.conf'\n" >>"$data/postgresql.conf"
}

postgres_start() {
  local port=$1 dir bindir
  dir=$(PG_DIR)
  bindir=$(pg_bindir)
  postgres_prepare "$port"
  say "resource postgres: starting on 127.0.0.1:$port"
  # 9>&-: the server must not hold the lock (lib/lock.sh).
  if ! as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null 9>&-; then
    tail -n 20 -- "$dir/postgres.log" >&2
    die 1 "resource postgres: the server did not start (log above, in $dir/postgres.log)"
  fi
  postgres_started "$port" "$bindir"
}

# What a start on port $1 needs before the server runs: directories, the password, the data
# handed to the postgres user, a first-time initdb, the settings; no stale postmaster.pid.
postgres_prepare() {
  local port=$1 dir bindir
  dir=$(PG_DIR)
  bindir=$(pg_bindir)
  ensure_dir 700 "$dir/data"
  ensure_dir 700 "$dir/socket"
  touch -- "$dir/postgres.log"
  if [[ -f $dir/data/PG_VERSION && ! -s $dir/password ]]; then
    die 1 "resource postgres: $dir/data exists but its password file is gone; restore $dir/password or remove the data dir (deletes the data)"
  fi
  resource_password postgres >/dev/null
  pg_prepare_owner
  if ((EUID == 0)); then chown postgres: -- "$dir/socket"; fi
  if [[ ! -f $dir/data/PG_VERSION ]]; then pg_init "$bindir"; fi
  pg_write_settings "$port"
  # A postmaster.pid left by a killed server would block the start; ours is known dead here.
  rm -f -- "$dir/data/postmaster.pid"
}

# What follows a start on port $1 once the server accepts connections: the app database, the URL
# (psql from bindir $2, else pg_bindir's).
postgres_started() {
  local port=$1 bindir=${2:-} pw
  [[ -n $bindir ]] || bindir=$(pg_bindir)
  pw=$(resource_password postgres)
  pg_ensure_database "$bindir" "$port" "$pw"
  write_private "$(PG_DIR)/url" "postgresql://stagecoach:$pw@127.0.0.1:$port/app"
}

pg_ensure_database() {
  local bindir=$1 port=$2 pw=$3 psql exists
  psql=$bindir/psql
  [[ -x $psql ]] || psql=psql
  exists=$(PGPASSWORD=$pw "$psql" -h 127.0.0.1 -p "$port" -U stagecoach -d postgres -XtAq \
    -c "SELECT 1 FROM pg_database WHERE datname = 'app'") ||
    die 1 "resource postgres: cannot connect as stagecoach on port $port; see $(PG_DIR)/postgres.log"
  if [[ $exists != 1 ]]; then
    say "resource postgres: creating database app"
    PGPASSWORD=$pw "$psql" -h 127.0.0.1 -p "$port" -U stagecoach -d postgres -Xq \
      -c 'CREATE DATABASE app' || die 1 "resource postgres: could not create database app"
  fi
}

postgres_stop() {
  local bindir
  postgres_pid >/dev/null || return 1
  say "resource postgres: stopping"
  bindir=$(pg_bindir) || exit 1 # pg_bindir said why
  as_pg "$bindir/pg_ctl" -D "$(PG_DIR)/data" -m fast -w -t 60 stop >/dev/null ||
    die 1 "resource postgres: pg_ctl stop failed; see $(PG_DIR)/postgres.log"
}
