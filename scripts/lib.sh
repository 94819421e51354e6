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

# A directory for server data that the server user can write: under the build folder when that
# is reachable, else (a checkout under /root, say) under /var/tmp, keyed by the checkout path.
server_dir() {
  local name="$1" dir="$REPO_ROOT/target/$1"
  mkdir -p "$dir"
  if [[ $EUID -eq 0 ]]; then
    chown postgres: "$dir"
    if ! sudo -u postgres test -w "$dir"; then
      dir="/var/tmp/custprofile-$(echo -n "$REPO_ROOT" | sha256sum | cut -c1-12)/$name"
      mkdir -p "$dir"
      chmod 755 "$(dirname "$dir")"
      chown postgres: "$dir"
    fi
  fi
  echo "$dir"
}

# The labeled data sets beside the checkout (tests and training read them; the product does not).
shared_data_dir() { echo "${CUSTPROFILE_SHARED_DATA:-$REPO_ROOT/../shared/data}"; }

# Builds the extension in release mode and installs it into the system PostgreSQL 15.
install_extension() {
  local sudo=()
  [[ $EUID -eq 0 ]] || sudo=(--sudo)
  log "building and installing the extension (cargo pgrx install --release)"
  cargo pgrx install --release --pg-config "$(pg_config_path)" "${sudo[@]}" >/dev/null
}

# psql on the private cluster's database (ON_ERROR_STOP is set by scripts/cluster.sh).
cluster_psql() { bash "$REPO_ROOT/scripts/cluster.sh" psql "$@"; }

# Setup, extension installed, private cluster running, extension created (or updated) in it.
ready_cluster() {
  bash "$REPO_ROOT/scripts/setup.sh"
  install_extension
  bash "$REPO_ROOT/scripts/cluster.sh" start
  # a rebuilt library with the same version needs a fresh CREATE EXTENSION to pick up new SQL
  cluster_psql -q -c "SET client_min_messages = warning" \
    -c "DROP EXTENSION IF EXISTS custprofile CASCADE" -c "CREATE EXTENSION custprofile"
}
