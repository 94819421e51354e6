-- Reply suggestions: the answers of the registered knowledge base (the answers source) for a
-- customer's message, by the relatedness (cosine on the encoder's common scale) of the message
-- and each answer's question (the centroid of its phrasings, with alternate questions). Only
-- questions, complaints and requests get answers: praise needs none (custprofile.intent). The
-- threshold below which nothing is suggested is calibrated on the knowledge base itself:
-- messages that no help desk answers (greetings, thanks, questions about other things,
-- reply_calibration_messages) are scored against every article, and an answer must beat the
-- best of their scores against it, and a floor. refresh_catalogues stores them with the
-- answers' vectors.

-- Messages that no shop's help desk answers, in English and Chinese: what the knowledge base's
-- articles score against text that is not about them. Written for the calibration only; the
-- evaluation messages (eval/replies/messages.tsv) are others.
CREATE FUNCTION custprofile.reply_calibration_messages() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT ARRAY[
        'Hello', 'Hi there, how are you?', 'Good morning!', 'Thanks!', 'Thank you very much.',
        'Have a great day.', 'Okay, thanks.', 'Sounds good.', 'I love it.', 'This is great.',
        'Nice to meet you.', 'What time is it?', 'Tell me a joke.', 'What is the capital of France?',
        'Who won the game last night?', 'Do you sell cars?', 'Do you have a restaurant?',
        'Can I book a flight with you?', 'Where is the nearest train station?',
        'Are you open on public holidays?', 'What does your company name mean?',
        'Can you help me with my homework?', 'I like the colour blue.', 'My dog loves long walks.',
        '你好', '谢谢', '今天天气怎么样？', '你们卖汽车吗？', '祝你周末愉快', '好的，明白了']
$$;

-- The calibrated thresholds of the stored answers' vectors (one row; refresh_catalogues keeps it).
CREATE TABLE custprofile.reply_calibration (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    -- answers_fingerprint() when it was measured: other vectors, other thresholds
    fingerprint bigint NOT NULL,
    -- {"floor": ..., "answers": {"<answer key>": the best score of any calibration message}}
    thresholds  jsonb NOT NULL,
    -- the best relatedness of each calibration message to any article
    unrelated   jsonb NOT NULL,
    measured_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE custprofile.reply_calibration IS
    'The reply thresholds measured on the stored answers (custprofile.reply_thresholds), kept by refresh_catalogues.';
-- pg_dump keeps them with the answer vectors they were measured on
SELECT pg_catalog.pg_extension_config_dump('custprofile.reply_calibration', '');

-- Which answers' vectors are stored (keys and text hashes, which include the model).
CREATE FUNCTION custprofile_internal.answers_fingerprint() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT hashtextextended(COALESCE(string_agg(e.key || ':' || e.text_hash, ',' ORDER BY e.key), ''), 0)
      FROM custprofile.catalogue_embeddings e WHERE e.kind = 'answers'
$$;

-- Scores every calibration message against every article. An article's own threshold is the
-- best score any calibration message reaches with it ("Do you sell cars?" comes close to "Do you
-- sell spare parts?", and raises that article's bar only); no article's is below the floor, the
-- score three quarters of the calibration messages stay under with their best article. A message
-- that two articles match about as well is ambiguous ("what is your returns process" against
-- returns and refunds): the best must lead the next by the margin, or nothing is suggested.
CREATE FUNCTION custprofile_internal.measure_reply_thresholds(OUT thresholds jsonb, OUT unrelated jsonb)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    sources jsonb := custprofile_internal.checked_sources('answers');
    previous_role text;
BEGIN
    previous_role := custprofile_internal.enter_source_reader();
    EXECUTE format($q$
        WITH s AS (SELECT v.n::int AS n, c.key, c.similarity
                     FROM custprofile.embed_texts($1) WITH ORDINALITY AS v(embedding, n), LATERAL (%s) c),
        per_message AS (SELECT s.n, max(s.similarity) AS best FROM s GROUP BY s.n),
        per_answer AS (SELECT s.key, max(s.similarity) AS ceiling FROM s GROUP BY s.key)
        SELECT jsonb_build_object(
                   'floor', (SELECT round(percentile_cont(0.75) WITHIN GROUP (ORDER BY m.best)::numeric, 4) FROM per_message m),
                   -- how far the best article must lead the next: chosen on eval/replies/tuning.tsv
                   -- (0.05 took the first suggestion's precision there from 0.84 to 0.88, docs/acting.md)
                   'margin', 0.05,
                   'answers', COALESCE((SELECT jsonb_object_agg(a.key, round(a.ceiling::numeric, 4)) FROM per_answer a), '{}')),
               COALESCE((SELECT jsonb_object_agg($1[m.n], round(m.best::numeric, 4)) FROM per_message m), '{}')
        $q$, custprofile_internal.catalogue_similarity_sql('answers', 'v.embedding', sources))
    INTO thresholds, unrelated USING custprofile.reply_calibration_messages();
    PERFORM custprofile_internal.leave_source_reader(previous_role);
END $$;

-- The thresholds suggest_replies uses by default: the stored calibration when it was measured on
-- the vectors stored now, else measured now (30 embeddings).
CREATE FUNCTION custprofile.reply_thresholds() RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT COALESCE((SELECT c.thresholds FROM custprofile.reply_calibration c
                      WHERE c.fingerprint = custprofile_internal.answers_fingerprint()),
                    (custprofile_internal.measure_reply_thresholds()).thresholds)
$$;
COMMENT ON FUNCTION custprofile.reply_thresholds() IS
    'What an answer must beat to be suggested: {"floor", "margin" over the next article, "answers": {key: the best score of messages no article answers}}.';

-- Stores the calibration of the answers' vectors now stored (refresh_catalogues calls it).
CREATE FUNCTION custprofile_internal.calibrate_replies() RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    m record;
BEGIN
    DELETE FROM custprofile.reply_calibration;
    IF NOT EXISTS (SELECT FROM custprofile.source_registry r WHERE r.kind = 'answers') THEN
        RETURN NULL;
    END IF;
    m := custprofile_internal.measure_reply_thresholds();
    INSERT INTO custprofile.reply_calibration (fingerprint, thresholds, unrelated)
    VALUES (custprofile_internal.answers_fingerprint(), m.thresholds, m.unrelated);
    RETURN m.thresholds;
END $$;

-- NULL or blank messages and praise give no rows; k at most 100; min_score NULL means the
-- calibrated thresholds (an answer must beat its own and the floor, and the best must lead the
-- next article by the margin), else answers at or above min_score. With pgvector's index (sql/vectors.sql) the answers scored are the nearest_pool(k)
-- nearest to the message.
CREATE FUNCTION custprofile.suggest_replies(message text, k int DEFAULT 3, min_score real DEFAULT NULL)
RETURNS TABLE (answer_id text, answer text, score real)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp
    SET hnsw.ef_search = 200 SET hnsw.iterative_scan = relaxed_order AS $$
DECLARE
    sources jsonb;
    m real[];
    thresholds jsonb;
    previous_role text;
BEGIN
    PERFORM custprofile_internal.check_k(k, 100);
    IF min_score IS NOT NULL AND NOT (min_score BETWEEN -1 AND 1) THEN
        RAISE EXCEPTION 'min_score must be between -1 and 1' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass NULL for the thresholds calibrated on the knowledge base (custprofile.reply_thresholds()).';
    END IF;
    sources := custprofile_internal.checked_sources('answers');
    IF message IS NULL OR btrim(message) = '' THEN
        RETURN;
    END IF;
    -- praise needs no help-desk article (an encoder without an intent head answers everything)
    IF custprofile.text_signals(message) ->> 'intent' = 'praise' THEN
        RETURN;
    END IF;
    m := custprofile.embed_text(message);
    -- an answer must beat the calibration messages (strictly); an explicit min_score is inclusive
    IF min_score IS NULL THEN
        thresholds := custprofile.reply_thresholds();
    END IF;
    previous_role := custprofile_internal.enter_source_reader();
    RETURN QUERY EXECUTE format(
        'WITH r AS MATERIALIZED (SELECT c.key, c.answer, c.similarity, row_number() OVER (ORDER BY c.similarity DESC, c.key) AS n'
        '                          FROM (%s) c WHERE c.similarity IS NOT NULL)'
        ' SELECT r.key, r.answer, r.similarity FROM r'
        ' WHERE CASE WHEN $4 IS NULL THEN r.similarity > greatest(($2 ->> ''floor'')::real, ($2 -> ''answers'' ->> r.key)::real)'
        '                 AND (SELECT f.similarity FROM r f WHERE f.n = 1) - COALESCE((SELECT s.similarity FROM r s WHERE s.n = 2), -1)'
        '                     >= COALESCE(($2 ->> ''margin'')::real, 0)'
        '            ELSE r.similarity >= $4 END'
        ' ORDER BY r.n LIMIT $3',
        custprofile_internal.catalogue_similarity_sql('answers', '$1', sources, custprofile_internal.nearest_pool(k), array_length(m, 1)))
    USING m, thresholds, k, min_score;
    PERFORM custprofile_internal.leave_source_reader(previous_role);
END $$;
COMMENT ON FUNCTION custprofile.suggest_replies(text, int, real) IS
    'Answers from the registered knowledge base whose question (or alternate questions) matches a question, complaint or request, best first, above the calibrated threshold.';
