#!/usr/bin/env bash
# The whole test suite: installs what is missing (scripts/setup.sh), then runs the Rust unit
# tests and the in-database #[pg_test] tests (cargo pgrx test) and the SQL regression tests
# with expected output (cargo pgrx regress), all against PostgreSQL 15 with the real model.
# As root, every PostgreSQL it starts runs as the user postgres.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

bash scripts/setup.sh
PG_CONFIG="$(pg_config_path)"

RUNAS=()
if [[ $EUID -eq 0 ]]; then
  RUNAS=(--runas postgres --pgdata "$(server_dir pgrx-test-data)")
fi

# fixtures for the regression tests, read client-side by psql
data="$(shared_data_dir)"
reference="$data/reference/all-MiniLM-L6-v2.reference.jsonl"
[[ -f "$reference" ]] || die "missing $reference: the tests need ../shared/data beside the checkout (or CUSTPROFILE_SHARED_DATA)"
mkdir -p tests/pg_regress/data
cp "$reference" tests/pg_regress/data/

log "cargo pgrx test pg15"
cargo pgrx test pg15 "${RUNAS[@]}"

log "cargo pgrx regress pg15"
cargo pgrx regress pg15 --resetdb "${RUNAS[@]}"

log "all tests passed"
