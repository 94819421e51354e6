# Shared helpers for the scripts in this folder. Sourced, not run.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_MAJOR=15

log() { printf '\033[1m[custprofile]\033[0m %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() { if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

pg_config_path() {
  local p="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
  [[ -x "$p" ]] || p="$(command -v pg_config)"
  echo "$p"
}

# The user every PostgreSQL server we start runs as: ourselves, or `postgres` when we are root
# (initdb and postgres refuse to run as root).
server_user() { if [[ $EUID -eq 0 ]]; then echo postgres; else id -un; fi; }

# Runs a command as the server user.
as_server_user() {
  if [[ $EUID -eq 0 ]]; then sudo -u postgres -H -- "$@"; else "$@"; fi
}
