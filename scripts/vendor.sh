#!/usr/bin/env bash
# Builds and installs the test-time extensions vendored in ../shared/vendor (no package registry
# here serves them): pgvector (PostgreSQL licence) and Citus (AGPL-3.0). They are test
# dependencies only: custprofile never links to, ships or requires either; it uses pgvector when
# a database has it (src/.. sql/vectors.sql) and runs on Citus nodes like any extension.
#   scripts/vendor.sh [pgvector|citus]...   (both when none is named)
# Prints nothing and exits 0 when a source snapshot is absent, so that callers can skip the
# tests that need it; CUSTPROFILE_VENDOR overrides the folder. Idempotent: an installed build of
# the same snapshot (its sha256 recorded beside the build) is not rebuilt.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VENDOR="${CUSTPROFILE_VENDOR:-$REPO_ROOT/../shared/vendor}"
BUILD="$REPO_ROOT/target/vendor"
PG_CONFIG="$(pg_config_path)"
# name|snapshot|sha256 of the snapshot|file whose presence means it is installed
SNAPSHOTS=(
  "pgvector|pgvector-0.8.6.tar.gz|5743dac39fdfa740533cf95e71b033bd5513b71dda194b3cf19464ccbf76f3fb|vector.control"
  "citus|citus-12.1.12.tar.gz|75605028ad8b9b08581a885891b95f8cc9ee24c57717599df4f7b921c1e65d15|citus.control"
)
# Debian packages Citus's configure needs (Debian's PostgreSQL is built with them)
CITUS_APT=(liblz4-dev libzstd-dev libkrb5-dev)

# The snapshot's path when it is present, nothing otherwise.
snapshot_path() { [[ -f "$VENDOR/$1" ]] && echo "$VENDOR/$1" || true; }

# Whether NAME is built from this snapshot and installed.
installed() {
  local name="$1" sha="$2" control="$3"
  [[ -f "$("$PG_CONFIG" --sharedir)/extension/$control" && "$(cat "$BUILD/$name.sha256" 2>/dev/null)" == "$sha" ]]
}

build() {
  local name="$1" tarball="$2" sha="$3" src
  src="$BUILD/$name"
  rm -rf "$src" && mkdir -p "$src"
  tar -xzf "$tarball" -C "$src" --strip-components=1
  case "$name" in
    pgvector)
      # OPTFLAGS="": no -march=native, so the build runs on any x86-64 machine the suite runs on
      make -C "$src" -s -j"$(nproc)" OPTFLAGS="" PG_CONFIG="$PG_CONFIG" >/dev/null
      as_root make -C "$src" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
      ;;
    citus)
      local missing=() p
      for p in "${CITUS_APT[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
      done
      if ((${#missing[@]})); then
        log "installing Debian packages for Citus: ${missing[*]}"
        as_root apt-get update -qq || true
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
      fi
      (cd "$src" && ./configure --without-libcurl PG_CONFIG="$PG_CONFIG" >/dev/null)
      make -C "$src" -s -j"$(nproc)" >/dev/null 2>"$BUILD/citus.build.log" ||
        { tail -30 "$BUILD/citus.build.log"; die "building Citus failed"; }
      as_root make -C "$src" -s install >/dev/null
      ;;
  esac
  echo "$sha" >"$BUILD/$name.sha256"
}

main() {
  mkdir -p "$BUILD"
  local wanted=("$@") entry name file sha control tarball
  ((${#wanted[@]})) || wanted=(pgvector citus)
  for entry in "${SNAPSHOTS[@]}"; do
    IFS='|' read -r name file sha control <<<"$entry"
    [[ " ${wanted[*]} " == *" $name "* ]] || continue
    tarball="$(snapshot_path "$file")"
    if [[ -z "$tarball" ]]; then
      log "$file is not in $VENDOR: tests that need $name will be skipped"
      continue
    fi
    [[ "$(sha256_of "$tarball")" == "$sha" ]] || die "$tarball does not have the pinned sha256 $sha"
    installed "$name" "$sha" "$control" && continue
    log "building $name from $file (Citus: about 4 minutes on 2 cores)"
    build "$name" "$tarball" "$sha"
  done
}
main "$@"
