-- Acting on profiles over the demo shop: catalogues (items, answers) and their stored
-- embeddings, similar customers, recommendations, segments, churn risk and reply suggestions.
\set ECHO none
\i ../../demo/shop.sql
\set ECHO all
\set VERBOSITY terse
SET client_min_messages = warning;
SELECT custprofile.register_source('customers', 'shop.customers', '{"key": "customer_id", "attributes": ["city"]}') IS NOT NULL AS registered;
SELECT custprofile.register_source('orders', 'shop.orders',
         '{"customer": "customer_id", "time": "ordered_at", "amount": "total", "item": "product", "category": "category"}') IS NOT NULL AS registered;
SELECT custprofile.register_source('texts', 'shop.reviews',
         '{"customer": "customer_id", "text": "body", "time": "written_at", "rating": "stars", "item": "product"}') IS NOT NULL AS registered;

-- before anything is built or registered: errors that say what to do
SELECT try($$SELECT * FROM custprofile.similar_customers(1007)$$);
SELECT try($$SELECT custprofile.churn_risk(1007)$$);
SELECT try($$SELECT * FROM custprofile.segment_customers(3)$$);
SELECT try($$SELECT * FROM custprofile.recommend(1007)$$);
SELECT try($$SELECT * FROM custprofile.suggest_replies('where is my refund')$$);

-- registering catalogues is checked like every source
SELECT try($$SELECT custprofile.register_source('items', 'shop.items', '{"key": "item_id"}')$$);
SELECT try($$SELECT custprofile.register_source('items', 'shop.items', '{"key": "item_id", "title": "price"}')$$);
SELECT try($$SELECT custprofile.register_source('answers', 'shop.help_articles', '{"key": "article_id", "question": "question"}')$$);
SELECT custprofile.register_source('items', 'shop.items',
         '{"key": "item_id", "title": "title", "description": "description", "category": "category", "price": "price"}') IS NOT NULL AS registered;
SELECT custprofile.register_source('answers', 'shop.help_articles',
         '{"key": "article_id", "question": "question", "answer": "answer"}') IS NOT NULL AS registered;
SELECT kind, relation FROM custprofile.sources;

-- the refresh embeds the catalogues once; a second refresh embeds nothing
CALL custprofile.refresh_profiles();
SELECT kind, count(*), min(cardinality(embedding)) AS dims FROM custprofile.catalogue_embeddings GROUP BY kind ORDER BY kind;
SELECT * FROM custprofile.refresh_catalogues();
-- a stored item vector is the embedding of "title. category. description"
SELECT custprofile.cosine_similarity(e.embedding,
         custprofile.embed_text('Burr coffee grinder. kitchen. Conical burr grinder with 30 settings from espresso to French press.')) > 0.9999 AS same
  FROM custprofile.catalogue_embeddings e WHERE e.kind = 'items' AND e.key = 'coffee grinder';

-- a changed item text: recommend never sees the stale vector, the next refresh re-embeds only it
UPDATE shop.items SET description = 'Portable speaker for the beach and the pool.' WHERE item_id = 'bluetooth speaker';
CREATE FUNCTION pg_temp.item_vector_fits(item text, document text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE similarity real;
BEGIN
  EXECUTE format('SELECT c.similarity FROM (%s) c WHERE c.key = $1', custprofile_internal.catalogue_similarity_sql('items', '$2', custprofile_internal.checked_sources('items')))
     INTO similarity USING item, custprofile.embed_text(document);
  RETURN similarity > 0.9999;
END $$;
SELECT pg_temp.item_vector_fits('bluetooth speaker', 'Pocket speaker. electronics. Portable speaker for the beach and the pool.') AS fresh_before_refresh;
SELECT * FROM custprofile.refresh_catalogues();
SELECT pg_temp.item_vector_fits('bluetooth speaker', 'Pocket speaker. electronics. Portable speaker for the beach and the pool.') AS fresh_after_refresh;
DELETE FROM shop.help_articles WHERE article_id = 10;
SELECT * FROM custprofile.refresh_catalogues();
INSERT INTO shop.help_articles VALUES (10, 'I forgot my password.', 'Use the "forgot password" link on the sign-in page.');

-- similar customers: most similar first, never the customer itself, the same answer from each
-- key type overload; an unknown customer gives no rows
SELECT count(*) AS rows, bool_and(customer_id <> 1007) AS without_itself,
       bool_and(similarity BETWEEN -1 AND 1) AS in_range
  FROM custprofile.similar_customers(1007, 10);
SELECT array_agg(similarity ORDER BY similarity DESC) = array_agg(similarity) AS sorted
  FROM custprofile.similar_customers(1007, 35);
SELECT (SELECT array_agg(customer_id::text) FROM custprofile.similar_customers(1007, 5))
     = (SELECT array_agg(customer_id) FROM custprofile.similar_customers('1007', 5)) AS overloads_agree;
SELECT count(*) FROM custprofile.similar_customers(4242);
-- customers who write about the same category as 1007 (outdoor, unhappy) rank above the rest
SELECT avg(CASE WHEN s.customer_id % 5 = 1007 % 5 THEN rank END) < avg(CASE WHEN s.customer_id % 5 <> 1007 % 5 THEN rank END)
       AS same_interest_first
  FROM (SELECT customer_id, row_number() OVER (ORDER BY similarity DESC) AS rank
          FROM custprofile.similar_customers(1007, 35)) s;
SELECT try($$SELECT * FROM custprofile.similar_customers(1007, 0)$$);
SELECT try($$SELECT * FROM custprofile.similar_customers(1007, 1001)$$);

-- recommendations: nothing the customer ordered or reviewed; its own category and what it
-- praised first; a reason from its own evidence
SELECT count(*) AS owned_recommended
  FROM custprofile.recommend(1007, 100) r
 WHERE r.item_id IN (SELECT product FROM shop.orders WHERE customer_id = 1007 AND product IS NOT NULL
                     UNION SELECT product FROM shop.reviews WHERE customer_id = 1007);
SELECT item_id, round(score::numeric, 2) AS score, reason FROM custprofile.recommend(1007, 3);
-- 1023 buys books and wrote happy reviews: books it does not own come first, with the praise
SELECT r.item_id, i.category, r.reason ~ 'you praised' AS cites_praise
  FROM custprofile.recommend(1023, 3) r JOIN shop.items i USING (item_id) ORDER BY r.score DESC;
-- the same reasons for a shop whose analysts read Chinese (custprofile.label_language)
SET custprofile.label_language = 'zh';
SELECT item_id, round(score::numeric, 2) AS score, reason FROM custprofile.recommend(1007, 3);
RESET custprofile.label_language;
SELECT count(*) FROM custprofile.recommend(4242);
SELECT try($$SELECT * FROM custprofile.recommend(1007, -1)$$);
-- the reason never quotes a review: no word of five letters or more from any review text
-- that is not also in the shop's catalogue and category names
SELECT count(*) AS reasons_quoting_reviews
  FROM shop.customers c, custprofile.recommend(c.customer_id, 5) r,
       regexp_split_to_table(lower(r.reason), '[^a-z]+') w
 WHERE length(w) >= 5
   AND w NOT IN (SELECT regexp_split_to_table(lower(title || ' ' || item_id || ' ' || category), '[^a-z]+') FROM shop.items)
   AND w NOT IN ('order', 'orders', 'praised', 'close', 'reviews', 'talk', 'about', 'within', 'usual', 'spend', 'closest',
                 'match', 'profile', 'which', 'their', 'where');

-- segments: k-means with a fixed seed, stored with the profile, described by the view; first
-- thing in a new session (the settings it reads exist once the library is loaded)
\c
\set VERBOSITY terse
SET client_min_messages = warning;
SELECT segment, count(*) FROM custprofile.segment_customers(4) GROUP BY segment ORDER BY segment;
SELECT count(*) FILTER (WHERE segment IS NULL) AS without_segment, count(DISTINCT segment) AS segments
  FROM custprofile.profiles;
-- the same data and seed give the same segments; another seed is allowed to differ
CREATE TEMP TABLE first_run AS SELECT customer_key, segment FROM custprofile.profiles;
SELECT count(*) AS changed FROM custprofile.segment_customers(4) s JOIN first_run f ON f.customer_key = s.customer_id
 WHERE f.segment <> s.segment;
SELECT segment, customers, name ~ '(buyers|customers)' AS named, cardinality(top_categories) > 0 AS has_categories,
       cardinality(keywords) BETWEEN 1 AND 5 AS has_keywords
  FROM custprofile.segments;
SELECT sum(customers) AS all_customers FROM custprofile.segments;
-- names tell the segments apart, and each trait named has its evidence against the base
SELECT count(*) AS segments, count(DISTINCT name) AS distinct_names,
       bool_and(jsonb_typeof(name_evidence) = 'array') AS evidence_listed,
       bool_and(complaint_share BETWEEN 0 AND 1) AS complaint_share_in_range
  FROM custprofile.segments;
SELECT segment, name, jsonb_path_query_array(name_evidence, '$[*].trait') AS traits FROM custprofile.segments ORDER BY segment;
SET custprofile.label_language = 'zh';
SELECT segment, name FROM custprofile.segments ORDER BY segment;
RESET custprofile.label_language;

-- customers of one demo persona (favourite category i % 5 and mood i % 3) share a segment far
-- more often than any two customers do: more than twice as often (RFM scores alone, or interest
-- vectors that all point one way, would not tell the personas apart)
SELECT together::float / pairs > 2 * (SELECT count(*) FILTER (WHERE a.segment = b.segment)::float / count(*)
                                        FROM custprofile.profiles a JOIN custprofile.profiles b ON a.customer_key < b.customer_key)
       AS personas_shape_segments
  FROM (SELECT count(*) FILTER (WHERE a.segment = b.segment) AS together, count(*) AS pairs
          FROM custprofile.profiles a JOIN custprofile.profiles b
            ON a.customer_key < b.customer_key AND a.customer_key::int % 15 = b.customer_key::int % 15) x;
-- segment_names on its own: segments alike on average are named for what differs, and
-- identical ones still get distinct names
SELECT jsonb_pretty(custprofile.segment_names('[
  {"segment": 1, "customers": 10, "mean_sentiment": 0.4, "mean_monetary": 3, "texts": 30, "complaints": 3,
   "categories": {"echo": 40, "kindle": 5}, "topics": {"returns and refunds": {"texts": 10, "sentiment": -0.6}, "sound": {"texts": 20, "sentiment": 0.7}}},
  {"segment": 2, "customers": 10, "mean_sentiment": 0.4, "mean_monetary": 3, "texts": 30, "complaints": 3,
   "categories": {"kindle": 40, "echo": 5}, "topics": {"returns and refunds": {"texts": 10, "sentiment": -0.6}, "reading": {"texts": 20, "sentiment": 0.6}}},
  {"segment": 3, "customers": 10, "mean_sentiment": -0.3, "mean_monetary": 2, "texts": 30, "complaints": 15,
   "categories": {"echo": 20, "kindle": 20}, "topics": {"returns and refunds": {"texts": 25, "sentiment": -0.7}}}]'));
SELECT custprofile.segment_names('[{"segment": 1, "customers": 5}, {"segment": 2, "customers": 5}]', 'zh') AS identical;
SELECT try($$SELECT custprofile.segment_names('{"segment": 1}')$$);
SELECT try($$SELECT custprofile.segment_names('[]', 'fr')$$);
SELECT try($$SELECT * FROM custprofile.segment_customers(0)$$);
SELECT try($$SELECT * FROM custprofile.segment_customers(37)$$);
SELECT try($$SELECT * FROM custprofile.segment_customers(3, '{"seeds": 1}')$$);
SELECT try($$SELECT * FROM custprofile.segment_customers(3, '[]')$$);

-- churn risk: in [0, 1], the stored factors explain it, unhappy and silent customers rank high
SELECT count(*) AS profiles, bool_and(custprofile.churn_risk(customer_key) BETWEEN 0 AND 1) AS in_range,
       bool_and(profile #> '{churn,factors}' ?& ARRAY['recency', 'sentiment_decline', 'complaints', 'disagreement', 'negative_share']) AS factors
  FROM custprofile.profiles;
SELECT custprofile.churn_risk(4242) AS unknown;
-- the stored figure is the live one as of the moment it was judged at
SELECT bool_and(abs((p.profile #>> '{churn,risk}')::float8 - (custprofile.churn_assessment(
           p.profile, (p.profile #>> '{churn,rhythm_days}')::float8, (p.profile #>> '{churn,as_of}')::timestamptz) ->> 'risk')::float8) < 1e-9)
       AS stored_equals_live
  FROM custprofile.profiles p;
-- happy customers (id % 3 = 0 in the demo) are at lower risk than unhappy ones (id % 3 = 1)
SELECT avg(churn_risk) FILTER (WHERE customer_key::int % 3 = 0) < avg(churn_risk) FILTER (WHERE customer_key::int % 3 = 1)
       AS unhappy_at_higher_risk
  FROM custprofile.customer_profiles;
-- the formula by hand: one factor at a time
SELECT (custprofile.churn_assessment('{"purchases": {"last_order": "2026-01-01T00:00:00Z"}}', 30, '2026-01-31') ->> 'risk')::real AS within_rhythm,
       (custprofile.churn_assessment('{"purchases": {"last_order": "2026-01-01T00:00:00Z"}}', 30, '2026-04-01') ->> 'risk')::real AS three_rhythms,
       (custprofile.churn_assessment('{"texts": {"complaints": ["returns and refunds"]}}', 30, '2026-01-01') ->> 'risk')::real AS complaint,
       (custprofile.churn_assessment('{"texts": {"complaints": ["price"]}}', 30, '2026-01-01') ->> 'risk')::real AS not_a_complaint_topic,
       (custprofile.churn_assessment('{"texts": {"needs": ["returns and refunds"], "complaints": []}}', 30, '2026-01-01') ->> 'risk')::real AS a_question;
-- training the weights on a labelled column replaces the defaults, everywhere
SELECT r - 'metrics' - 'weights' AS result, (r #>> '{weights,recency}')::float8 > 0 AS recency_raises_risk,
       r -> 'metrics' ? 'validation_accuracy' AS has_metrics
  FROM custprofile.train_churn_model($$SELECT customer_id, max(ordered_at) < '2026-04-01' FROM shop.orders GROUP BY 1$$, '{"seed": 7}') r;
SELECT DISTINCT profile #>> '{churn,weights}' AS weights FROM custprofile.profiles;
SELECT custprofile.reset_churn_model();
SELECT DISTINCT profile #>> '{churn,weights}' AS weights FROM custprofile.profiles;
SELECT try($$SELECT custprofile.train_churn_model('SELECT customer_id, true FROM shop.orders')$$);
SELECT try($$SELECT custprofile.train_churn_model('SELECT 4242, true')$$);
SELECT try($$SELECT custprofile.train_churn_model('SELECT customer_id, NULL::boolean FROM shop.customers')$$);
SELECT try($$SELECT custprofile.train_churn_model('')$$);

-- reply suggestions: each message finds the article that answers it, above the threshold;
-- unrelated messages get nothing rather than a bad answer
CREATE TEMP TABLE messages (message text, answered_by text);
INSERT INTO messages VALUES
 ('I sent the headphones back a month ago and still have not got my money', '1'),
 ('where is my refund??', '1'),
 ('I want to return the jacket', '2'),
 ('how do I send this back, it does not fit', '2'),
 ('my package never showed up', '3'),
 ('tracking says delivered but nothing here', '3'),
 ('how many days until it arrives', '4'),
 ('box was crushed and the lamp is broken', '5'),
 ('the kettle came with a crack in it', '5'),
 ('is my speaker still under guarantee? it stopped working', '6'),
 ('I moved house, please ship to my new address', '7'),
 ('please cancel my order', '8'),
 ('can I pay with paypal', '9'),
 ('cannot log in to my account', '10'),
 ('I love the tent, thanks!', NULL),
 ('what is the weather like in Lisbon', NULL),
 ('do you sell bicycles', NULL),
 ('your chef knife is great', NULL);
SELECT count(*) AS messages,
       count(*) FILTER (WHERE m.answered_by IS NOT NULL AND s.answer_id = m.answered_by) AS answered_right,
       count(*) FILTER (WHERE m.answered_by IS NULL AND s.answer_id IS NULL) AS rightly_unanswered
  FROM messages m LEFT JOIN LATERAL custprofile.suggest_replies(m.message, 1) s ON true;
-- below the thresholds too, the answering article ranks first for every answerable message: no
-- row here
SELECT m.message, m.answered_by, s.answer_id AS ranked_first
  FROM messages m JOIN LATERAL custprofile.suggest_replies(m.message, 1, -1) s ON true
 WHERE m.answered_by IS NOT NULL AND s.answer_id <> m.answered_by;
SELECT answer_id, left(answer, 40) AS answer FROM custprofile.suggest_replies('where is my refund??', 3);
-- a message that two articles (refunds, returns) match about as well is ambiguous: nothing is
-- suggested, though both are far above their thresholds; an explicit min_score lists them
SELECT (SELECT count(*) FROM custprofile.suggest_replies('can I return it and get a refund', 3)) AS suggested,
       (SELECT array_agg(answer_id ORDER BY answer_id) FROM custprofile.suggest_replies('can I return it and get a refund', 2, -1)) AS tied,
       custprofile.reply_thresholds() ->> 'margin' AS margin;
-- the thresholds are calibrated on the knowledge base: stored by the refresh, one per stored
-- article (17: article 10 came back after the last refresh, is read on the fly and held to the
-- floor), the highest the best score of any calibration message; praise gets no answer even with
-- no threshold at all
SELECT c.fingerprint = custprofile_internal.answers_fingerprint() AS stored_for_these_vectors,
       c.thresholds = custprofile.reply_thresholds() AS used,
       (SELECT count(*) FROM jsonb_object_keys(c.thresholds -> 'answers')) AS articles_calibrated,
       (SELECT count(*) FROM jsonb_object_keys(c.unrelated)) = cardinality(custprofile.reply_calibration_messages()) AS all_measured,
       (c.thresholds ->> 'floor')::real BETWEEN 0.1 AND 0.6 AS plausible_floor,
       (SELECT max(v::text::real) FROM jsonb_each(c.thresholds -> 'answers') e(k, v))
         = (SELECT max(v::text::real) FROM jsonb_each(c.unrelated) e(k, v)) AS same_best_score
  FROM custprofile.reply_calibration c;
SELECT count(*) AS answers_to_praise FROM custprofile.suggest_replies('Thank you so much, the tent is wonderful!', 3, -1);
-- an article changed: suggestions read its new question at once, and the next refresh measures
-- the threshold again on the new vectors
SELECT measured_at AS calibrated_at FROM custprofile.reply_calibration \gset
UPDATE shop.help_articles SET question = 'How do I get my money back?' WHERE article_id = 1;
SELECT answer_id FROM custprofile.suggest_replies('how do I get my money back', 1, 0.5);
SELECT kind, embedded FROM custprofile.refresh_catalogues() WHERE kind = 'answers';
SELECT measured_at > :'calibrated_at' AS measured_again, fingerprint = custprofile_internal.answers_fingerprint() AS for_the_new_vectors
  FROM custprofile.reply_calibration;
UPDATE shop.help_articles SET question = 'When will I get my refund?' WHERE article_id = 1;
SELECT kind, embedded FROM custprofile.refresh_catalogues() WHERE kind = 'answers';
SELECT count(*) FROM custprofile.suggest_replies(NULL);
SELECT count(*) FROM custprofile.suggest_replies('   ');
SELECT count(*) FROM custprofile.suggest_replies('where is my refund??', 3, 0.99);
SELECT try($$SELECT * FROM custprofile.suggest_replies('hello', 101)$$);
SELECT try($$SELECT * FROM custprofile.suggest_replies('hello', 3, 2)$$);
-- alternate questions: other ways customers ask for an article (the demo's alternate_questions,
-- a text[] column) make its vector the centroid of all its phrasings; a message the question
-- alone ranks wrong (a factory reset asked for without the words) then finds its article
SELECT answer_id FROM custprofile.suggest_replies('put my smart speaker back to how it was new', 1, -1);
SELECT try($$SELECT custprofile.register_source('answers', 'shop.help_articles',
         '{"key": "article_id", "question": "question", "answer": "answer", "alternate_questions": "question"}')$$);
SELECT custprofile.register_source('answers', 'shop.help_articles',
         '{"key": "article_id", "question": "question", "answer": "answer", "alternate_questions": "alternate_questions"}') -> 'columns' ->> 'alternate_questions' AS registered;
SELECT kind, embedded FROM custprofile.refresh_catalogues() WHERE kind = 'answers';
SELECT answer_id FROM custprofile.suggest_replies('put my smart speaker back to how it was new', 1, -1);
-- the stored vector is the normalised mean of the phrasings' embeddings (article 10 has none:
-- its question's own embedding); blank phrasings are skipped and the separator is stripped
CREATE FUNCTION pg_temp.unit_mean(texts text[]) RETURNS real[] LANGUAGE sql AS $$
  WITH v AS (SELECT e FROM custprofile.embed_texts(texts) e),
       d AS (SELECT i, sum(e[i]) AS x FROM v, generate_subscripts(e, 1) i GROUP BY i)
  SELECT array_agg((x / sqrt((SELECT sum(x * x) FROM d)))::real ORDER BY i) FROM d
$$;
SELECT a.article_id, cardinality(a.alternate_questions) AS alternates,
       custprofile.cosine_similarity(e.embedding, pg_temp.unit_mean(a.question || a.alternate_questions)) > 0.9999 AS centroid
  FROM shop.help_articles a JOIN custprofile.catalogue_embeddings e ON e.kind = 'answers' AND e.key = a.article_id::text
 WHERE a.article_id IN (10, 12) ORDER BY 1;
UPDATE shop.help_articles SET alternate_questions = ARRAY['  ', 'locked out' || chr(30) || 'of my account'] WHERE article_id = 10;
SELECT kind, embedded FROM custprofile.refresh_catalogues() WHERE kind = 'answers';
CREATE FUNCTION pg_temp.answer_document(article text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE document text;
BEGIN
  EXECUTE format('SELECT c.document FROM (%s) c WHERE c.key = $1', custprofile_internal.answers_sql(custprofile_internal.checked_sources('answers')))
     INTO document USING article;
  RETURN replace(document, chr(30), ' | ');
END $$;
SELECT pg_temp.answer_document('10') AS document;
SELECT custprofile.cosine_similarity(e.embedding, pg_temp.unit_mean(ARRAY['I forgot my password.', 'locked out of my account'])) > 0.9999 AS centroid
  FROM custprofile.catalogue_embeddings e WHERE e.kind = 'answers' AND e.key = '10';
-- NULL alternates are none; an article whose question is blank is matched by its alternates; a
-- question of a tab alone is a phrasing like any other (the refresh stores a vector for it)
UPDATE shop.help_articles SET question = '   ', alternate_questions = ARRAY[NULL, 'locked out of my account'] WHERE article_id = 10;
SELECT pg_temp.answer_document('10') AS document;
UPDATE shop.help_articles SET question = E'\t', alternate_questions = NULL WHERE article_id = 10;
SELECT pg_temp.answer_document('10') = E'\t' AS tab_alone;
SELECT kind, embedded FROM custprofile.refresh_catalogues() WHERE kind = 'answers';
UPDATE shop.help_articles SET question = 'I forgot my password.', alternate_questions = '{}' WHERE article_id = 10;
-- an array of other than text is refused at registration, not at the first read
ALTER TABLE shop.help_articles ADD COLUMN tags int[];
SELECT try($$SELECT custprofile.register_source('answers', 'shop.help_articles',
         '{"key": "article_id", "question": "question", "answer": "answer", "alternate_questions": "tags"}')$$);
ALTER TABLE shop.help_articles DROP COLUMN tags;

-- one vector space at a time: the stored profiles were built with the default encoder,
-- multilingual-e5-small
SELECT count(*) AS profiles, count(*) FILTER (WHERE vector_space = custprofile.vector_space()) AS in_this_space
  FROM custprofile.profiles;
-- a profile not yet rebuilt in the current space: asking about it is an ERROR, and it is left
-- out of everyone else's similar customers
SELECT count(*) AS similar_before FROM custprofile.similar_customers(1007, 1000);
UPDATE custprofile.profiles SET vector_space = 'some-other-encoder@0000000000000000' WHERE customer_key = '1011';
SELECT try($$SELECT * FROM custprofile.similar_customers(1011)$$);
SELECT try($$SELECT * FROM custprofile.recommend(1011)$$);
SELECT try($$SELECT * FROM custprofile.segment_customers(3)$$);
SELECT count(*) AS similar_after FROM custprofile.similar_customers(1007, 1000);
UPDATE custprofile.profiles SET vector_space = custprofile.vector_space() WHERE customer_key = '1011';
-- under another encoder every stored profile is stale (the fingerprint names the encoder by
-- content) and none is compared until refresh_profiles rebuilt it
SET custprofile.encoder = 'all-MiniLM-L6-v2';
SELECT count(*) FILTER (WHERE f.source_hash = p.source_hash) AS fresh_under_minilm
  FROM custprofile_internal.source_fingerprints() f JOIN custprofile.profiles p USING (customer_key);
SELECT try($$SELECT * FROM custprofile.similar_customers(1007)$$);
-- a profile built now is made in all-MiniLM-L6-v2's space, with its sentiment head
SELECT custprofile.build_profile(1007) #>> '{model,encoder}' AS built_with,
       custprofile.build_profile(1007) #>> '{model,sentiment}' AS sentiment_head;
RESET custprofile.encoder;
SELECT count(*) FILTER (WHERE f.source_hash = p.source_hash) = count(*) AS all_fresh_again
  FROM custprofile_internal.source_fingerprints() f JOIN custprofile.profiles p USING (customer_key);

-- check_sources covers the catalogues
SELECT kind, check_name, rows FROM custprofile.check_sources() WHERE kind IN ('items', 'answers');
-- unregistering the answers: suggest_replies names the missing call, the vectors go at the next refresh
SELECT custprofile.unregister_source('answers', 'shop.help_articles');
SELECT try($$SELECT * FROM custprofile.suggest_replies('where is my refund')$$);
SELECT kind, embedded, removed FROM custprofile.refresh_catalogues();
SELECT kind, count(*) FROM custprofile.catalogue_embeddings GROUP BY kind;

-- clean up: registrations, stored profiles, segments and vectors go with the shop
SELECT custprofile.unregister_source(kind, relation) FROM custprofile.sources;
TRUNCATE custprofile.profiles, custprofile.refresh_queue, custprofile.segmentation, custprofile.catalogue_embeddings;
DROP SCHEMA shop CASCADE;
