# shellcheck shell=bash
# The target's file store, for delta uploads: store/<sha256>-<mode> holds one file content per
# (content, mode), hard-linked into every release that has it (hard links share the mode, hence
# the mode in the name). A blob no release links to (link count 1) is garbage: prune removes it.
# Runs before the bundle is on the target, so the worker sends this file's text after
# lib/json.sh: bash -c "<json.sh><store.sh>store_main \"\$@\"" store CMD WORKDIR SHA256 ARG.
#   plan  WORKDIR SHA KEYS_SHA256     which blobs of bundles/SHA.keys the store lacks
#   full  WORKDIR SHA LINKS_SHA256    extract bundles/SHA.tar.gz, add its files to the store
#   delta WORKDIR SHA PAYLOAD_SHA256  assemble the release from the store and the payload
# Exit codes: 2 bad input (a key or path that is not ours), 4 a file's sha256 does not match
# (transfer_corrupt: nothing of the release is left behind). Defines functions only.

# store_die CODE MESSAGE — this runs without common.sh (no `die`).
store_die() {
  printf '%s\n' "$2" >&2
  exit "$1"
}

# store_sha_is FILE SHA256 — true when FILE exists and hashes to SHA256.
store_sha_is() {
  [[ -f $1 ]] && store_shas_ok "$2" "$1"
}

# store_shas_ok SHA256 FILE [SHA256 FILE…] — true when every FILE hashes to its SHA256: one
# sha256sum for all, run directly (no subshell: this path runs on every deploy).
store_shas_ok() {
  local lines=''
  while (($#)); do
    lines+="$1  $2"$'\n'
    shift 2
  done
  sha256sum -c --status --strict 2>/dev/null <<<"${lines%$'\n'}"
}

# store_result FORMAT ARGS… — the result line from a printf FORMAT of JSON: only for counts (%d)
# and words this file chose itself; it spares the subshells json_obj needs.
store_result() {
  local json
  # shellcheck disable=SC2059 # the format is always one of this file's literals
  printf -v json "$@"
  result "$json"
}

# store_plan SHA KEYS_SHA256 — prints `missing KEY` per blob to send, then the result. Blobs
# present but no longer matching their name (written in place by an app through a release's
# hard link, or a disk fault) leave the store here and are sent again.
store_plan() {
  local sha=$1 keys_file="bundles/$1.keys" key line bundle=false
  local -a keys=() have=() missing=() checks=() bad=()
  local -A damaged=()
  store_sha_is "$keys_file" "$2" || store_die 4 "store plan: $keys_file does not match sha256 $2"
  mapfile -t keys <"$keys_file"
  for key in "${keys[@]}"; do
    [[ $key =~ ^[0-9a-f]{64}-[0-7]{3}$ ]] || store_die 2 "store plan: '$key' is not a store key"
    if [[ -f store/$key && ! -L store/$key ]]; then have+=("$key"); else missing+=("$key"); fi
  done
  if ((${#have[@]})); then
    for key in "${have[@]}"; do checks+=("${key%-*}  store/$key"); done
    # one sha256sum for all; --quiet prints only the failures
    while IFS= read -r line; do
      if [[ $line =~ ^store/([0-9a-f]{64}-[0-7]{3}):\ FAILED ]]; then damaged[${BASH_REMATCH[1]}]=1; fi
    done < <(printf '%s\n' "${checks[@]}" | sha256sum -c --quiet 2>/dev/null || true)
    # and the mode the name promises (an app may chmod its files)
    while read -r line key; do
      if [[ $line != "${key##*-}" ]]; then damaged[${key#store/}]=1; fi
    done < <(printf 'store/%s\0' "${have[@]}" | xargs -0 stat -c '%a %n' -- 2>/dev/null || true)
    bad=("${!damaged[@]}")
    if ((${#bad[@]})); then
      rm -f -- "${bad[@]/#/store/}"
      missing+=("${bad[@]}")
    fi
  fi
  if store_sha_is "bundles/$sha.tar.gz" "$sha"; then bundle=true; fi
  if ((${#missing[@]})); then printf 'missing %s\n' "${missing[@]}"; fi
  store_result '{"missing":%d,"have":%d,"repaired":%d,"bundle":%s}' "${#missing[@]}" \
    "$((${#have[@]} - ${#bad[@]}))" "${#bad[@]}" "$bundle"
}

# store_fresh_tmp SHA — an empty private releases/SHA.tmp (and no releases/SHA); removed again
# when the command fails, so nothing half-assembled stays.
store_fresh_tmp() {
  STORE_TMP="releases/$1.tmp"
  if [[ -e $STORE_TMP || -e releases/$1 ]]; then rm -rf -- "$STORE_TMP" "releases/$1"; fi
  trap 'rm -rf -- "$STORE_TMP"' EXIT
  # shellcheck disable=SC2174 # releases/ too is 0700: umask 077 (store_main) covers the parent
  mkdir -p -m 700 -- "$STORE_TMP"
}

# store_full SHA LINKS_SHA256 — the whole bundle was uploaded: extract it, then link its files
# into the store (bundles/SHA.links.tar.gz: store/KEY → releases/SHA.tmp/PATH) for the next delta.
store_full() {
  local sha=$1 links="bundles/$1.links.tar.gz"
  if ! store_shas_ok "$sha" "bundles/$sha.tar.gz" "$2" "$links"; then
    store_sha_is "bundles/$sha.tar.gz" "$sha" || store_die 4 "store full: bundles/$sha.tar.gz does not match sha256 $sha"
    store_die 4 "store full: $links does not match sha256 $2"
  fi
  store_fresh_tmp "$sha"
  tar -xzf "bundles/$sha.tar.gz" -C "$STORE_TMP"
  # tar keeps the archive's 0644/0755 (as root): nothing of a release is for other users
  chmod -R go= -- "$STORE_TMP"
  # only store/ members; a blob already there stays (--skip-old-files)
  tar -xzf "$links" --skip-old-files store
  mv -- "$STORE_TMP" "releases/$sha"
  trap - EXIT
  rm -f -- "$links" "bundles/$sha.keys"
  store_result '{"mode":"full"}'
}

# store_check_tree FILE — every record of the expected listing names a path inside the release.
store_check_tree() {
  local rec path
  local -a recs=()
  mapfile -d '' -t recs <"$1"
  for rec in "${recs[@]}"; do
    path=${rec#[dfl] [0-7]* }
    # a symlink's record ends in TAB and its target; the others in a bare TAB
    if [[ $rec == l* ]]; then path=${path%%$'\t'*}; else path=${path%$'\t'}; fi
    if [[ $path == /* || $path == .. || $path == ../* || $path == */../* || $path == */.. || -z $path ]]; then
      store_die 2 "store delta: the index names a path outside the release: $path"
    fi
  done
}

# store_verify SHA — the assembled tree is exactly the bundle's: every file's sha256 (sums) and
# every entry's type, mode, name and link target, nothing more (tree).
store_verify() {
  local sha=$1 want got failed
  if ! failed=$(cd -- "$STORE_TMP" && sha256sum -c --strict --quiet -- "../../bundles/$sha.sums" 2>&1); then
    printf '%s\n' "$failed" | head -n 5 >&2
    return 1
  fi
  want=$(sha256sum <"bundles/$sha.tree")
  got=$(cd -- "$STORE_TMP" && find . -mindepth 1 -printf '%y %m %P\t%l\0' | LC_ALL=C sort -z | sha256sum)
  if [[ $want != "$got" ]]; then
    printf '%s\n' "the release's entries (types, modes, names, links) differ from the bundle's" >&2
    return 1
  fi
}

# store_delta SHA PAYLOAD_SHA256 — bundles/SHA.delta.tar.gz holds the expected sums and tree,
# releases/SHA.tmp/… (new contents as files, the rest hard links to store/KEY) and
# store/KEY → releases/SHA.tmp/PATH links for the new contents, added once all is verified.
store_delta() {
  local sha=$1 payload="bundles/$1.delta.tar.gz"
  store_sha_is "$payload" "$2" || store_die 4 "store delta: $payload does not match sha256 $2"
  rm -f -- "bundles/$sha.sums" "bundles/$sha.tree"
  tar -xzf "$payload" "bundles/$sha.sums" "bundles/$sha.tree"
  store_check_tree "bundles/$sha.tree"
  store_fresh_tmp "$sha"
  # member selection: only what lies below releases/SHA.tmp
  tar -xzf "$payload" "$STORE_TMP"
  chmod -R go= -- "$STORE_TMP"
  if ! store_verify "$sha"; then
    rm -f -- "$payload" "bundles/$sha.sums" "bundles/$sha.tree" "bundles/$sha.keys"
    store_die 4 "store delta: the assembled release does not match the bundle $sha; nothing was kept, a retry sends the damaged files again"
  fi
  tar -xzf "$payload" --skip-old-files store
  mv -- "$STORE_TMP" "releases/$sha"
  trap - EXIT
  rm -f -- "$payload" "bundles/$sha.sums" "bundles/$sha.tree" "bundles/$sha.keys"
  store_result '{"mode":"delta"}'
}

# store_main CMD WORKDIR SHA ARG — the entry point the worker calls.
store_main() {
  set -euo pipefail
  shopt -s inherit_errexit
  umask 077
  local cmd=$1 sha=$3
  [[ $sha =~ ^[0-9a-f]{64}$ ]] || store_die 2 "store: '$sha' is not a bundle sha256"
  [[ $4 =~ ^[0-9a-f]{64}$ ]] || store_die 2 "store: '$4' is not a sha256"
  cd -- "$2"
  # no mkdir here (a process per deploy): bundles/ holds what was just uploaded (putFile makes
  # it 0700), releases/ comes with store_fresh_tmp's mkdir -p and store/ with the archives' own
  # 0700 entry, both under umask 077
  case $cmd in
    plan) store_plan "$sha" "$4" ;;
    full) store_full "$sha" "$4" ;;
    delta) store_delta "$sha" "$4" ;;
    *) store_die 2 "store: unknown command '$cmd'" ;;
  esac
}
