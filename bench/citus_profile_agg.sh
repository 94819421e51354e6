#!/usr/bin/env bash
# profile_agg ... GROUP BY customer over N real reviews (the first N of ../shared/data/chinese/
# waimai_10k.csv, 200 customers) on one node against the same table distributed by customer over
# the two workers of tests/citus/cluster.sh, side by side: ROUNDS alternating runs of each, every
# run in a new session (so no backend reuses embeddings it cached in an earlier run).
#   bash bench/citus_profile_agg.sh [N [ROUNDS]]       (default 2000 reviews, 3 rounds)
# All three nodes share this machine's cores: the figure is the overhead of distribution and the
# throughput per worker, not the speed-up of N machines (docs/scale-out.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"
n="${1:-2000}"
rounds="${2:-3}"
bash scripts/vendor.sh citus
[[ -f "$("$(pg_config_path)" --sharedir)/extension/citus.control" ]] || die "Citus is not installed and ../shared/vendor has no citus-12.1.12.tar.gz"
bash tests/citus/cluster.sh start >/dev/null
trap 'bash tests/citus/cluster.sh stop' EXIT
PG_BIN="$("$(pg_config_path)" --bindir)"
coordinator() { "$PG_BIN/psql" -X -h 127.0.0.1 -p 28840 -U postgres -d custprofile_citus -v ON_ERROR_STOP=1 -q "$@"; }
coordinator -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS bench CASCADE" -c "CREATE SCHEMA bench" \
  -c "CREATE TABLE bench.raw (label int, review text)" -c "CREATE TABLE bench.reviews (customer_id int, body text)" \
  -c "CREATE TABLE bench.dist_reviews (customer_id int, body text)" \
  -c "SELECT create_distributed_table('bench.dist_reviews', 'customer_id')" >/dev/null
coordinator -c "\\copy bench.raw FROM '$(shared_data_dir)/chinese/waimai_10k.csv' WITH (FORMAT csv, HEADER true)"
coordinator -c "INSERT INTO bench.reviews SELECT n % 200, review FROM (SELECT review, row_number() OVER () AS n FROM bench.raw LIMIT $n) r" \
  -c "INSERT INTO bench.dist_reviews SELECT * FROM bench.reviews" -c "ANALYZE bench.reviews, bench.dist_reviews"
run() {
  coordinator -tA -c "SET client_min_messages = warning" -c "
    DO \$\$ DECLARE t0 timestamptz := clock_timestamp(); c bigint; BEGIN
      -- the documents are read (a count alone lets the planner drop the aggregate)
      SELECT sum(length(s.p::text)) INTO c FROM (SELECT customer_id, custprofile.profile_agg(body) AS p FROM bench.$1 GROUP BY customer_id) s;
      RAISE WARNING '%', round(extract(epoch FROM clock_timestamp() - t0)::numeric, 2);
    END \$\$" 2>&1 | sed -n 's/.*WARNING:  //p'
}
log "profile_agg over $n reviews of 200 customers, $rounds rounds (seconds)"
local_times=() dist_times=()
for ((r = 1; r <= rounds; r++)); do
  l="$(run reviews)"; d="$(run dist_reviews)"
  local_times+=("$l"); dist_times+=("$d")
  printf 'round %s: one node %s s, distributed over two workers %s s\n' "$r" "$l" "$d"
done
python3 - "$n" "${local_times[*]}" "${dist_times[*]}" <<'PY'
import statistics, sys
n = int(sys.argv[1]); one = [float(x) for x in sys.argv[2].split()]; dist = [float(x) for x in sys.argv[3].split()]
m1, m2 = statistics.median(one), statistics.median(dist)
print(f"median: one node {m1:.2f} s ({n / m1:.0f} texts/s), distributed {m2:.2f} s ({n / m2:.0f} texts/s, "
      f"{n / m2 / 2:.0f} per worker); distributed / one node = {m2 / m1:.2f}")
PY
