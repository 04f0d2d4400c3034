# shellcheck shell=bash
# `prune [keep]`: removes old releases and their bundles after a successful deploy, so a
# target's disk does not fill up release by release. Keeps the current release, the one this
# command runs from, and the `keep` (default 3) most recently set up others; never touches state/.
# Then the store (lib/store.sh) loses every blob no release links to any more.

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
  chmod 700 -- "$HOME_DIR/bundles" "$HOME_DIR/releases" "$HOME_DIR/store" 2>/dev/null || true
  chmod go= -- "$HOME_DIR"/bundles/*.tar.gz "$HOME_DIR"/releases/*/ 2>/dev/null || true
}

# Removes the store's blobs that no release links to (a link count of 1: the store's own name)
# and prints how many went. Releases are hard links to their blobs, so this is exact.
prune_store() {
  local -a gone=()
  if [[ -d $HOME_DIR/store ]]; then
    mapfile -t gone < <(find "$HOME_DIR/store" -mindepth 1 -maxdepth 1 -type f -links 1 -print -delete)
  fi
  printf '%s' "${#gone[@]}"
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
    # the tar.gz and what a delta upload left of this release (keys, payload)
    rm -rf -- "${HOME_DIR:?}/releases/$name" "${HOME_DIR:?}/bundles/$name".*
    removed+=("$name")
    say "prune: removed release $name"
  done < <(releases_newest_first)
  # temp leftovers of interrupted extracts and uploads
  local -a leftovers=("$HOME_DIR"/releases/*.tmp "$HOME_DIR"/bundles/*.part
    "$HOME_DIR"/bundles/*.{keys,sums,tree,delta.tar.gz,links.tar.gz})
  for name in "${leftovers[@]}"; do
    if [[ -e $name || -L $name ]]; then
      rm -rf -- "${leftovers[@]}" 2>/dev/null || true
      break
    fi
  done
  close_old_modes
  local blobs
  blobs=$(prune_store)
  result "$(json_obj removed "$(json_strs "${removed[@]}")" kept "$(json_num "$kept")" \
    blobs_removed "$(json_num "$blobs")")"
}
