# shellcheck shell=bash
# Health checks: one HTTP GET over /dev/tcp and the per-service check.
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.

# Prints the HTTP status of GET $2 on 127.0.0.1:$1, or 0 when nothing answers within 5 s.
http_status() {
  local line=''
  # shellcheck disable=SC2016 # expanded by the inner bash
  line=$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nUser-Agent: stagecoach-manage\r\nConnection: close\r\n\r\n" "$2" "$1" >&3
    IFS= read -r line <&3 || [[ -n $line ]] || exit 1
    printf "%s\n" "$line"' _ "$1" "$2" 2>/dev/null) || true
  if [[ $line =~ ^HTTP/[0-9.]+\ ([0-9]{3}) ]]; then
    # base 10: a status like 099 is no octal number
    printf '%s\n' "$((10#${BASH_REMATCH[1]}))"
  else
    printf '0\n'
  fi
}

# Checks service $1 once; sets H_PROCESS H_PORT H_HTTP H_STATUS, and H_REASON when it fails
# (H_FATAL=true when waiting cannot help). The instance checked is the service's live record
# (lib/slots.sh: the one start launched, else the serving one), on the port it was launched with.
# shellcheck disable=SC2034 # H_* are read by cmd_health (commands.sh)
check_service() {
  load_service "$1"
  H_PROCESS=false H_PORT=false H_HTTP=false H_STATUS=0 H_REASON='' H_FATAL=false
  local rec port
  # no $(…) here: every round of health's polling runs this
  live_record_to rec "$1"
  service_info_to port "$rec" 2
  SERVICE_PORT=${port:-$(slot_port "$rec")}
  # A crash since start fails at once: waiting out the timeout cannot help a crash loop.
  local crashed
  if crashed=$(record_crashed "$rec"); then
    H_REASON="it crashed: $crashed" H_FATAL=true
    return
  fi
  if ! service_pid "$rec" >/dev/null; then
    H_REASON="its process is not running" H_FATAL=true
    return
  fi
  local release
  service_info_to release "$rec" 3
  if [[ -n $release && $release != "$RELEASE_DIR" ]]; then
    H_REASON="the running process belongs to release ${release##*/}; run ./manage.sh start in this release"
    H_FATAL=true
    return
  fi
  H_PROCESS=true
  # an HTTP answer proves the port open too: the separate TCP probe only when none came
  H_STATUS=$(http_status "$SERVICE_PORT" "$SERVICE_HEALTH")
  if ((H_STATUS == 0)) && ! tcp_open "$SERVICE_PORT"; then
    H_REASON="port $SERVICE_PORT does not accept TCP connections"
    return
  fi
  H_PORT=true
  if ((H_STATUS >= 200 && H_STATUS < 300)); then
    H_HTTP=true
  elif ((H_STATUS == 0)); then
    H_REASON="GET $SERVICE_HEALTH on port $SERVICE_PORT got no HTTP answer"
  else
    H_REASON="GET $SERVICE_HEALTH on port $SERVICE_PORT answered $H_STATUS"
  fi
}
