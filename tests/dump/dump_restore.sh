#!/usr/bin/env bash
# pg_dump a database filled with custprofile state (five registered sources, an edited topic list,
# a trained classifier, churn weights, stored profiles and text scores, segments, catalogue vectors, reply
# thresholds), pg_restore it into a new database, and check that every piece of state is there
# (tests/dump/state.sql in both, compared line by line) and that the restored database refreshes
# and answers as before. Then: a database whose topics were never edited restores with the
# extension's defaults, still the extension's; and a restore where the model files cannot be found
# succeeds, keeps the profiles readable, and its model functions give the missing-model ERROR.
# Usage: tests/dump/dump_restore.sh   (scripts/test.sh runs it)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
cd "$REPO_ROOT"
PG_BIN="$("$(pg_config_path)" --bindir)"
DUMPED=custprofile_dumped
RESTORED=custprofile_restored
PRISTINE=custprofile_pristine
NO_MODELS=custprofile_no_models
bash scripts/cluster.sh start >/dev/null 2>&1
eval "$(bash scripts/cluster.sh env)"
export PGHOST PGPORT PGUSER
in_db() { local db="$1"; shift; CUSTPROFILE_DB="$db" bash scripts/cluster.sh psql -q -v ON_ERROR_STOP=1 "$@"; }
drop_all() {
  in_db postgres -c "DROP DATABASE IF EXISTS $DUMPED" -c "DROP DATABASE IF EXISTS $RESTORED" \
    -c "DROP DATABASE IF EXISTS ${PRISTINE}" -c "DROP DATABASE IF EXISTS ${PRISTINE}_restored" \
    -c "DROP DATABASE IF EXISTS $NO_MODELS"
}
out="$(mktemp -d)"
drop_all
in_db postgres -c "CREATE DATABASE $DUMPED" -c "CREATE DATABASE $RESTORED" -c "CREATE DATABASE $PRISTINE" \
  -c "CREATE DATABASE ${PRISTINE}_restored" -c "CREATE DATABASE $NO_MODELS"

log "filling $DUMPED"
in_db "$DUMPED" -c "SET client_min_messages = warning" -c "CREATE EXTENSION custprofile" >/dev/null
in_db "$DUMPED" -f demo/shop.sql >/dev/null
in_db "$DUMPED" >/dev/null <<'SQL'
SET client_min_messages = warning;
\i tests/upgrade/register_demo.sql
SELECT custprofile.register_source('items', 'shop.items',
  '{"key": "item_id", "title": "title", "description": "description", "category": "category", "price": "price"}');
SELECT custprofile.register_source('answers', 'shop.help_articles', '{"key": "article_id", "question": "question", "answer": "answer", "alternate_questions": "alternate_questions"}');
-- an edited default, a deleted default and a topic of the shop's own
UPDATE custprofile.topics SET description = description || ', gift cards' WHERE topic = 'price';
DELETE FROM custprofile.topics WHERE topic = 'product features';
INSERT INTO custprofile.topics (topic, description) VALUES ('gift wrapping', 'gift wrap, ribbons and presents');
SELECT custprofile.train_classifier('dump_head',
  'SELECT body, CASE WHEN stars >= 4 THEN ''pos'' ELSE ''neg'' END FROM shop.reviews WHERE stars <> 3 AND body IS NOT NULL', '{"validation_share": 0}');
CALL custprofile.refresh_profiles();
SELECT count(*) FROM custprofile.segment_customers(3);
SELECT custprofile.train_churn_model('SELECT customer_id, customer_id % 3 = 0 FROM shop.customers');
SQL
in_db "$DUMPED" -tA -f tests/dump/state.sql >"$out/dumped"
[[ "$(grep -c '^profile ' "$out/dumped")" -gt 0 && "$(grep -c '^catalogue ' "$out/dumped")" -gt 0 &&
   "$(grep -c '^text_score ' "$out/dumped")" -gt 0 ]] ||
  die "the filled database has no profiles, catalogue vectors or stored text scores to compare"

log "pg_dump $DUMPED | pg_restore $RESTORED"
"$PG_BIN/pg_dump" -Fc -d "$DUMPED" -f "$out/dump"
"$PG_BIN/pg_restore" --exit-on-error -d "$RESTORED" "$out/dump"
in_db "$RESTORED" -tA -f tests/dump/state.sql >"$out/restored"
if ! diff -u "$out/dumped" "$out/restored" >"$out/diff"; then
  head -60 "$out/diff" >&2
  die "the restored database differs from the dumped one (above: - dumped, + restored)"
fi
lines=$(wc -l <"$out/dumped")

# it refreshes as before: nothing is stale after the restore; a changed review rebuilds its
# customer's profile only
answers="$(in_db "$RESTORED" -tA <<'SQL'
SET client_min_messages = warning;
CREATE TEMP TABLE restored AS SELECT customer_key, refreshed_at FROM custprofile.profiles;
CREATE TEMP TABLE dumped_runs AS SELECT run_id FROM custprofile.runs;
-- text_insights' copy of the texts is not dumped: the first refresh makes it anew
SELECT count(*) FROM custprofile.stored_texts;
CALL custprofile.refresh_profiles();
SELECT count(*) FROM custprofile.profiles p JOIN restored r USING (customer_key) WHERE p.refreshed_at <> r.refreshed_at;
SELECT count(*) = (SELECT count(*) FROM custprofile_internal.registered_texts()) AND count(*) > 0 FROM custprofile.stored_texts;
UPDATE shop.reviews SET body = body || ' Still happy.' WHERE review_id = (SELECT min(review_id) FROM shop.reviews WHERE body IS NOT NULL);
CALL custprofile.refresh_profiles();
SELECT count(*) FROM custprofile.profiles p JOIN restored r USING (customer_key) WHERE p.refreshed_at <> r.refreshed_at;
SELECT count(*) FROM custprofile.default_topics_in_use;
-- the run history goes on numbering after the dumped runs (both refreshes are new rows)
SELECT count(*) FROM custprofile.runs r WHERE r.operation = 'refresh_profiles' AND r.run_id > (SELECT max(run_id) FROM dumped_runs);
SQL
)"
read -r -d '' copied_before rebuilt copied rebuilt_after_edit markers new_runs <<<"$answers" || true
[[ "$copied_before" == 0 && "$rebuilt" == 0 && "$copied" == t && "$rebuilt_after_edit" == 1 && "$markers" == 0 && "$new_runs" == 2 ]] ||
  die "the restored database does not refresh as before (stored texts before, rebuilt, texts copied, rebuilt after one edit, default topic markers, new runs: $(echo $answers))"

log "a database whose topics were never edited"
in_db "$PRISTINE" -c "SET client_min_messages = warning" -c "CREATE EXTENSION custprofile" >/dev/null
"$PG_BIN/pg_dump" -Fc -d "$PRISTINE" -f "$out/pristine"
"$PG_BIN/pg_restore" --exit-on-error -d "${PRISTINE}_restored" "$out/pristine"
pristine="$(in_db "${PRISTINE}_restored" -tA -c "SELECT count(*) || ' ' || (SELECT count(*) FROM custprofile.default_topics_in_use) FROM custprofile.topics")"
[[ "$pristine" == "6 6" ]] || die "an unedited topic list did not restore as the extension's six defaults (topics, still defaults: $pristine)"

log "a restore where the model files cannot be found"
in_db postgres -c "ALTER DATABASE $NO_MODELS SET custprofile.model_dir = '/nonexistent/custprofile-models'"
"$PG_BIN/pg_restore" --exit-on-error -d "$NO_MODELS" "$out/dump"
no_models="$(in_db "$NO_MODELS" -tA 2>&1 <<'SQL'
SELECT count(*) FROM custprofile.customer_profiles;
DO $$ BEGIN PERFORM custprofile.sentiment('fine'); RAISE NOTICE 'no error';
EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'sqlstate %', SQLSTATE; END $$;
SQL
)"
profiles_restored="$(grep -c '^profile ' "$out/dumped")"
[[ "$no_models" == "$profiles_restored"*"sqlstate 58P01"* ]] ||
  die "without model files: expected $profiles_restored readable profiles and ERROR 58P01 from sentiment(), got: $(echo $no_models)"

rm -rf "$out"
drop_all
log "dump and restore: $lines lines of state the same, refreshes as before, defaults kept, restores without models"
