# Helpers shared by the service scripts of this folder. A script sets
# SERVICE (its name in messages) and D (its state directory), then sources
# this file.

say() { echo "$SERVICE: $*"; }
die() { echo "$SERVICE: $*" >&2; exit 1; }

# pkg_ok PACKAGE: the Debian package is installed.
pkg_ok() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'; }

# alive PIDFILE NAME: the pid file names a live process called NAME.
alive() {
  local pid
  [ -s "$1" ] && pid=$(cat "$1" 2>/dev/null) && [ -n "$pid" ] &&
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

# wait_for WHAT LOG CMD...: run CMD every 0.1 s until it succeeds; after 60 s
# fail with the tail of LOG.
wait_for() {
  local what=$1 log=$2 i
  shift 2
  for i in $(seq 600); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$SERVICE: $what did not come up within 60 s; last lines of $log:" >&2
  tail -n 30 "$log" >&2 2>/dev/null || true
  exit 1
}

# stop_pid PIDFILE NAME [SECONDS]: TERM the process, wait up to SECONDS
# (default 20), then KILL; the pid file is removed.
stop_pid() {
  local pid i
  alive "$1" "$2" || { rm -f "$1"; return 0; }
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null || true
  for i in $(seq $((${3:-20} * 10))); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || break
    sleep 0.1
  done
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]; then
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
  say "stopped $2 ($pid)"
}

# apt_install PACKAGE...: install, one apt at a time among these scripts
# (start.sh runs them concurrently; anybody else's apt is waited for through
# the dpkg lock). A script may define before_apt, run under the same lock
# (debconf answers). apt's output goes to $D/apt.log.
apt_install() {
  mkdir -p "$D"
  (
    flock 9
    if declare -F before_apt >/dev/null; then before_apt; fi
    apt-get -q -o DPkg::Lock::Timeout=300 update >/dev/null
    apt-get -q -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "$@" >"$D/apt.log" 2>&1 ||
      { tail -n 20 "$D/apt.log" >&2; exit 1; }
  ) 9>/tmp/bigjob-ci-apt.lock
}
