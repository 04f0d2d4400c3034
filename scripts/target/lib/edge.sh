# shellcheck shell=bash
# shellcheck disable=SC2153 # SERVICES is set by load_config (common.sh)
# The edge: config/edge.env, the mode (system Caddy or a managed one), the site block (from
# config/edge/<port>.caddy) and Caddyfile, and the edge parts of edge-apply, status and stop.
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.

SYSTEM_CADDYFILE=/etc/caddy/Caddyfile
SYSTEM_SITES=/etc/caddy/stagecoach
SYSTEM_ROOT_CA=/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt
# As root, the managed Caddy runs as this system user (created when missing), from a dir of its
# own under its home: one per edge dir.
# shellcheck disable=SC2034 # read by edge-caddy.sh
CADDY_USER=stagecoach-caddy
CADDY_USER_HOME=/var/lib/stagecoach-caddy

# True when the release has an edge (the manifest had `edge`).
has_edge() { [[ -f $CONFIG_DIR/edge.env ]]; }

# Fails unless $2 (named $1) is a TCP port number.
check_port_value() {
  # no leading zero: bash arithmetic would read 08 as a bad octal number
  if ! [[ $2 =~ ^[1-9][0-9]{0,4}$ ]] || (($2 > 65535)); then
    die 2 "edge: $1 '$2' in config/edge.env is not a port; fix edge in the manifest"
  fi
}

# Sets EDGE_* from config/edge.env, EDGE_UPSTREAM and EDGE_HEALTH from the routed service.
# shellcheck disable=SC2034 # EDGE_HEALTH is read by cmd_edge_apply (edge-commands.sh)
load_edge() {
  # read as data, like every config file (read_env_file, common.sh)
  read_env_file "$CONFIG_DIR/edge.env"
  EDGE_DOMAIN=${ENV_FILE[EDGE_DOMAIN]:-} EDGE_TLS=${ENV_FILE[EDGE_TLS]:-off}
  EDGE_EMAIL=${ENV_FILE[EDGE_EMAIL]:-} EDGE_HTTP_PORT=${ENV_FILE[EDGE_HTTP_PORT]:-80}
  EDGE_HTTPS_PORT=${ENV_FILE[EDGE_HTTPS_PORT]:-} EDGE_SERVICE=${ENV_FILE[EDGE_SERVICE]:-}
  # zero downtime: the second port of the edge's service and how long an old instance drains
  # (both empty in bundles of versions before them: the service is stopped, then started)
  EDGE_SPARE_PORT=${ENV_FILE[EDGE_SPARE_PORT]:-} EDGE_DRAIN_S=${ENV_FILE[EDGE_DRAIN_S]:-10}
  EDGE_DOMAIN=${EDGE_DOMAIN,,}
  # Only what would break the file name or the Caddyfile's syntax; Caddy judges the rest.
  case $EDGE_DOMAIN in
    '' | .* | */* | *[[:space:][:cntrl:]]* | *[\{\}\"\'\`\\\#]*)
      die 2 "edge: EDGE_DOMAIN '$EDGE_DOMAIN' in config/edge.env is not a domain; set edge.domain in the manifest to a hostname"
      ;;
  esac
  case $EDGE_TLS in
    acme | internal) EDGE_HTTPS_PORT=${EDGE_HTTPS_PORT:-443} ;;
    off) EDGE_HTTPS_PORT='' ;;
    *) die 2 "edge: EDGE_TLS '$EDGE_TLS' in config/edge.env is not one of acme, internal, off" ;;
  esac
  check_port_value EDGE_HTTP_PORT "$EDGE_HTTP_PORT"
  if [[ -n $EDGE_HTTPS_PORT ]]; then check_port_value EDGE_HTTPS_PORT "$EDGE_HTTPS_PORT"; fi
  if [[ -n $EDGE_SPARE_PORT ]]; then check_port_value EDGE_SPARE_PORT "$EDGE_SPARE_PORT"; fi
  [[ $EDGE_DRAIN_S =~ ^(0|[1-9][0-9]{0,3})$ ]] ||
    die 2 "edge: EDGE_DRAIN_S '$EDGE_DRAIN_S' in config/edge.env is not a number of seconds; fix edge.drain_s in the manifest"
  if [[ -n $EDGE_EMAIL && ! $EDGE_EMAIL =~ ^[^[:space:]{}\"\'\\#]+@[^[:space:]{}\"\'\\#]+$ ]]; then
    die 2 "edge: EDGE_EMAIL '$EDGE_EMAIL' in config/edge.env is not an email address; fix edge.email in the manifest"
  fi
  EDGE_SERVICE=${EDGE_SERVICE:-${SERVICES[0]}}
  [[ " ${SERVICES[*]} " == *" $EDGE_SERVICE "* ]] ||
    die 2 "edge: EDGE_SERVICE '$EDGE_SERVICE' in config/edge.env is not a service of this release (${SERVICES[*]}); fix edge.service in the manifest"
  load_service "$EDGE_SERVICE"
  EDGE_UPSTREAM=$SERVICE_PORT EDGE_HEALTH=$SERVICE_HEALTH
}

# system when root on a running systemd with a caddy.service unit; managed otherwise.
edge_mode() {
  local state
  if ((EUID == 0)) && command -v systemctl >/dev/null; then
    state=$(systemctl is-system-running 2>/dev/null </dev/null || true)
    if [[ $state == running || $state == degraded ]] &&
      systemctl cat caddy.service >/dev/null 2>&1 </dev/null; then
      echo system
      return
    fi
  fi
  echo managed
}

# Sets EDGE_MODE, EDGE_DIR, EDGE_SITES, EDGE_SITE_FILE, EDGE_LEGACY_SITE, EDGE_CADDYFILE, EDGE_LOCK,
# EDGE_ROOT_CA,
# and Caddy's own paths (edge_run_paths); with `create`, creates the managed edge dir.
# shellcheck disable=SC2034 # read by edge-caddy.sh and edge-commands.sh
edge_paths() {
  EDGE_MODE=$(edge_mode)
  EDGE_CADDY_USER='' EDGE_AS=()
  if [[ $EDGE_MODE == system ]]; then
    EDGE_DIR=$SYSTEM_SITES EDGE_SITES=$SYSTEM_SITES EDGE_CADDYFILE=$SYSTEM_CADDYFILE
    EDGE_ROOT_CA=$SYSTEM_ROOT_CA EDGE_RUN=$SYSTEM_SITES EDGE_SOCK=''
  else
    EDGE_DIR=${STAGECOACH_EDGE_HOME:-}
    # A caller without STAGECOACH_EDGE_HOME (stop, status) finds the edge edge-apply used.
    if [[ -z $EDGE_DIR ]]; then read -r EDGE_DIR 2>/dev/null <"$STATE/edge.dir" || true; fi
    if [[ -z $EDGE_DIR ]]; then
      EDGE_DIR=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.stagecoach-edge
    fi
    if [[ ${1:-} == create ]]; then mkdir -p -- "$EDGE_DIR"; fi
    if [[ -d $EDGE_DIR ]]; then EDGE_DIR=$(cd -- "$EDGE_DIR" && pwd -P); fi
    # The path goes into the Caddyfile unquoted.
    case $EDGE_DIR in *[[:space:][:cntrl:]\{\}\"\'\`\\\#]*)
      die 2 "edge: the edge dir '$EDGE_DIR' contains characters Caddyfiles cannot take; set STAGECOACH_EDGE_HOME to a plain path" ;;
    esac
    EDGE_SITES=$EDGE_DIR/sites EDGE_CADDYFILE=$EDGE_DIR/Caddyfile
    edge_run_paths
    EDGE_ROOT_CA=$EDGE_RUN/data/pki/authorities/local/root.crt
  fi
  # The site is keyed by deployment (its target home), so one deployment's apply or stop never
  # touches another's site; `<domain>.caddy` is the name older versions used.
  EDGE_SITE_FILE=$EDGE_SITES/$EDGE_DOMAIN--$(edge_owner_id).caddy
  EDGE_LEGACY_SITE=$EDGE_SITES/$EDGE_DOMAIN.caddy EDGE_LOCK=$EDGE_SITES/.edge.lock
}

# 12 hex digits naming this deployment on the target: from its home dir, unique per deployment.
edge_owner_id() {
  local sum
  sum=$(printf '%s' "$HOME_DIR" | sha256sum)
  printf '%s' "${sum:0:12}"
}

# Sets EDGE_RUN, the managed Caddy's own dir: its storage (data/), XDG config dir (config/),
# admin socket (admin/admin.sock, EDGE_SOCK) and the JSON config it runs (caddy.json). Without
# root it is the edge dir. As root Caddy runs as CADDY_USER, which cannot reach an edge dir under
# /root (0700): its dir is CADDY_USER_HOME/<hash of the edge dir>.
edge_run_paths() {
  if ((EUID == 0)); then
    EDGE_RUN=$CADDY_USER_HOME/$(printf '%s' "$EDGE_DIR" | sha256sum | cut -c1-16)
  else
    EDGE_RUN=$EDGE_DIR
  fi
  EDGE_SOCK=$EDGE_RUN/admin/admin.sock
}

# This deployment's site block routing to port EDGE_UPSTREAM: rendered when the bundle was built
# (renderSite, shared/edge.ts), one config/edge/<port>.caddy per port the edge's service may use.
render_site() {
  local file=$CONFIG_DIR/edge/$EDGE_UPSTREAM.caddy
  if ! [[ $EDGE_UPSTREAM =~ ^[1-9][0-9]{0,4}$ ]] || ((EDGE_UPSTREAM > 65535)); then
    die 2 "edge-apply: the port of $EDGE_SERVICE to route to, '$EDGE_UPSTREAM', is not a port"
  fi
  [[ -f $file ]] ||
    die 2 "edge-apply: missing $file (the site routing to port $EDGE_UPSTREAM): $RELEASE_DIR is not a complete stagecoach bundle; rebuild the bundle"
  printf '%s' "$(<"$file")"
}

# The managed Caddyfile: global options from this apply, then every deployment's site.
render_managed_caddyfile() {
  local https=$EDGE_HTTPS_PORT line
  # tls off asks for no HTTPS port: keep the one the other sites may rely on.
  if [[ -z $https && -f $EDGE_CADDYFILE ]]; then
    while read -r line; do
      if [[ $line =~ ^https_port\ ([0-9]+)$ ]]; then https=${BASH_REMATCH[1]}; fi
    done <"$EDGE_CADDYFILE"
  fi
  printf '# Written by stagecoach (manage.sh edge-apply); changes are overwritten.\n{\n'
  # The admin API on a unix socket in a 0700 dir: only Caddy's user (and root) can open it.
  printf '\tadmin unix/%s\n\thttp_port %s\n' "$EDGE_SOCK" "$EDGE_HTTP_PORT"
  if [[ -n $https ]]; then printf '\thttps_port %s\n' "$https"; fi
  printf '\tstorage file_system %s/data\n\tskip_install_trust\n' "$EDGE_RUN"
  if [[ -n $EDGE_EMAIL ]]; then printf '\temail %s\n' "$EDGE_EMAIL"; fi
  printf '}\n\nimport %s/*.caddy' "$EDGE_SITES"
}

# The system Caddyfile, with our import line appended unless it has it.
render_system_caddyfile() {
  local text='' import="import $SYSTEM_SITES/*.caddy"
  if [[ -f $SYSTEM_CADDYFILE ]]; then text=$(<"$SYSTEM_CADDYFILE"); fi
  if [[ $'\n'$text$'\n' != *$'\n'"$import"$'\n'* ]]; then
    text+="${text:+$'\n\n'}# stagecoach: the sites of its deployments"$'\n'"$import"
  fi
  printf '%s' "$text"
}

# Restores the previous config, has Caddy load it again, and fails naming what broke.
edge_fail() {
  local what=$1 out=$CADDY_OUT
  edge_restore
  if caddy_running; then caddy_reload || say "edge: reloading the restored config failed too: $(caddy_error "$CADDY_OUT")" >&2; fi
  printf '%s\n' "$out" | tail -n 20 >&2
  die 1 "edge-apply: $what for $EDGE_DOMAIN failed, the previous edge config was restored: $(caddy_error "$out"); fix edge in the manifest and deploy again"
}
