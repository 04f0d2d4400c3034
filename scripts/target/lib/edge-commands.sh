# shellcheck shell=bash
# The edge's commands: cmd_edge_apply, and the edge parts of status and stop.
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.

# Loads config/edge.env, finds the mode and the edge dir, and creates the sites dir.
edge_prepare() {
  load_edge
  edge_paths create
  ensure_dir 755 "$EDGE_SITES"
}

# The managed Caddy's user and dirs (edge-caddy.sh), once the edge lock is held.
edge_prepare_managed() {
  # sun_path holds 108 bytes with the terminating NUL
  (($(printf '%s' "$EDGE_SOCK" | wc -c) <= 107)) ||
    die 2 "edge-apply: the admin socket path $EDGE_SOCK is longer than 107 bytes (the limit of unix sockets); set STAGECOACH_EDGE_HOME to a shorter path"
  edge_caddy_user
  caddy_dirs
}

cmd_edge_apply() {
  has_edge ||
    die 2 "edge-apply: this release has no config/edge.env (the manifest has no edge); add edge to the manifest, or do not call edge-apply"
  edge_prepare
  take_edge_lock edge-apply
  command -v caddy >/dev/null ||
    die 1 "edge-apply: caddy is not installed; run ./manage.sh setup, or install the Debian package caddy"
  local changed=false started=false caddyfile site admin=null user=null
  if [[ $EDGE_MODE == managed ]]; then
    edge_prepare_managed
    caddyfile=$(render_managed_caddyfile)
    admin=$(json_str "unix/$EDGE_SOCK") user=$(json_str "${EDGE_CADDY_USER:-$(id -un)}")
  else
    caddyfile=$(render_system_caddyfile)
  fi
  # route to the instance start launched (lib/slots.sh), on its own port; an assignment, so a
  # missing site file stops edge-apply here, before anything changed
  load_slots
  # shellcheck disable=SC2034 # read by render_site (edge.sh)
  EDGE_UPSTREAM=$(live_port "$EDGE_SERVICE")
  site=$(render_site)
  # this domain's site under the name an older version gave it is this deployment's (one live
  # owner per domain): it moves to the keyed name
  if edge_remove "$EDGE_LEGACY_SITE"; then changed=true; fi
  if edge_install "$EDGE_SITE_FILE" "$site"; then changed=true; fi
  if edge_install "$EDGE_CADDYFILE" "$caddyfile"; then changed=true; fi
  if $changed; then
    say "edge: $EDGE_MODE config changed for $EDGE_DOMAIN, validating"
    caddy_validate || edge_fail "caddy validate"
  fi
  if caddy_running && ! caddy_legacy; then
    if $changed; then
      caddy_reload || edge_fail "reloading Caddy"
      say "edge: caddy reloaded ($EDGE_SITE_FILE)"
    else
      say "edge: $EDGE_SITE_FILE unchanged, caddy left as it is"
    fi
  elif [[ $EDGE_MODE == system ]]; then
    CADDY_OUT=$(systemctl start caddy 2>&1 </dev/null 8>&- 9>&-) || edge_fail "starting caddy.service"
    started=true
  else
    caddy_retire_legacy || true
    caddy_start || edge_fail "starting Caddy (log $EDGE_DIR/caddy.log)"
    started=true
    say "edge: caddy started (pid $(caddy_pid), user ${EDGE_CADDY_USER:-$(id -un)}, admin unix/$EDGE_SOCK, log $EDGE_DIR/caddy.log)"
  fi
  if [[ $EDGE_MODE == managed ]]; then
    ensure_state_dirs
    printf '%s\n' "$EDGE_DIR" >"$STATE/edge.dir"
  fi
  result "$(json_obj mode "$(json_str "$EDGE_MODE")" changed "$(json_bool "$changed")" \
    started "$(json_bool "$started")" edge_dir "$(json_str "$EDGE_DIR")" \
    site "$(json_str "$EDGE_SITE_FILE")" http_port "$(json_num "$EDGE_HTTP_PORT")" \
    https_port "$(json_num "$EDGE_HTTPS_PORT")" admin "$admin" caddy_user "$user" \
    root_ca "$(json_str "$EDGE_ROOT_CA")" health_path "$(json_str "$EDGE_HEALTH")")"
}

# Sets EDGE_JSON to the value of the "edge" member of status's result, an object (no lock: it
# only looks).
# shellcheck disable=SC2034 # EDGE_JSON is read by cmd_status (commands.sh)
edge_status() {
  load_edge
  edge_paths
  local running=false site=false
  if caddy_running; then running=true; fi
  if [[ -f $EDGE_SITE_FILE || -f $EDGE_LEGACY_SITE ]]; then site=true; fi
  say "edge: mode=$EDGE_MODE caddy running=$running site=$site ($EDGE_SITE_FILE)"
  EDGE_JSON=$(json_obj mode "$(json_str "$EDGE_MODE")" \
    running "$(json_bool "$running")" site "$(json_bool "$site")")
}

# Removes this deployment's site and reloads Caddy; the managed Caddy stops with its last site.
# Sets EDGE_JSON to the value of the "edge" member of stop's result (an object).
# shellcheck disable=SC2034 # EDGE_JSON is read by cmd_stop (commands.sh)
edge_stop() {
  local removed=false stopped=false f
  local -a left=()
  load_edge
  edge_paths
  EDGE_JSON=$(json_obj site_removed false caddy_stopped false)
  # Never applied here: nothing to undo.
  [[ -d $EDGE_SITES ]] || return 0
  take_edge_lock stop
  if edge_remove "$EDGE_SITE_FILE"; then
    removed=true
  elif edge_remove "$EDGE_LEGACY_SITE"; then
    # deployed by an older version and never applied since
    removed=true
  fi
  for f in "$EDGE_SITES"/*.caddy; do if [[ -e $f ]]; then left+=("$f"); fi; done
  if [[ $EDGE_MODE == managed ]]; then
    if ((${#left[@]} == 0)); then
      if caddy_stop; then stopped=true; fi
    elif $removed && caddy_running; then
      caddy_reload || { edge_restore && die 1 "stop: Caddy refused the config without $EDGE_DOMAIN, its site was put back: $(caddy_error "$CADDY_OUT")"; }
    fi
  elif $removed && caddy_running; then
    caddy_reload || { edge_restore && die 1 "stop: reloading caddy.service without $EDGE_DOMAIN failed, its site was put back: $(caddy_error "$CADDY_OUT")"; }
  fi
  if $removed; then say "edge: removed $EDGE_SITE_FILE"; fi
  EDGE_JSON=$(json_obj site_removed "$(json_bool "$removed")" caddy_stopped "$(json_bool "$stopped")")
}
