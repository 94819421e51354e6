#!/usr/bin/env bash
# ALTER EXTENSION custprofile UPDATE from a released version FROM (its install script, frozen in
# sql/released/custprofile--FROM.sql) to the version of this checkout: a database filled under
# FROM (sources, stored profiles, a trained classifier, edited topics, churn weights) keeps every
# piece of state, then has exactly the catalogue objects of a fresh install
# (tests/upgrade/catalog.sql in both, compared line by line) and answers like one.
# Usage: tests/upgrade/upgrade_from.sh FROM   (scripts/test.sh runs it for every released version)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
cd "$REPO_ROOT"
PG_CONFIG="$(pg_config_path)"
current="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
FROM="${1:?usage: tests/upgrade/upgrade_from.sh FROM (a version in sql/released/)}"
[[ -f "sql/released/custprofile--$FROM.sql" ]] || die "no frozen install script sql/released/custprofile--$FROM.sql"
OLD=custprofile_upgraded
NEW=custprofile_fresh

# the old version's install script beside the current one (the upgrade scripts come with
# cargo pgrx install)
as_root install -m 0644 "sql/released/custprofile--$FROM.sql" "$("$PG_CONFIG" --sharedir)/extension/"
bash scripts/cluster.sh start >/dev/null 2>&1
in_db() { local db="$1"; shift; CUSTPROFILE_DB="$db" bash scripts/cluster.sh psql -q -v ON_ERROR_STOP=1 "$@"; }
in_db postgres -c "DROP DATABASE IF EXISTS $OLD" -c "DROP DATABASE IF EXISTS $NEW" -c "CREATE DATABASE $OLD" -c "CREATE DATABASE $NEW"
# Every released version (before 0.4.0) had all-MiniLM-L6-v2 as its only encoder: its vectors stay
# valid across the update when the database keeps that encoder, as docs/operations.md (Upgrades) tells users
# to do (the default is multilingual-e5-small now)
for db in "$OLD" "$NEW"; do
  in_db postgres -c "ALTER DATABASE $db SET custprofile.encoder = 'all-MiniLM-L6-v2'"
done

log "filling a database under custprofile $FROM"
in_db "$OLD" -c "SET client_min_messages = warning" -c "CREATE EXTENSION custprofile VERSION '$FROM'" >/dev/null
in_db "$OLD" -f demo/shop.sql >/dev/null
in_db "$OLD" >/dev/null <<'SQL'
SET client_min_messages = warning;
\i tests/upgrade/register_demo.sql
UPDATE custprofile.topics SET description = description || ' and gift cards' WHERE topic = (SELECT min(topic) FROM custprofile.topics);
INSERT INTO custprofile.topics (topic, description) VALUES ('gift wrapping', 'gift wrap, ribbons and presents');
SELECT custprofile.train_classifier('upgrade_head',
  'SELECT body, CASE WHEN stars >= 4 THEN ''pos'' ELSE ''neg'' END FROM shop.reviews WHERE stars <> 3 AND body IS NOT NULL', '{"validation_share": 0}');
CALL custprofile.refresh_profiles();
-- segments through the old version's SQL and the new library (src/api/compat.rs)
SELECT count(*) FROM custprofile.segment_customers(3);
SELECT custprofile.train_churn_model('SELECT customer_id, customer_id % 3 = 0 FROM shop.customers');
-- the state as it is under the old version, kept outside the extension
CREATE SCHEMA before;
CREATE TABLE before.registry AS SELECT kind, relid::regclass::text AS relation, columns, registered_by FROM custprofile.source_registry;
CREATE TABLE before.topics AS SELECT * FROM custprofile.topics;
CREATE TABLE before.classifiers AS SELECT name, head, metrics, trained_at FROM custprofile.classifiers;
CREATE TABLE before.churn_model AS SELECT weights, metrics FROM custprofile.churn_model;
CREATE TABLE before.profiles AS SELECT customer_key, profile, interest_vector, segment, source_hash, refreshed_at FROM custprofile.profiles;
CREATE TABLE before.predictions AS SELECT review_id, custprofile.predict('upgrade_head', body) AS label FROM shop.reviews;
SQL
[[ "$(in_db "$OLD" -tAc "SELECT extversion FROM pg_extension WHERE extname = 'custprofile'")" == "$FROM" ]] || die "not at $FROM"

log "ALTER EXTENSION custprofile UPDATE ($FROM -> $current)"
in_db "$OLD" -c "ALTER EXTENSION custprofile UPDATE"
[[ "$(in_db "$OLD" -tAc "SELECT extversion FROM pg_extension WHERE extname = 'custprofile'")" == "$current" ]] || die "not at $current after the update"

# every piece of state survived: each comparison prints the rows that differ (none)
lost="$(in_db "$OLD" -tA <<'SQL'
SELECT 'registry' FROM (SELECT * FROM before.registry EXCEPT SELECT kind, relid::regclass::text, columns, registered_by FROM custprofile.source_registry) x
UNION ALL SELECT 'topics' FROM (SELECT * FROM before.topics EXCEPT SELECT * FROM custprofile.topics) x
UNION ALL SELECT 'classifiers' FROM (SELECT name, head::text, metrics::text, trained_at FROM before.classifiers
                                     EXCEPT SELECT name, head::text, metrics::text, trained_at FROM custprofile.classifiers) x
UNION ALL SELECT 'churn_model' FROM (SELECT weights::text, metrics::text FROM before.churn_model EXCEPT SELECT weights::text, metrics::text FROM custprofile.churn_model) x
-- stored documents keep every field; those from before 0.3.0 gain "version": 1 (the same shape)
UNION ALL SELECT 'profiles' FROM (SELECT customer_key, (profile - 'version')::text, interest_vector, segment, source_hash, refreshed_at FROM before.profiles
                                  EXCEPT SELECT customer_key, (profile - 'version')::text, interest_vector, segment, source_hash, refreshed_at FROM custprofile.profiles) x
UNION ALL SELECT 'version' FROM custprofile.profiles WHERE NOT (profile -> 'version') = '1'
UNION ALL SELECT 'row counts' WHERE (SELECT count(*) FROM before.profiles) <> (SELECT count(*) FROM custprofile.profiles)
       OR (SELECT count(*) FROM before.topics) <> (SELECT count(*) FROM custprofile.topics)
       OR (SELECT count(*) FROM before.registry) <> (SELECT count(*) FROM custprofile.source_registry)
UNION ALL SELECT 'predictions' FROM (SELECT * FROM before.predictions
                                     EXCEPT SELECT review_id, custprofile.predict('upgrade_head', body) FROM shop.reviews) x
-- the edited topic list is the user's (pg_dump keeps it), not the extension's defaults
UNION ALL SELECT 'topics still defaults' FROM custprofile.default_topics_in_use
-- heads trained before the update belong to the role that ran it
UNION ALL SELECT 'owner' FROM custprofile.classifiers WHERE owner <> current_user
-- the churn column (0.5.0) is left to the first refresh, which rebuilds every older document:
-- until then it does not hold and the view gives the risk judged on read
UNION ALL SELECT 'stored churn' WHERE custprofile_internal.stored_churn_holds() AND EXISTS (SELECT FROM custprofile.profiles)
UNION ALL SELECT 'churn on read' WHERE EXISTS (SELECT FROM custprofile.customer_profiles c
                                                WHERE c.churn_risk IS DISTINCT FROM custprofile.churn_risk(c.customer_key));
SQL
)"
[[ -z "$lost" ]] || die "state lost or changed by the update: $(echo $lost | tr '\n' ' ')"

# it answers like a fresh install: the first refresh rebuilds exactly the profiles written under
# another document version (the version is part of the fingerprint), a second one nothing, and a
# full rebuild gives the same documents but for their time and version stamps (and, from 0.5.0,
# recency and RFM scores: counted to the data's latest activity instead of now, and 1, 1, 1 for a
# customer without orders instead of null)
answers="$(in_db "$OLD" -tA <<'SQL'
SET client_min_messages = warning;
SELECT count(*) FROM custprofile.profiles
 WHERE COALESCE((profile ->> 'version')::int, 1) <> custprofile.profile_document_version();
CALL custprofile.refresh_profiles();
SELECT count(*) FROM custprofile.profiles p JOIN before.profiles b USING (customer_key) WHERE p.refreshed_at <> b.refreshed_at;
-- after it the churn column holds and equals the risk judged on read
SELECT custprofile_internal.stored_churn_holds()
       AND NOT EXISTS (SELECT FROM custprofile.customer_profiles c WHERE c.churn_risk IS DISTINCT FROM custprofile.churn_risk(c.customer_key));
CREATE TEMP TABLE first_refresh AS SELECT customer_key, refreshed_at FROM custprofile.profiles;
CALL custprofile.refresh_profiles();
SELECT count(*) FROM custprofile.profiles p JOIN first_refresh f USING (customer_key) WHERE p.refreshed_at <> f.refreshed_at;
CALL custprofile.refresh_profiles(full_rebuild => true);
SELECT count(*) FROM custprofile.profiles p JOIN before.profiles b USING (customer_key)
 WHERE (p.profile - 'generated_at' - 'model' - 'churn' - 'version' #- '{purchases,recency_days}' #- '{purchases,rfm}')
    <> (b.profile - 'generated_at' - 'model' - 'churn' - 'version' #- '{purchases,recency_days}' #- '{purchases,rfm}');
SQL
)"
read -r -d '' other_version rebuilt churn_holds rebuilt_again changed <<<"$answers" || true
[[ "$rebuilt" == "$other_version" && "$churn_holds" == t && "$rebuilt_again" == 0 && "$changed" == 0 ]] ||
  die "the updated database does not answer as before (other document version, rebuilt, churn column holds, rebuilt again, changed documents: $(echo $answers))"

log "comparing the catalogue objects with a fresh $current"
in_db "$NEW" -c "SET client_min_messages = warning" -c "CREATE EXTENSION custprofile" >/dev/null
# registering grants the registrant SELECT on the stored profiles (since 0.2.0): state made by
# use, not by the install, so both databases register the demo shop as the current version
# does before their catalogues are compared
in_db "$NEW" -f demo/shop.sql >/dev/null
for db in "$OLD" "$NEW"; do
  in_db "$db" -c "SET client_min_messages = warning" -f tests/upgrade/register_demo.sql >/dev/null
done
out="$(mktemp -d)"
in_db "$OLD" -tA -f tests/upgrade/catalog.sql >"$out/upgraded"
in_db "$NEW" -tA -f tests/upgrade/catalog.sql >"$out/fresh"
if ! diff -u "$out/fresh" "$out/upgraded" >"$out/diff"; then
  head -60 "$out/diff" >&2
  die "an updated database differs from a fresh $current (above: - fresh, + updated)"
fi
objects=$(wc -l <"$out/fresh")
rm -rf "$out"
in_db postgres -c "DROP DATABASE $OLD" -c "DROP DATABASE $NEW"
log "$FROM -> $current: state kept, $objects catalogue lines the same as a fresh install"
