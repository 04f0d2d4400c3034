# shellcheck shell=bash
# shellcheck disable=SC2153 # SERVICES is set by load_config (common.sh)
# Switching releases: cmd_start (launch this release's services), cmd_promote (make it the one
# serving: switch, drain the old instance, point `current`), cmd_discard (take back what a start
# launched). The worker runs start → health → [edge-apply → HTTPS check] → promote, and on a
# failure discard, then start --resume → health → [edge-apply] → promote in the previous
# release (slots in lib/slots.sh). Sourced by manage.sh; defines functions only.

# start [--resume]: launches every service of this release. The edge's service (with a spare
# port) starts beside its serving instance, in the other slot; every other service is stopped
# and started again on its port. --resume keeps the services already running from this release
# (a rollback to a release still half-running).
cmd_start() {
  local resume=false name rec port serving
  case ${1:-} in
    '') ;;
    --resume) resume=true ;;
    *) die 2 "start: unknown option '$1'; usage: ./manage.sh start [--resume]" ;;
  esac
  ensure_state_dirs
  load_app_env
  load_resource_env
  load_slots
  local -a plan=() keep=() entries=() launched=() watched=()
  # Decide, and refuse a busy port, before stopping anything: a refusal costs no downtime.
  for name in "${SERVICES[@]}"; do
    load_service "$name"
    serving=$(serving_record "$name")
    if $resume && record_runs_here "$serving"; then
      keep+=("$serving")
      continue
    fi
    rec=$name
    if [[ $name == "$ZD_SERVICE" ]] && service_pid "$serving" >/dev/null; then
      keep+=("$serving")
      rec=$(other_slot "$name" "$serving")
    fi
    port=$(slot_port "$rec")
    check_service_port "$name" "$port"
    plan+=("$name $rec $port")
  done
  # The rest goes: old instances of the services started again, what an interrupted start left,
  # services this release no longer has.
  for rec in $(recorded_services); do
    if ! in_list "$rec" "${keep[@]}"; then stop_service "$rec" || true; fi
  done
  for name in "${SERVICES[@]}"; do rm -f -- "$RUN/$name.pending"; done
  for entry in "${plan[@]}"; do
    read -r name rec port <<<"$entry"
    load_service "$name"
    if port_in_use "$port"; then
      die 3 "service $name: port $port is held by another process ($(describe_holders "$port")); free it or choose another port in manifest.ports"
    fi
    launch_service "$rec" "$port"
    write_private "$RUN/$name.pending" "$rec"
    launched+=("$rec")
    watched+=("$rec $port")
    say "service $name: started (pid $LAUNCHED_PID, port $port, log $LOGS/$name.log)"
    entries+=("$(json_obj name "$(json_str "$name")" record "$(json_str "$rec")" \
      pid "$(json_num "$LAUNCHED_PID")" port "$(json_num "$port")")")
  done
  # Catch commands that die at once (not found, syntax error) here rather than in `health`.
  watch_launched "${watched[@]}"
  for rec in "${launched[@]}"; do
    if ! service_pid "$rec" >/dev/null || record_crashed "$rec" >/dev/null; then
      name=${rec%.b}
      print_log_tail "$name"
      # its supervisor would go on restarting a command that cannot start
      stop_service "$rec" || true
      die 1 "service $name: exited right after starting (log above, in $LOGS/$name.log); fix SERVICE_START or the app"
    fi
  done
  result "$(json_obj services "[$(join_json "${entries[@]}")]")"
}

# Watches the instances start launched ("<record> <port>" each) until every one listens on its
# port (it is up; `health` checks it properly next), one of them is gone or has exited (the
# caller reports it), or 10 rounds 20 ms apart (≥ 0.2 s, what a fixed pause here used to be)
# have passed. A service that is fine costs the time it takes to listen, which `health` would
# wait for anyway. No forks but the sleep between rounds (read_tcp_inodes reads /proc).
watch_launched() {
  local i entry up
  for ((i = 0; i < 10; i++)); do
    up=true
    for entry in "$@"; do
      if ! service_pid "${entry% *}" >/dev/null || record_crashed "${entry% *}" >/dev/null; then
        return 0
      fi
      read_tcp_inodes 0A "${entry##* }"
      ((${#TCP_INODES[@]})) || up=false
    done
    if $up; then return 0; fi
    sleep 0.02
  done
}

# promote: this release serves. The edge's service switches to the instance start launched
# (edge-apply has routed to it already) and its old instance drains; `current` points here.
cmd_promote() {
  ensure_state_dirs
  load_slots
  local name rec old port
  local -a drained=()
  for name in "${SERVICES[@]}"; do
    rec=''
    read -r rec 2>/dev/null <"$RUN/$name.pending" || true
    rm -f -- "$RUN/$name.pending"
    [[ $name == "$ZD_SERVICE" && -n $rec ]] || continue
    old=$(serving_record "$name")
    write_private "$RUN/$name.serving" "$rec"
    # systemd mode: the boot starts the serving unit, not the one it replaces
    systemd_serve_record "$rec" "$old"
    if [[ $old != "$rec" ]] && service_pid "$old" >/dev/null; then
      port=$(service_info "$old" 2)
      say "service $name: draining $old (port $port, up to ${ZD_DRAIN_S}s)"
      drain_record "$old" "${port:-0}"
      drained+=("$old")
    fi
  done
  touch -- "$RELEASE_DIR/.promoted"
  point_current
  result "$(json_obj release "$(json_str "${RELEASE_DIR##*/}")" \
    drained "$(json_strs "${drained[@]}")")"
}

# discard [--all]: stops the instances start launched and promote did not switch to; --all
# also every service running from this release (before a rollback to another release).
cmd_discard() {
  local all=false name rec
  local -a stopped=()
  case ${1:-} in
    '') ;;
    --all) all=true ;;
    *) die 2 "discard: unknown option '$1'; usage: ./manage.sh discard [--all]" ;;
  esac
  ensure_state_dirs
  load_slots
  for name in "${SERVICES[@]}"; do
    rec=''
    read -r rec 2>/dev/null <"$RUN/$name.pending" || true
    rm -f -- "$RUN/$name.pending"
    if [[ -n $rec && $rec != "$(serving_record "$name")" ]] && stop_service "$rec"; then
      stopped+=("$rec")
    fi
  done
  if $all; then
    for rec in $(recorded_services); do
      if [[ $(service_info "$rec" 3) == "$RELEASE_DIR" ]] && stop_service "$rec"; then
        stopped+=("$rec")
      fi
    done
  fi
  result "$(json_obj stopped "$(json_strs "${stopped[@]}")")"
}
