# shellcheck shell=bash
# systemd mode for resources (docs/target-layout.md, "systemd mode"): where SYSTEMD_MODE holds
# (systemd_mode_init, lib/systemd-services.sh), start-resources runs each resource as its
# generated unit (Type=notify: `systemctl restart` returns once the server accepts connections),
# which systemd restarts and starts at boot; stop --resources and status drive and read it.
# A resource run as a unit has state/resources/<kind>/unit (the unit's name) beside the release
# link its unit runs; one without it is a detached one, whatever the mode.
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.

# True when resource $1 has a unit (systemd mode, and installed by start-resources); sets UNIT.
unit_resource() {
  [[ ${SYSTEMD_MODE:-} == true ]] || return 1
  UNIT=''
  read -r UNIT 2>/dev/null <"$RES/$1/unit" || return 1
  [[ $UNIT =~ ^stagecoach-[a-z0-9_.-]+@[A-Za-z0-9_.\\-]+\.service$ ]]
}

# Makes resource $1's unit the one the boot starts: installs this release's template, points the
# unit's release link here (so it never names a pruned release) and enables it. Starts nothing:
# a server already running (as the unit, or detached by an earlier version) is left serving.
systemd_adopt_resource() {
  local kind=$1 template unit
  template=stagecoach-${STAGECOACH_SCENARIO}_$kind@.service
  unit=$(systemd_unit "$template")
  write_private "$RES/$kind/unit" "$unit"
  systemd_link_resource "$kind"
  systemd_install "$template"
  systemd_enable "$unit"
}

# Starts resource $1 on port $2 as its unit: the kind's prepare part (password, first-time
# init), the unit adopted and (re)started, then the kind's post-start part (database, URL).
systemd_launch_resource() {
  local kind=$1 port=$2
  "${kind}_prepare" "$port"
  systemd_adopt_resource "$kind"
  unit_resource "$kind" || die 1 "resource $kind: $RES/$kind/unit does not name a unit"
  say "resource $kind: starting unit $UNIT on 127.0.0.1:$port"
  if ! systemd_restart "$UNIT"; then
    tail -n 20 -- "$RES/$kind/$kind.log" >&2 2>/dev/null || true
    die 1 "resource $kind: systemctl restart $UNIT failed (log above, in $RES/$kind/$kind.log); see: journalctl -u $UNIT"
  fi
  "${kind}_started" "$port"
}

# Stops resource $1 whichever way it runs: its unit (disabled, so no boot brings it back, and
# stopped), then today's stop for a server still running outside it. True when one was running.
stop_resource() {
  local kind=$1 was=false
  if unit_resource "$kind"; then
    if systemd_is_active "$UNIT"; then
      was=true
      say "resource $kind: stopping unit $UNIT"
    fi
    systemd_disable "$UNIT" || say "resource $kind: warning: could not disable $UNIT"
    systemd_stop "$UNIT" || say "resource $kind: warning: systemctl stop $UNIT failed"
    rm -f -- "$RES/$kind/unit" "$RES/$kind/release"
  fi
  if "${kind}_stop"; then was=true; fi
  $was
}

# True when resource $1 runs: its unit is active (systemctl), else a detached server of its data.
resource_running() {
  if unit_resource "$1" && systemd_is_active "$UNIT"; then return 0; fi
  resource_pid "$1" >/dev/null
}
