-- Profiles over the demo shop: registering sources, build_profile, the stored profiles and their
-- incremental refresh, the BI views, and what happens when sources go wrong.
\set ECHO none
\i ../../demo/shop.sql
\set ECHO all
\set VERBOSITY terse
SET client_min_messages = notice;
-- a progress NOTICE after every batch of a refresh
SET custprofile.progress_interval = 0;

-- nothing registered yet
SELECT try($$SELECT custprofile.build_profile(1001)$$);

-- registration says exactly what is wrong
SELECT try($$SELECT custprofile.register_source('shoppers', 'shop.customers', '{"key": "customer_id"}')$$);
SELECT try($$SELECT custprofile.register_source('customers', 'shop.nope', '{"key": "customer_id"}')$$);
SELECT try($$SELECT custprofile.register_source('customers', 'shop.customers', '{"id": "customer_id"}')$$);
SELECT try($$SELECT custprofile.register_source('customers', 'shop.customers', '{"attributes": ["age"]}')$$);
SELECT try($$SELECT custprofile.register_source('customers', 'shop.customers', '{"key": "customer_id", "attributes": ["age", "shoe_size"]}')$$);
SELECT try($$SELECT custprofile.register_source('customers', 'shop.customers', '{"key": "customer_id", "attributes": "age"}')$$);
SELECT try($$SELECT custprofile.register_source('customers', 'shop.customers', '{"key": "signup_date"}')$$);
SELECT try($$SELECT custprofile.register_source('customers', 'shop.customers', '"customer_id"')$$);
SELECT try($$SELECT custprofile.register_source('customers', 'shop.customers_pkey', '{"key": "customer_id"}')$$);
SELECT try($$SELECT custprofile.register_source('customers', NULL, '{"key": "customer_id"}')$$);
SELECT custprofile.register_source('customers', 'shop.customers',
         '{"key": "customer_id", "attributes": ["age", "city", "country", "signup_date", "segment"]}');
SELECT try($$SELECT custprofile.register_source('orders', 'shop.orders', '{"customer": "customer_id", "time": "total", "amount": "total"}')$$);
SELECT try($$SELECT custprofile.register_source('texts', 'shop.reviews', '{"customer": "customer_id", "text": "stars"}')$$);
CREATE VIEW shop.reviews_by_name AS SELECT customer_id::text AS customer, body FROM shop.reviews;
SELECT try($$SELECT custprofile.register_source('texts', 'shop.reviews_by_name', '{"customer": "customer", "text": "body"}')$$);
SELECT custprofile.register_source('orders', 'shop.orders',
         '{"customer": "customer_id", "time": "ordered_at", "amount": "total", "category": "category"}');
SELECT custprofile.register_source('texts', 'shop.reviews',
         '{"customer": "customer_id", "text": "body", "time": "written_at", "rating": "stars", "item": "product"}');
SELECT kind, relation, columns, relation_exists FROM custprofile.sources;

-- a role without SELECT on a table cannot register it
CREATE ROLE analyst_without_access;
GRANT USAGE ON SCHEMA shop TO analyst_without_access;
GRANT EXECUTE ON FUNCTION custprofile.register_source(text, regclass, jsonb) TO analyst_without_access;
SET ROLE analyst_without_access;
SELECT try($$SELECT custprofile.register_source('texts', 'shop.reviews', '{"customer": "customer_id", "text": "body"}')$$);
RESET ROLE;
REVOKE USAGE ON SCHEMA shop FROM analyst_without_access;
REVOKE EXECUTE ON FUNCTION custprofile.register_source(text, regclass, jsonb) FROM analyst_without_access;
DROP ROLE analyst_without_access;

-- one profile: demographics, purchases, text signals (times and recency depend on today)
SELECT jsonb_pretty(jsonb_set(p, '{texts,topics}', (SELECT jsonb_agg(t - 'sentiment') FROM jsonb_array_elements(p #> '{texts,topics}') t))
         - 'generated_at' - 'model'
         #- '{purchases,recency_days}' #- '{texts,interest_vector}' #- '{texts,model}'
         #- '{texts,sentiment,mean}' #- '{texts,sentiment,min}' #- '{texts,sentiment,max}'
         #- '{texts,sentiment,trend,slope_per_month}' #- '{texts,sentiment,trend,raw_slope_per_month}'
         #- '{texts,sentiment,trend,standard_error}' #- '{texts,rating,disagreement}'
         #- '{churn,as_of}' #- '{churn,risk}' #- '{churn,factors,recency}' #- '{churn,contributions}') AS profile
  FROM custprofile.build_profile(1011) p;
SELECT (p #>> '{texts,sentiment,mean}')::float8 > 0.2 AS mostly_positive, p -> 'model' AS model,
       jsonb_array_length(p #> '{texts,interest_vector}') AS dims, p ? 'generated_at' AS has_time
  FROM custprofile.build_profile(1011) p;
-- a customer who never ordered and one who never wrote
SELECT custprofile.build_profile(1036) -> 'purchases' AS no_orders;
SELECT custprofile.build_profile(1035) -> 'texts' AS no_texts;
-- unknown customers are NULL; keys may be given as text; NULL texts are counted
SELECT custprofile.build_profile(424242) AS unknown, custprofile.build_profile(NULL::bigint) AS null_key;
SELECT custprofile.build_profile('1001') #> '{texts,skipped}' AS skipped;
SELECT try($$SELECT custprofile.build_profile('not a number')$$);

-- RFM scores: 1 to 5 against the whole customer base
SELECT (p #>> '{purchases,rfm,frequency}')::int AS frequency, count(*) AS customers, min((p #>> '{purchases,orders}')::int) AS min_orders
  FROM custprofile.build_profiles(ARRAY(SELECT customer_id::text FROM shop.customers)) b, LATERAL (SELECT b.profile) s(p)
 GROUP BY 1 ORDER BY 1;

-- stored profiles: the first refresh builds all, in committed batches with progress NOTICEs
CALL custprofile.refresh_profiles(batch_size => 10);
SELECT count(*) AS profiles, count(interest_vector) AS with_vector FROM custprofile.profiles;
-- stored documents carry UTC times
SET TimeZone = 'UTC';
-- (the churn section is as of the moment it was built)
SELECT (SELECT profile - 'generated_at' - 'churn' FROM custprofile.profiles WHERE customer_key = '1011')
     = (custprofile.build_profile(1011) - 'generated_at' - 'churn') AS stored_equals_built;
RESET TimeZone;

-- judgements as of the data's own time: the demo's data ends in November 2026, and recency,
-- RFM and churn are judged as of its latest activity (custprofile.as_of = latest_activity),
-- whatever today's date is
SHOW custprofile.as_of;
SET TimeZone = 'UTC';
SELECT custprofile.as_of() AS as_of, custprofile.as_of() = (SELECT max(last_activity) FROM custprofile.profiles) AS latest_stored,
       (SELECT count(DISTINCT profile #>> '{churn,as_of}') FROM custprofile.profiles) AS moments,
       (SELECT profile #>> '{churn,as_of}' FROM custprofile.profiles LIMIT 1) AS stored_as_of;
SELECT last_activity FROM custprofile.customer_profiles WHERE customer_key = '1011';
-- as of another moment: an argument, or the setting for a session (views included)
SELECT custprofile.churn_risk(1011, '2030-01-01') > custprofile.churn_risk(1011) AS later_is_riskier,
       (custprofile.build_profile(1011, '2030-01-01') #>> '{churn,factors,recency}')::float8 AS recency_in_2030,
       (custprofile.build_profile(1011, '2030-01-01') #>> '{purchases,recency_days}')::int
         > (custprofile.build_profile(1011) #>> '{purchases,recency_days}')::int + 1000 AS counted_to_2030;
SET custprofile.as_of = '2030-01-01';
SELECT custprofile.as_of() AS as_of, (SELECT churn_risk FROM custprofile.customer_profiles WHERE customer_key = '1011')
       = custprofile.churn_risk(1011, '2030-01-01') AS view_follows;
SET custprofile.as_of = 'now';
SELECT custprofile.as_of() = now() AS is_now;
\set VERBOSITY default
SET custprofile.as_of = 'yesterday';
\set VERBOSITY terse
RESET custprofile.as_of;
-- the churn risk is a stored column too, for BI filters by an index: after the refresh it holds
-- as of the moment, and the view gives the figures judged on read
SELECT custprofile_internal.stored_churn_holds() AS stored_holds,
       (SELECT count(*) FROM custprofile.customer_profiles c
         WHERE c.churn_risk IS DISTINCT FROM custprofile.churn_risk(c.customer_key)) AS differ_from_read,
       (SELECT count(*) FROM custprofile.profiles WHERE churn_risk IS NULL) AS without_risk,
       -- customers between one and three rhythms since their last activity: their risk holds
       -- only for the moment it was judged at, and a new moment needs them judged again
       (SELECT count(*) FROM custprofile.profiles WHERE churn_valid_from = churn_valid_until) AS held_for_one_moment;
BEGIN;
-- the demo's table is small: without sequential scans the plan shows the index
SET LOCAL enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT customer_key FROM custprofile.customer_profiles WHERE churn_risk > 0.5;
ROLLBACK;
-- as of another moment the stored column does not hold, and the view judges on read
SET custprofile.as_of = '2030-01-01';
SELECT custprofile_internal.stored_churn_holds() AS holds_in_2030,
       count(*) FILTER (WHERE c.churn_risk IS DISTINCT FROM custprofile.churn_risk(c.customer_key, '2030-01-01')) AS differ
  FROM custprofile.customer_profiles c;
RESET custprofile.as_of;
-- other weights (an admin may edit churn_model) or complaint topics: the column does not hold
-- until it is judged with them, and the view judges on read meanwhile
BEGIN;
INSERT INTO custprofile.churn_model (weights) VALUES (custprofile_internal.default_churn_weights() || '{"recency": 5.0}');
SELECT custprofile_internal.stored_churn_holds() AS holds_with_other_weights,
       count(*) FILTER (WHERE c.churn_risk IS DISTINCT FROM custprofile.churn_risk(c.customer_key)) AS differ
  FROM custprofile.customer_profiles c;
SELECT custprofile_internal.judge_stored_churn() = (SELECT count(*) FROM custprofile.profiles) AS judged_every_row;
SELECT custprofile_internal.stored_churn_holds() AS holds_again,
       count(*) FILTER (WHERE c.churn_risk IS DISTINCT FROM custprofile.churn_risk(c.customer_key)) AS differ
  FROM custprofile.customer_profiles c;
ROLLBACK;
-- the data moves on (one customer orders a day after the latest activity): the refresh
-- rebuilds that customer and judges again only the rows whose risk does not hold for the new
-- moment; then the column holds again and equals the risk judged on read
BEGIN;
SELECT custprofile.as_of() AS before \gset
INSERT INTO shop.orders VALUES (999001, 1011, :'before'::timestamptz + interval '1 day', 10, 'kettle', 'kitchen');
SELECT custprofile_internal.stored_churn_holds() AS holds_before_the_refresh;
SELECT custprofile.refresh_profiles_in_transaction() ->> 'rebuilt' AS rebuilt;
SELECT custprofile.as_of() > :'before'::timestamptz AS moment_moved,
       custprofile_internal.stored_churn_holds() AS holds_again,
       (SELECT count(*) FROM custprofile.customer_profiles c
         WHERE c.churn_risk IS DISTINCT FROM custprofile.churn_risk(c.customer_key)) AS differ_from_read,
       (SELECT count(*) FROM custprofile.profiles WHERE churn_valid_from > custprofile.as_of() OR churn_valid_until < custprofile.as_of()) AS not_holding,
       custprofile_internal.judge_stored_churn() AS judged_again;
ROLLBACK;
SELECT (custprofile.rfm_breakpoints() ->> 'as_of')::timestamptz = custprofile.as_of() AS breakpoints_as_of,
       custprofile.rfm_breakpoints() -> 'spend' AS spend_breakpoints;
RESET TimeZone;
-- nothing changed, nothing rebuilt
CALL custprofile.refresh_profiles();
-- inside a transaction block the procedure, which commits, says what to do instead
BEGIN;
\set VERBOSITY default
CALL custprofile.refresh_profiles();
\set VERBOSITY terse
ROLLBACK;
-- the function form refreshes within the caller's transaction, and a rollback undoes it all
BEGIN;
UPDATE shop.reviews SET body = body || ' Still happy.' WHERE review_id = (SELECT min(review_id) FROM shop.reviews WHERE customer_id = 1011);
SELECT custprofile.refresh_profiles_in_transaction() AS refreshed;
SELECT refreshed_at = now() AS rebuilt_in_this_transaction FROM custprofile.profiles WHERE customer_key = '1011';
ROLLBACK;
SELECT count(*) AS queued, (SELECT count(*) FROM custprofile.profiles p JOIN custprofile_internal.source_fingerprints() f USING (customer_key)
                             WHERE p.source_hash <> f.source_hash) AS stale
  FROM custprofile.refresh_queue;
SELECT try($$SELECT custprofile.refresh_profiles_in_transaction(0)$$);
-- only the customers whose rows changed are rebuilt: an edited review, a new order, a customer gone
UPDATE shop.reviews SET body = 'Actually, after a month it broke. Very disappointed.' WHERE review_id = (SELECT min(review_id) FROM shop.reviews WHERE customer_id = 1008);
INSERT INTO shop.orders VALUES (9001, 1012, '2026-11-20 10:00+00', 99.00, NULL, 'outdoor');
DELETE FROM shop.customers WHERE customer_id = 1036;
CALL custprofile.refresh_profiles();
SELECT customer_key, (profile #>> '{texts,sentiment,mean}')::float8 < 0 AS now_negative FROM custprofile.profiles WHERE customer_key = '1008';
SELECT (profile #>> '{purchases,orders}')::int AS orders FROM custprofile.profiles WHERE customer_key = '1012';
SELECT count(*) AS gone FROM custprofile.profiles WHERE customer_key = '1036';

-- editing the topics rebuilds every profile with them
UPDATE custprofile.topics SET description = description || ', postage' WHERE topic = 'delivery';
CALL custprofile.refresh_profiles();
SELECT count(*) AS with_topics FROM custprofile.profiles WHERE jsonb_array_length(profile #> '{texts,topics}') > 0;
SELECT main_need, count(*) AS customers FROM custprofile.customer_profiles WHERE main_need IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3;
UPDATE custprofile.topics SET description = replace(description, ', postage', '') WHERE topic = 'delivery';

-- a second text source; a failure in the middle of a refresh keeps the finished batches and the
-- next call resumes with the rest
CREATE TABLE shop.tickets (ticket_id int, customer_id bigint, message text, score real, sent_at timestamptz);
INSERT INTO shop.tickets VALUES
  (1, 1003, 'Where is my parcel? It is two weeks late.', 2, '2026-11-10 09:00+00'),
  (2, 1015, 'Thanks for the quick replacement!', 'NaN', '2026-11-11 09:00+00');
SELECT custprofile.register_source('texts', 'shop.tickets', '{"customer": "customer_id", "text": "message", "time": "sent_at", "rating": "score"}') ->> 'relation' AS registered;
CALL custprofile.refresh_profiles(batch_size => 10, full_rebuild => true);
SELECT count(*) AS left_in_queue FROM custprofile.refresh_queue;
-- the failed run is in custprofile.runs with its SQLSTATE and the batches it finished
SELECT operation, status, rows, error_code, finished_at IS NOT NULL AS finished
  FROM custprofile.runs WHERE operation = 'refresh_profiles' ORDER BY run_id DESC LIMIT 1;
UPDATE shop.tickets SET score = 5 WHERE ticket_id = 2;
CALL custprofile.refresh_profiles(batch_size => 10);
SELECT count(*) AS left_in_queue FROM custprofile.refresh_queue;
SELECT operation, status, rows, error_code, detail FROM custprofile.runs WHERE operation = 'refresh_profiles' ORDER BY run_id DESC LIMIT 1;
SELECT (profile #>> '{texts,texts}')::int AS texts_with_ticket FROM custprofile.profiles WHERE customer_key = '1015';

-- renamed and dropped sources: a clear ERROR on the next use, and check_sources says why
ALTER TABLE shop.reviews RENAME TO product_reviews;
SELECT relation FROM custprofile.sources WHERE kind = 'texts';
ALTER TABLE shop.product_reviews RENAME TO reviews;
ALTER TABLE shop.tickets RENAME COLUMN message TO ticket_text;
SELECT try($$SELECT custprofile.build_profile(1003)$$);
ALTER TABLE shop.tickets RENAME COLUMN ticket_text TO message;
DROP TABLE shop.tickets;
CALL custprofile.refresh_profiles();
SELECT kind, relation, check_name, rows, detail FROM custprofile.check_sources();
SELECT custprofile.unregister_source('texts', 'shop.tickets') AS unregistered;
CALL custprofile.refresh_profiles();
SELECT kind, relation, check_name, rows FROM custprofile.check_sources() WHERE rows <> 0;

-- the BI views: typed columns, no JSON needed
SELECT column_name, data_type FROM information_schema.columns
 WHERE table_schema = 'custprofile' AND table_name = 'customer_profiles' ORDER BY ordinal_position;
SELECT customer_key, text_count, round(mean_sentiment::numeric, 1) AS sentiment, order_count, total_spend,
       recency_score, frequency_score, monetary_score, favourite_category
  FROM custprofile.customer_profiles ORDER BY customer_key LIMIT 5;
SELECT source, customer_key, rating, sentiment_label, language, left(body, 40) AS body
  FROM custprofile.text_insights WHERE customer_key = '1011' ORDER BY written_at;

-- text_insights reads the scores the refresh stored, once per text content, and runs the
-- encoder on read only for what is not stored; stored or not, they are the encoder's own
SELECT count(DISTINCT r.body) AS profiled_texts,
       count(*) FILTER (WHERE NOT EXISTS (SELECT FROM custprofile.text_scores s
                                           WHERE s.text_hash = sha256(convert_to(r.body, 'UTF8')))) AS not_stored
  FROM custprofile_internal.registered_texts() r
 WHERE btrim(r.body) <> '' AND r.customer_key IN (SELECT customer_key FROM custprofile.profiles);
SELECT count(DISTINCT scored_by) AS scorers, bool_and(scored_by = custprofile_internal.text_scorer()) AS current_models
  FROM custprofile.text_scores;
SELECT count(*) AS texts,
       count(*) FILTER (WHERE i.sentiment_label = d ->> 'sentiment' AND abs(i.sentiment - (d ->> 'score')::real) < 1e-3
                          AND i.intent IS NOT DISTINCT FROM d ->> 'intent') AS as_scored_now
  FROM custprofile.text_insights i, LATERAL (SELECT custprofile.text_signals(i.body)) s(d) WHERE i.body IS NOT NULL;
-- the view reads the copy of the texts the refresh stored: the sources' rows, each once, and
-- nothing left to read from the sources
SELECT (SELECT count(*) FROM custprofile.stored_texts) AS stored_texts,
       (SELECT count(*) FROM custprofile_internal.registered_texts()) AS registered_texts,
       (SELECT count(*) FROM custprofile_internal.unstored_texts()) AS unstored_texts;
SELECT (SELECT string_agg(r, ';' ORDER BY r) FROM (SELECT concat_ws('|', source, customer_key, written_at, rating, body)
                                                  FROM custprofile.text_insights) i(r))
       = (SELECT string_agg(r, ';' ORDER BY r) FROM (SELECT concat_ws('|', source, customer_key, written_at, rating, body)
                                                    FROM custprofile_internal.registered_texts()) t(r)) AS same_rows_as_the_sources;
-- a plain view: the planner takes a filter on customer_key or written_at to the copy's indexes
CREATE FUNCTION pg_temp.insights_plan(filter text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  SET LOCAL enable_seqscan = off;
  RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) SELECT * FROM custprofile.text_insights WHERE ' || filter;
END $$;
SELECT bool_or(line ~ 'Index Scan (using|on) stored_texts_customer_key') AS customer_index
  FROM pg_temp.insights_plan($$customer_key = '1011'$$) AS line;
SELECT bool_or(line ~ 'Index( Only)? Scan (Backward )?(using|on) stored_texts_written_at') AS time_index
  FROM pg_temp.insights_plan($$written_at >= '2026-10-01'$$) AS line;
-- a text written since the refresh is read from its source and scored on read, until the next
-- refresh stores it
INSERT INTO shop.reviews VALUES (9901, 1011, 'Trail Shoes', 2, 'Terrible laces, they snapped on the first walk. Very disappointed.', '2026-11-30 10:00+00');
SELECT source, customer_key, sentiment_label, intent, body FROM custprofile.text_insights WHERE written_at > '2026-11-29';
SELECT count(*) AS unstored_texts FROM custprofile_internal.unstored_texts();
-- ... read through the source's index on its time column
CREATE INDEX reviews_by_time ON shop.reviews (written_at);
SET enable_seqscan = off;
SELECT count(*) AS texts_since FROM custprofile.text_insights WHERE written_at > '2026-11-29';
SELECT pg_stat_force_next_flush();
RESET enable_seqscan;
SELECT idx_scan > 0 AS time_index_scanned FROM pg_stat_user_indexes WHERE indexrelname = 'reviews_by_time';
DROP INDEX shop.reviews_by_time;
CALL custprofile.refresh_profiles();
SELECT count(*) AS unstored_texts, (SELECT count(*) FROM custprofile.stored_texts WHERE body LIKE 'Terrible laces%') AS stored
  FROM custprofile_internal.unstored_texts();
-- one written at the same time as the latest stored one is read too
INSERT INTO shop.reviews VALUES (9902, 1012, 'Trail Shoes', 5, 'Same minute, other customer: great shoes.', '2026-11-30 10:00+00');
SELECT count(*) AS unstored_texts, (SELECT count(*) FROM custprofile.text_insights WHERE written_at = '2026-11-30 10:00+00') AS shown
  FROM custprofile_internal.unstored_texts();
DELETE FROM shop.reviews WHERE review_id = 9902;
-- an edited or deleted row shows as the last refresh found it, until the next refresh
DELETE FROM shop.reviews WHERE review_id = 9901;
SELECT count(*) AS still_shown FROM custprofile.text_insights WHERE written_at > '2026-11-29';
CALL custprofile.refresh_profiles();
SELECT count(*) AS shown_after_refresh FROM custprofile.text_insights WHERE written_at > '2026-11-29';
-- registering a texts source again (other columns, perhaps) drops its stored copy: the view
-- reads it from the source until the next refresh
SELECT count(*) AS stored_before FROM custprofile.stored_texts WHERE relid = 'shop.reviews'::regclass;
SELECT custprofile.register_source('texts', 'shop.reviews',
         '{"customer": "customer_id", "text": "body", "time": "written_at", "rating": "stars", "item": "product"}') IS NOT NULL AS registered;
SELECT (SELECT count(*) FROM custprofile.stored_texts WHERE relid = 'shop.reviews'::regclass) AS stored_after,
       (SELECT count(*) FROM custprofile.text_insights WHERE source = 'shop.reviews') AS shown,
       (SELECT count(*) FROM custprofile_internal.registered_texts() WHERE source = 'shop.reviews') AS in_the_source;
CALL custprofile.refresh_profiles();
SELECT count(*) AS stored_again FROM custprofile.stored_texts WHERE relid = 'shop.reviews'::regclass;
-- a renamed source keeps its stored rows, shown under its new name, none twice
ALTER TABLE shop.reviews RENAME TO renamed_reviews;
SELECT source, count(*) AS shown, (SELECT count(*) FROM custprofile_internal.unstored_texts()) AS read_from_the_source
  FROM custprofile.text_insights GROUP BY source;
ALTER TABLE shop.renamed_reviews RENAME TO reviews;
-- a time column without a time zone is read in UTC, as the profiles read it: in a session west of
-- UTC the latest stored row is not read again
CREATE TABLE shop.notes (customer_id bigint, note text, noted_at timestamp);
INSERT INTO shop.notes VALUES (1011, 'Asked about the warranty of the tent.', '2026-11-01 08:00');
SELECT custprofile.register_source('texts', 'shop.notes', '{"customer": "customer_id", "text": "note", "time": "noted_at"}') IS NOT NULL AS registered;
CALL custprofile.refresh_profiles();
SET TimeZone = 'America/Los_Angeles';
SELECT count(*) AS shown, (SELECT count(*) FROM custprofile_internal.unstored_texts()) AS unstored
  FROM custprofile.text_insights WHERE source = 'shop.notes';
RESET TimeZone;
SELECT custprofile.unregister_source('texts', 'shop.notes') AS unregistered;
DROP TABLE shop.notes;
CALL custprofile.refresh_profiles();
BEGIN;
CREATE TEMP TABLE first_text ON COMMIT DROP AS
SELECT sha256(convert_to(body, 'UTF8')) AS text_hash, body FROM custprofile.text_insights
 WHERE customer_key = '1011' ORDER BY written_at LIMIT 1;
-- a stored score is what the view shows (here one changed by hand) ...
UPDATE custprofile.text_scores s SET sentiment = 0.1234 FROM first_text f WHERE s.text_hash = f.text_hash;
SELECT i.sentiment FROM custprofile.text_insights i JOIN first_text f USING (body);
-- ... and a text not stored is scored on read
DELETE FROM custprofile.text_scores s USING first_text f WHERE s.text_hash = f.text_hash;
SELECT i.sentiment = (custprofile.text_signals(f.body) ->> 'score')::real AS scored_on_read
  FROM custprofile.text_insights i JOIN first_text f USING (body);
-- scores of other models are dropped by the next refresh, and a full rebuild stores them anew
-- (and drops those of texts no source holds any more: the unregistered tickets, edited reviews)
UPDATE custprofile.text_scores SET scored_by = 'an older encoder';
SELECT custprofile.refresh_profiles_in_transaction(full_rebuild => true) ->> 'rebuilt' IS NOT NULL AS refreshed;
-- (the texts of a customer no longer in the customers source too: the refresh scores them after the profiles)
SELECT count(*) = (SELECT count(DISTINCT body) FROM custprofile_internal.registered_texts() WHERE btrim(body) <> '') AS each_text_once,
       (SELECT count(*) FROM custprofile_internal.registered_texts() WHERE customer_key NOT IN (SELECT customer_key FROM custprofile.profiles)) > 0
         AS some_without_a_profile,
       bool_and(scored_by = custprofile_internal.text_scorer()) AS current_models
  FROM custprofile.text_scores;
-- the lookup for other models' scores that every refresh makes can use the index, whatever the
-- table's size (without the index this is a sequential scan). The planner serves the two ranges
-- either by two index conditions or by one full index scan with a filter, as the statistics of
-- the moment make it cheaper: both use the index, so only that is checked.
SET LOCAL enable_seqscan = off;
CREATE FUNCTION pg_temp.prune_plan() RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXPLAIN (COSTS OFF) SELECT FROM custprofile.text_scores s WHERE s.scored_by < 'x' OR s.scored_by > 'x';
END $$;
SELECT bool_or(line LIKE '%Index Scan on text_scores_scored_by%') AS uses_the_index,
       NOT bool_or(line LIKE '%Seq Scan%') AS no_sequential_scan
  FROM pg_temp.prune_plan() AS line;
ROLLBACK;

-- two refreshes at once share the work: no customer is written by both
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE TABLE public.profile_writes (customer_key text, pid int);
CREATE FUNCTION public.log_profile_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.profile_writes VALUES (NEW.customer_key, pg_backend_pid()); RETURN NEW; END $$;
CREATE TRIGGER log_write AFTER INSERT OR UPDATE ON custprofile.profiles FOR EACH ROW EXECUTE FUNCTION public.log_profile_write();
UPDATE shop.customers SET city = upper(city);
SELECT dblink_connect('other', format('dbname=%s port=%s host=%s user=%s', current_database(), current_setting('port'),
                      split_part(current_setting('unix_socket_directories'), ',', 1), current_user));
SELECT dblink_send_query('other', 'CALL custprofile.refresh_profiles(batch_size => 2)');
SET client_min_messages = warning;
CALL custprofile.refresh_profiles(batch_size => 2);
SELECT * FROM dblink_get_result('other') AS r(status text);
SELECT dblink_disconnect('other');
SELECT count(*) AS writes, count(DISTINCT customer_key) AS customers FROM public.profile_writes;
SELECT count(*) AS stale FROM custprofile.profiles p JOIN custprofile_internal.source_fingerprints() f USING (customer_key)
 WHERE p.source_hash <> f.source_hash;
DROP TRIGGER log_write ON custprofile.profiles;
DROP TABLE public.profile_writes;
DROP FUNCTION public.log_profile_write();
DROP EXTENSION dblink;

-- the profile document has one owner (sql/profile_document.sql): every stored document is
-- version 2, and profile_row reads each field as its JSON path does
SELECT count(*) AS profiles, count(*) FILTER (WHERE (custprofile.profile_row(profile)).version = 2) AS version_2,
       count(*) FILTER (WHERE profile -> 'version' = '2') AS stamped
  FROM custprofile.profiles;
SELECT count(*) AS mismatches FROM custprofile.profiles p, LATERAL (SELECT (custprofile.profile_row(p.profile)).*) r
 WHERE r.text_count IS DISTINCT FROM (p.profile #>> '{texts,texts}')::int
    OR r.mean_sentiment IS DISTINCT FROM (p.profile #>> '{texts,sentiment,mean}')::float8
    OR r.negative_share IS DISTINCT FROM (p.profile #>> '{texts,sentiment,distribution,negative}')::float8
    OR r.needs IS DISTINCT FROM p.profile #> '{texts,needs}'
    OR r.main_topic IS DISTINCT FROM p.profile #>> '{texts,topics,0,topic}'
    OR r.last_text_at IS DISTINCT FROM (p.profile #>> '{texts,last_seen}')::timestamptz
    OR r.order_count IS DISTINCT FROM (p.profile #>> '{purchases,orders}')::int
    OR r.average_spend IS DISTINCT FROM (p.profile #>> '{purchases,average_spend}')::numeric
    OR r.recency_score IS DISTINCT FROM (p.profile #>> '{purchases,rfm,recency}')::int
    OR r.monetary_score IS DISTINCT FROM (p.profile #>> '{purchases,rfm,monetary}')::int
    OR r.orders_by_category IS DISTINCT FROM p.profile #> '{purchases,orders_by_category}'
    OR r.rhythm_days IS DISTINCT FROM (p.profile #>> '{churn,rhythm_days}')::float8
    OR r.generated_at IS DISTINCT FROM (p.profile ->> 'generated_at')::timestamptz;
-- a document without "version" (stored before 0.3.0) reads as version 1; NULL has no version
SELECT (custprofile.profile_row('{"texts": {"texts": 2}}')).version AS unversioned,
       (custprofile.profile_row('{}')).text_count AS no_texts, (custprofile.profile_row(NULL)).version AS null_document;
-- the reader is inlined: a view column is the bare JSON path
CREATE FUNCTION pg_temp.verbose_plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN RETURN QUERY EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || q; END $$;
SELECT bool_or(line LIKE '%.profile #>> ''{texts,sentiment,mean}''::text[])%') AS inlined,
       bool_or(line LIKE '%profile_row%') AS called
  FROM pg_temp.verbose_plan('SELECT mean_sentiment FROM custprofile.customer_profiles') line;
SELECT count(*) AS fields, count(DISTINCT field) AS distinct_fields,
       count(*) FILTER (WHERE field LIKE 'texts.%') AS texts_fields FROM custprofile.profile_document_fields();

-- no stored trend goes beyond what its texts support: at least three dated texts over 30 days,
-- shrunk toward 0 (never past the least-squares slope), and within the score scale over the span
SELECT count(*) AS profiles, count(t) AS with_trend,
       count(*) FILTER (WHERE (t ->> 'texts')::int < 3 OR (t ->> 'span_days')::float8 < 30) AS thin,
       count(*) FILTER (WHERE abs((t ->> 'slope_per_month')::float8) > abs((t ->> 'raw_slope_per_month')::float8)) AS grown,
       count(*) FILTER (WHERE abs((t ->> 'slope_per_month')::float8) * (t ->> 'span_days')::float8 / 30 > 2) AS off_scale,
       max(abs((t ->> 'slope_per_month')::float8)) < 0.2 AS bounded
  FROM custprofile.profiles p, LATERAL (SELECT NULLIF(p.profile #> '{texts,sentiment,trend}', 'null') AS t) x;

-- a customer whose texts are all NULL or blank has a texts section whose interest vector is
-- null: the stored vector is empty, not an ERROR that fails the refresh batch
SELECT p -> 'interest_vector' AS in_document, custprofile_internal.texts_interest_vector(p) AS stored
  FROM (SELECT custprofile.profile_agg(b) AS p FROM (VALUES (NULL::text), ('  ')) v(b)) x;

-- a source description (checked_sources) is only read for the kinds it was made for, and names
-- relations and types only through an oid and a regtype
SELECT try($$SELECT custprofile_internal.texts_sql(custprofile_internal.checked_sources('customers'))$$);
SELECT try($$SELECT custprofile_internal.orders_sql(custprofile_internal.checked_sources('customers', 'texts'))$$);
SELECT try($$SELECT custprofile_internal.key_type('{"key_type": "bigint; DROP TABLE shop.orders"}')$$);
SELECT custprofile_internal.orders_sql(custprofile_internal.checked_sources('customers', 'orders')) LIKE '%FROM shop.orders o' AS orders_by_oid;

-- the sources are checked once per statement: build_profile checks each registration once
BEGIN;
SET LOCAL track_functions = 'all';
SELECT custprofile.build_profile(1011) IS NOT NULL AS built;
SELECT s.calls AS registration_checks FROM pg_stat_xact_user_functions s
 WHERE s.schemaname = 'custprofile_internal' AND s.funcname = 'check_registration';
COMMIT;
-- the query behind it, with its plan
SELECT count(*) > 10 AS has_plan, bool_or(line LIKE '%Seq Scan on reviews%') AS reads_reviews,
       bool_or(line LIKE '%GroupAggregate%') AS groups_texts
  FROM custprofile.explain_build_profiles(ARRAY['1011']) line;
SELECT (SELECT count(*) FROM custprofile.explain_build_profiles(ARRAY['1011', '1012'], actual => true) l
         WHERE l LIKE '%actual rows%') > 0 AS analysed;

-- clean up: registrations and stored profiles go with the shop
SELECT custprofile.unregister_source(kind, relation) FROM custprofile.sources;
TRUNCATE custprofile.profiles, custprofile.refresh_queue;
DROP SCHEMA shop CASCADE;
