# shellcheck shell=bash
# Where Debian's PostgreSQL server binaries are (not on PATH). Sourced by manage.sh and
# setup.sh; defines functions only.

# Prints the installed bindir: pg_config's, else the newest /usr/lib/postgresql/*/bin, else the
# directory of `postgres` on PATH. Returns 1 when there is none.
pg_installed_bindir() {
  local dir
  local -a dirs
  if command -v pg_config >/dev/null && dir=$(pg_config --bindir 2>/dev/null) && [[ -x $dir/postgres ]]; then
    printf '%s\n' "$dir"
    return
  fi
  dirs=(/usr/lib/postgresql/*/bin)
  if [[ -x ${dirs[0]}/postgres ]]; then
    printf '%s\n' "${dirs[@]}" | sort -V | tail -n 1
    return
  fi
  dir=$(command -v postgres) && dirname -- "$dir"
}
