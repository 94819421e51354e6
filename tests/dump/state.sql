-- The custprofile state of a database, one sorted line each: run in a dumped and in a restored
-- database (tests/dump/dump_restore.sh), the two outputs must be the same. Relations are named,
-- never given as oids (those differ after a restore); answers are included where they depend on
-- the state (a classifier's predictions, recommendations, suggested replies).
SET client_min_messages = warning;
SELECT line FROM (
  SELECT format('registry %s %s %s relation_exists=%s', s.kind, s.relation, s.columns, s.relation_exists) AS line
    FROM custprofile.sources s
  UNION ALL
  SELECT format('registrant %s %s', r.kind, r.registered_by) FROM custprofile.source_registry r
  UNION ALL
  SELECT format('topic %s | %s | complaint=%s', t.topic, t.description, t.complaint) FROM custprofile.topics t
  UNION ALL
  SELECT format('classifier %s owner=%s head=%s metrics=%s trained_at=%s', c.name, c.owner, md5(c.head::text), c.metrics, c.trained_at)
    FROM custprofile.classifiers c
  UNION ALL
  SELECT format('churn_model %s %s %s', m.weights, m.metrics, m.trained_at) FROM custprofile.churn_model m
  UNION ALL
  SELECT format('profile %s %s segment=%s vector=%s hash=%s space=%s at=%s', p.customer_key, md5(p.profile::text), p.segment,
                md5(p.interest_vector::text), p.source_hash, p.vector_space, p.refreshed_at)
    FROM custprofile.profiles p
  UNION ALL
  SELECT format('segment %s %s', s.segment, md5(row_to_json(s)::text)) FROM custprofile.segmentation s
  UNION ALL
  SELECT format('catalogue %s %s %s %s', e.kind, e.key, e.text_hash, md5(e.embedding::text)) FROM custprofile.catalogue_embeddings e
  UNION ALL
  SELECT format('reply_calibration %s %s', c.fingerprint, md5(c.thresholds::text)) FROM custprofile.reply_calibration c
  UNION ALL
  SELECT format('text_score %s %s %s %s %s %s', encode(t.text_hash, 'hex'), t.scored_by, t.sentiment_label, t.sentiment,
                t.intent, t.stored_at) FROM custprofile.text_scores t
  UNION ALL
  -- what BI tools read: the same rows and scores (the copy of the texts is not dumped; the
  -- restored view reads the sources until the next refresh copies them)
  SELECT format('text_insight %s %s %s %s %s %s %s %s', i.source, i.customer_key, i.written_at, i.rating, md5(i.body),
                i.sentiment_label, round(i.sentiment::numeric, 4), i.intent) FROM custprofile.text_insights i
  UNION ALL
  SELECT format('run %s %s %s rows=%s %s', r.run_id, r.operation, r.status, r.rows, r.started_at) FROM custprofile.runs r
  UNION ALL
  SELECT format('privilege %s on %s', r.rolname, t.relation)
    FROM (VALUES ('custprofile.profiles'), ('custprofile.segmentation'), ('custprofile.catalogue_embeddings')) t(relation)
    CROSS JOIN pg_roles r
   WHERE r.rolname !~ '^pg_' AND has_table_privilege(r.rolname, t.relation, 'SELECT')
  UNION ALL
  SELECT format('predict %s %s', r.review_id, custprofile.predict('dump_head', r.body))
    FROM shop.reviews r WHERE r.body IS NOT NULL
  UNION ALL
  SELECT format('recommend %s %s', c.customer_id, (SELECT string_agg(x.item_id, ',' ORDER BY x.item_id) FROM custprofile.recommend(c.customer_id::text, 3) x))
    FROM (SELECT customer_id FROM shop.customers ORDER BY customer_id LIMIT 5) c
  UNION ALL
  SELECT format('reply %s', (SELECT string_agg(x.answer_id, ',') FROM custprofile.suggest_replies('My parcel has not arrived yet, where is it?', 3) x))
) lines ORDER BY line;
