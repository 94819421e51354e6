#!/usr/bin/env bash
# Reading text_insights with the scores refresh_profiles stored (custprofile.text_scores) against
# the same read scoring every text on the fly (the stored scores deleted in a transaction that is
# rolled back), side by side: ROUNDS alternating reads of each, every read in a new session.
# N real reviews (the first N of ../shared/data/chinese/waimai_10k.csv) of N/10 customers, in a
# database of their own on the private cluster, with the default encoder.
#   bash bench/text_insights.sh [N [ROUNDS]]       (default 2000 reviews, 3 rounds)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"
n="${1:-2000}"
rounds="${2:-3}"
ready_cluster
eval "$(bash scripts/cluster.sh env)"
export PGHOST PGPORT PGUSER
db=custprofile_bench_insights
q() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
q -c "SET client_min_messages = warning" -c "CREATE EXTENSION custprofile" \
  -c "CREATE TABLE raw (label int, review text)" -c "CREATE TABLE customers (id int PRIMARY KEY)" \
  -c "CREATE TABLE reviews (id int PRIMARY KEY, customer_id int, body text)"
q -c "\\copy raw FROM '$(shared_data_dir)/chinese/waimai_10k.csv' WITH (FORMAT csv, HEADER true)"
q -c "INSERT INTO customers SELECT g FROM generate_series(0, greatest($n / 10, 1) - 1) g" \
  -c "INSERT INTO reviews SELECT n, n % greatest($n / 10, 1), review FROM (SELECT review, row_number() OVER () AS n FROM raw LIMIT $n) r" \
  -c "SELECT custprofile.register_source('customers', 'customers', '{\"key\": \"id\"}')" \
  -c "SELECT custprofile.register_source('texts', 'reviews', '{\"customer\": \"customer_id\", \"text\": \"body\"}')" >/dev/null
t0=$(date +%s.%N)
q -c "SET client_min_messages = warning" -c "CALL custprofile.refresh_profiles()"
log "refresh_profiles over $n reviews: $(python3 -c "print(f'{$(date +%s.%N) - $t0:.1f}')") s; $(q -tA -c "SELECT count(*) FROM custprofile.text_scores") texts stored"
# one read: seconds for a dashboard's query over the whole view (with the stored scores, or with
# them deleted first in the same transaction, which is rolled back)
read() {
  local first=()
  [[ -n "${1:-}" ]] && first=(-c "DELETE FROM custprofile.text_scores")
  q -tA -c "SET client_min_messages = warning" -c "BEGIN" "${first[@]}" -c "
    DO \$\$ DECLARE t0 timestamptz := clock_timestamp(); c bigint; BEGIN
      SELECT count(*) INTO c FROM (SELECT sentiment_label, count(*), avg(sentiment) FROM custprofile.text_insights GROUP BY 1) s;
      RAISE WARNING '%', round(extract(epoch FROM clock_timestamp() - t0)::numeric, 3);
    END \$\$" -c "ROLLBACK" 2>&1 | sed -n 's/.*WARNING:  //p'
}
log "text_insights read in full, $rounds rounds (seconds)"
stored_times=() scored_times=()
for ((r = 1; r <= rounds; r++)); do
  s="$(read)"; o="$(read on_the_fly)"
  stored_times+=("$s"); scored_times+=("$o")
  printf 'round %s: stored scores %s s, scored on read %s s\n' "$r" "$s" "$o"
done
python3 - "$n" "${stored_times[*]}" "${scored_times[*]}" <<'PY'
import statistics, sys
n = int(sys.argv[1]); stored = [float(x) for x in sys.argv[2].split()]; scored = [float(x) for x in sys.argv[3].split()]
m1, m2 = statistics.median(stored), statistics.median(scored)
print(f"median: stored {m1:.3f} s ({n / m1:.0f} texts/s), scored on read {m2:.3f} s ({n / m2:.0f} texts/s); "
      f"scored on read / stored = {m2 / m1:.1f}")
PY
psql -X -q -d postgres -c "DROP DATABASE $db"
