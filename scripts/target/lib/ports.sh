# shellcheck shell=bash
# Ports: TCP reachability, listeners on a port and who holds it.
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.

# True when a TCP connection to 127.0.0.1:$1 succeeds within 2 s.
tcp_open() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# Sets TCP_INODES to the inodes of the TCP sockets in state $1 (hex as in /proc/net/tcp: 0A
# listening, 01 established) whose local port is $2 (any address), without a subshell. Each
# file is read in one go: a `read` loop on /proc/net/tcp makes the kernel walk the socket table
# once per line (≈ 0.8 s per call on a host with a few hundred sockets).
read_tcp_inodes() {
  local state=$1 hex f line
  local -a lines
  TCP_INODES=()
  printf -v hex '%04X' "$2"
  for f in /proc/net/tcp /proc/net/tcp6; do
    [[ -r $f ]] || continue
    mapfile -t lines <"$f"
    for line in "${lines[@]:1}"; do
      # fields: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
      # shellcheck disable=SC2086 # split on purpose
      set -- $line
      if [[ $4 == "$state" && ${2##*:} == "$hex" ]]; then TCP_INODES+=("${10}"); fi
    done
  done
}

# Prints the socket inodes listening on TCP port $1 (any address), one a line.
listen_inodes() {
  read_tcp_inodes 0A "$1"
  if ((${#TCP_INODES[@]})); then printf '%s\n' "${TCP_INODES[@]}"; fi
}

# True when anything listens on TCP port $1.
port_in_use() {
  read_tcp_inodes 0A "$1"
  ((${#TCP_INODES[@]})) || tcp_open "$1"
}

# Prints the pids of processes listening on TCP port $1 (only those this user may inspect),
# ascending, each once.
port_holder_pids() {
  local inode dir
  local -a expr=() dirs=() pids=()
  read_tcp_inodes 0A "$1"
  for inode in "${TCP_INODES[@]}"; do
    if ((${#expr[@]})); then expr+=(-o); fi
    expr+=(-lname "socket:\\[$inode\\]")
  done
  ((${#expr[@]})) || return 0
  # /proc/<pid>/fd of each match; the indices of a sparse array come out sorted and unique
  mapfile -t dirs < <(find /proc/[0-9]*/fd -maxdepth 1 \( "${expr[@]}" \) -printf '%h\n' 2>/dev/null || true)
  for dir in "${dirs[@]}"; do
    dir=${dir#/proc/}
    dir=${dir%/fd}
    if [[ $dir =~ ^[0-9]+$ ]]; then pids[dir]=1; fi
  done
  if ((${#pids[@]})); then printf '%s\n' "${!pids[@]}"; fi
}

# "pid 123 node, pid 456 nginx" for the holders of port $1, or a hint when none is visible.
describe_holders() {
  local pid comm text=''
  for pid in $(port_holder_pids "$1"); do
    comm='?'
    read -r comm 2>/dev/null <"/proc/$pid/comm" || true
    text+="${text:+, }pid $pid $comm"
  done
  printf '%s' "${text:-not visible to user $(id -un)}"
}
