# shellcheck shell=bash
# Workdirs stagecoach refuses: the same rule as shared/system-dirs.ts, which the API applies to
# an absolute workdir before it is stored. Sourced by manage.sh, and sent by the worker ahead of
# preflight.sh (which runs before the bundle is on the target); defines functions only.

# Prints why the absolute path $1 may not be a workdir (the root, a top-level or system
# directory, or inside the OS's own trees); fails when it may.
system_dir_reason() {
  local p=$1 t
  case $p in
    / | /home | /media | /mnt | /opt | /srv | /tmp | /var | /var/backups | /var/cache | /var/lib | \
      /var/local | /var/log | /var/mail | /var/opt | /var/spool | /var/tmp)
      printf '%s is a system directory' "$p"
      return 0
      ;;
  esac
  for t in /bin /boot /dev /etc /lib /lib32 /lib64 /libx32 /proc /run /sbin /sys /usr; do
    if [[ $p == "$t" || $p == "$t"/* ]]; then
      printf '%s is in %s' "$p" "$t"
      return 0
    fi
  done
  return 1
}
