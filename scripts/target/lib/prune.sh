# shellcheck shell=bash
# `prune [keep]`: removes old releases and their bundles after a successful deploy, so a
# target's disk does not fill up release by release. Keeps the current release, the one this
# command runs from, and the `keep` (default 3) most recently set up others; never touches state/.

# Prints the sha256 names of releases/ newest first (by mtime of their .setup-ok).
releases_newest_first() {
  local dir line
  local -a oks=() lines=()
  for dir in "$HOME_DIR"/releases/*/; do
    if [[ -f $dir.setup-ok ]]; then oks+=("$dir.setup-ok"); fi
  done
  ((${#oks[@]})) || return 0
  # one stat and one sort for all of them (prune runs on every deploy: forks add up)
  mapfile -t lines < <(stat -c '%Y %n' -- "${oks[@]}" | sort -rn)
  for line in "${lines[@]}"; do
    line=${line%/.setup-ok}
    printf '%s\n' "${line##*/}"
  done
}

# Bundles and releases hold the app's env. Versions before 0600 uploads and 0700 releases left
# them readable by every user of the target: close what such a version left behind.
close_old_modes() {
  chmod 700 -- "$HOME_DIR/bundles" "$HOME_DIR/releases" 2>/dev/null || true
  chmod go= -- "$HOME_DIR"/bundles/*.tar.gz "$HOME_DIR"/releases/*/ 2>/dev/null || true
}

cmd_prune() {
  local keep=${1:-3} current='' name kept=0 removed=()
  [[ $keep =~ ^[0-9]+$ ]] || die 2 "prune: keep must be a number, got '$keep'"
  if [[ -L $HOME_DIR/current ]]; then
    current=$(readlink -- "$HOME_DIR/current")
    current=${current%/}
    current=${current##*/}
  fi
  while read -r name; do
    [[ -n $name ]] || continue
    if [[ $name == "$current" || $name == "${RELEASE_DIR##*/}" ]]; then
      continue
    fi
    if ((kept < keep)); then
      kept=$((kept + 1))
      continue
    fi
    rm -rf -- "${HOME_DIR:?}/releases/$name" "${HOME_DIR:?}/bundles/$name.tar.gz"
    removed+=("$name")
    say "prune: removed release $name"
  done < <(releases_newest_first)
  # temp leftovers of interrupted extracts and uploads
  local -a leftovers=("$HOME_DIR"/releases/*.tmp "$HOME_DIR"/bundles/*.part)
  for name in "${leftovers[@]}"; do
    if [[ -e $name || -L $name ]]; then
      rm -rf -- "${leftovers[@]}" 2>/dev/null || true
      break
    fi
  done
  close_old_modes
  result "$(json_obj removed "$(json_strs "${removed[@]}")" kept "$(json_num "$kept")")"
}
