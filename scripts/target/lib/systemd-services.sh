# shellcheck shell=bash
# systemd mode for services (docs/target-layout.md, "systemd mode"): where systemd_usable holds,
# each service record (lib/slots.sh) runs as its generated unit, which systemd restarts and boots,
# instead of under supervise.sh. launch_service, stop_service, recorded_services, record_crashed,
# load_supervision and cmd_promote call in here; resources: lib/systemd-resources.sh.
# A record launched as a unit has state/run/<record>.unit (the unit's name) beside its .pid,
# .info and .release link; a record without it is a detached one, whatever the mode.
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.

# systemd_usable's answer for this manage.sh run (true|false), asked once by systemd_mode_init:
# the commands below run on every deploy and in $(…) subshells, which could not cache it.
SYSTEMD_MODE=false

# Sets SYSTEMD_MODE (and SYSTEMD_INSTANCE, this workdir's unit instance). Without systemd it
# costs one directory test (systemd_usable's first), no fork.
systemd_mode_init() {
  SYSTEMD_MODE=false
  systemd_usable || return 0
  # shellcheck disable=SC2034 # read by systemd_instance (systemd.sh)
  SYSTEMD_INSTANCE=$(systemd_instance)
  SYSTEMD_MODE=true
}

# True when record $1 runs as a systemd unit (systemd mode, and launched as one); sets UNIT.
unit_record() {
  [[ ${SYSTEMD_MODE:-} == true ]] || return 1
  UNIT=''
  read -r UNIT 2>/dev/null <"$RUN/$1.unit" || return 1
  [[ $UNIT =~ ^stagecoach-[a-z0-9_.-]+@[A-Za-z0-9_.\\-]+\.service$ ]]
}

# Starts record $1 (of the service load_service loaded) on port $2 as its unit: records the port
# and release in .info and the .release link (what exec-service reads), installs the unit's
# template, enables and (re)starts it. systemd runs `manage.sh exec-service`, which records its
# pid; this records it too (the unit's MainPID), so the check right after start sees it at once.
systemd_launch_record() {
  local rec=$1 port=$2 template unit pid=0
  template=stagecoach-$STAGECOACH_SCENARIO-$rec@.service
  unit=$(systemd_unit "$template")
  rm -f -- "$RUN/$rec.sup" "$RUN/$rec.pid"
  write_private "$RUN/$rec.info" "0 $port $RELEASE_DIR"
  write_private "$RUN/$rec.unit" "$unit"
  systemd_link_record "$rec"
  systemd_install "$template"
  systemd_enable "$unit"
  systemd_restart "$unit" ||
    die 1 "service $SERVICE_NAME: systemctl restart $unit failed; see: journalctl -u $unit"
  pid=$(systemctl show -p MainPID --value -- "$unit") || pid=0
  [[ $pid =~ ^[0-9]+$ ]] || pid=0
  if ((pid > 0)) && proc_stat "$pid"; then
    write_private "$RUN/$rec.pid" "$pid"
    write_private "$RUN/$rec.info" "$PS_START $port $RELEASE_DIR"
  fi
  # shellcheck disable=SC2034 # read by cmd_start (release-commands.sh)
  LAUNCHED_PID=$pid
}

# Stops and disables record $1's unit (systemd: TERM, KILL after TimeoutStopSec), so neither a
# restart nor the next boot brings it back. True when the unit was active.
systemd_stop_record() {
  local rec=$1 was=false
  unit_record "$rec" || return 1
  if systemd_is_active "$UNIT"; then
    was=true
    say "service $rec: stopping unit $UNIT"
  fi
  systemd_disable "$UNIT" || say "service $rec: warning: could not disable $UNIT"
  # a failure leaves its process to stop_service's TERM/KILL of the group
  systemd_stop "$UNIT" || say "service $rec: warning: systemctl stop $UNIT failed"
  $was
}

# promote in systemd mode: the boot starts serving record $1, not $2 (the slot it replaces).
systemd_serve_record() {
  [[ ${SYSTEMD_MODE:-} == true ]] || return 0
  if unit_record "$1"; then systemd_enable "$UNIT"; fi
  if [[ $2 != "$1" ]] && unit_record "$2"; then systemd_disable "$UNIT"; fi
}

# Names of the records launched as units that have no pid file (exec-service never got to write
# one); recorded_services lists them too, so stop and start reach their units.
unit_records_without_pid() {
  local f
  [[ ${SYSTEMD_MODE:-} == true ]] || return 0
  for f in "$RUN"/*.unit; do
    [[ -f $f && ! -e ${f%.unit}.pid ]] || continue
    f=${f##*/}
    printf '%s\n' "${f%.unit}"
  done
}

# Sets SUP_STATE SUP_RESTARTS SUP_LAST_EXIT SUP_LAST_EXIT_AT SUP_SINCE (as read_sup does for a
# supervisor) and UNIT_ACTIVE UNIT_RESULT from unit $UNIT (unit_record): state running (active,
# or starting), backoff (exited, systemd waits to restart it) or down (failed: its start limit;
# or stopped); restarts is NRestarts; last_exit ExecMainStatus (128+N for signal N, as a shell
# says), known while the unit waits or is down (systemd clears it when it starts the process
# again); since: when the process started, the wait began, or the unit went down.
load_unit_supervision() {
  local key value sub='' restarts='' code='' status='' exited='' entered='' left=''
  UNIT_ACTIVE='' UNIT_RESULT=''
  while IFS='=' read -r key value; do
    case $key in
      ActiveState) UNIT_ACTIVE=$value ;;
      SubState) sub=$value ;;
      Result) UNIT_RESULT=$value ;;
      NRestarts) restarts=$value ;;
      ExecMainCode) code=$value ;;
      ExecMainStatus) status=$value ;;
      ExecMainExitTimestamp) unit_time_to exited "$value" ;;
      ActiveEnterTimestamp) unit_time_to entered "$value" ;;
      InactiveEnterTimestamp) unit_time_to left "$value" ;;
    esac
    # TZ=UTC: timestamps as "Tue 2024-05-14 10:00:00 UTC" (LC_ALL=C: an English weekday)
  done < <(TZ=UTC LC_ALL=C systemctl show -p ActiveState -p SubState -p Result -p NRestarts \
    -p ExecMainCode -p ExecMainStatus -p ExecMainExitTimestamp -p ActiveEnterTimestamp \
    -p InactiveEnterTimestamp -- "$UNIT" 2>/dev/null || true)
  [[ $restarts =~ ^[0-9]+$ ]] || restarts=0
  # shellcheck disable=SC2034 # SUP_* are read by the callers (supervision.sh)
  SUP_LAST_EXIT='' SUP_LAST_EXIT_AT=$exited SUP_RESTARTS=$restarts
  if [[ -n $exited && $status =~ ^[0-9]+$ ]]; then
    # ExecMainCode: 1 exited (status = its code), 2 killed, 3 dumped (status = the signal)
    if [[ $code == 2 || $code == 3 ]]; then status=$((128 + status)); fi
    SUP_LAST_EXIT=$status
  fi
  # shellcheck disable=SC2034 # SUP_SINCE is read by supervision_json_to
  case $UNIT_ACTIVE:$sub in
    activating:auto-restart*) SUP_STATE=backoff SUP_SINCE=$exited ;;
    active:* | reloading:* | activating:*) SUP_STATE=running SUP_SINCE=$entered ;;
    *) SUP_STATE=down SUP_SINCE=$left ;;
  esac
}

# Sets variable $1 to systemctl timestamp $2 in UTC ("Tue 2024-05-14 10:00:00 UTC") as ISO 8601,
# or empty (none, or another format); no fork.
unit_time_to() {
  local iso=''
  if [[ $2 =~ ([0-9]{4}-[0-9]{2}-[0-9]{2})\ ([0-9]{2}:[0-9]{2}:[0-9]{2})\ UTC$ ]]; then
    iso=${BASH_REMATCH[1]}T${BASH_REMATCH[2]}Z
  fi
  printf -v "$1" '%s' "$iso"
}

# record_crashed for a record run as unit $UNIT: true when systemd restarted its service, waits
# to, or left it down (its start limit, a failure, stopped outside stagecoach); prints why.
unit_crashed() {
  local last='it never exited'
  load_unit_supervision
  if [[ -n $SUP_LAST_EXIT ]]; then last="last exit $(describe_exit "$SUP_LAST_EXIT")"; fi
  case $SUP_STATE in
    down)
      if [[ $UNIT_RESULT == start-limit-hit ]]; then
        printf 'down after %s by systemd (its start limit); %s; see: journalctl -u %s\n' \
          "$(restarts_text "$SUP_RESTARTS")" "$last" "$UNIT"
      elif [[ $UNIT_ACTIVE == failed ]]; then
        printf 'its unit %s failed (%s; %s); see: journalctl -u %s\n' "$UNIT" "$UNIT_RESULT" \
          "$last" "$UNIT"
      else
        printf 'its unit %s is %s (%s); run ./manage.sh start\n' "$UNIT" "${UNIT_ACTIVE:-unknown}" "$last"
      fi
      ;;
    backoff)
      printf 'exited with %s (systemd restarts it, %s)\n' \
        "$(describe_exit "${SUP_LAST_EXIT:-0}")" "$(restarts_text "$SUP_RESTARTS")"
      ;;
    *)
      ((SUP_RESTARTS > 0)) || return 1
      printf 'it was restarted by systemd (%s); see: journalctl -u %s\n' \
        "$(restarts_text "$SUP_RESTARTS")" "$UNIT"
      ;;
  esac
}
