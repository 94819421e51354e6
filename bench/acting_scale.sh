#!/usr/bin/env bash
# Times similar_customers, recommend and segment_customers over N synthetic profiles and items
# (default 100,000) in a scratch database of the private cluster: bash bench/acting_scale.sh [N]
# (the stored vectors are pseudo-random; no model time is spent building them)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"
n="${1:-100000}"
ready_cluster
cluster_psql -d postgres -q -c "DROP DATABASE IF EXISTS custprofile_scale" -c "CREATE DATABASE custprofile_scale"
cluster_psql -d custprofile_scale -q -c "CREATE EXTENSION custprofile"
cluster_psql -d custprofile_scale -v n="$n" -f bench/acting_scale.sql
# KEEP=1 leaves the database for a closer look
[ "${KEEP:-0}" = 1 ] || cluster_psql -d postgres -q -c "DROP DATABASE custprofile_scale"
