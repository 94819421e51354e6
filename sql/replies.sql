-- Reply suggestions: the answers of the registered knowledge base (the answers source) for a
-- customer's message, by the relatedness (cosine on the encoder's common scale) of the message
-- and each answer's question. Only questions, complaints and requests get answers: praise needs
-- none (custprofile.intent). The threshold below which nothing is suggested is calibrated on the
-- knowledge base itself: messages that no help desk answers (greetings, thanks, questions about
-- other things, reply_calibration_messages) are scored against every article, and an answer must
-- beat the best of those scores. refresh_catalogues stores it with the answers' vectors.

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

-- The calibrated threshold of the stored answers' vectors (one row; refresh_catalogues keeps it).
CREATE TABLE custprofile.reply_calibration (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    -- answers_fingerprint() when it was measured: other vectors, another threshold
    fingerprint bigint NOT NULL,
    threshold   real,
    -- the best relatedness of each calibration message to any article
    unrelated   jsonb NOT NULL,
    measured_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE custprofile.reply_calibration IS
    'The reply threshold measured on the stored answers (custprofile.reply_threshold), kept by refresh_catalogues.';

-- Which answers' vectors are stored (keys and text hashes, which include the model).
CREATE FUNCTION custprofile.answers_fingerprint() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT hashtextextended(COALESCE(string_agg(e.key || ':' || e.text_hash, ',' ORDER BY e.key), ''), 0)
      FROM custprofile.catalogue_embeddings e WHERE e.kind = 'answers'
$$;

-- Scores every calibration message against the knowledge base: the threshold is the highest
-- relatedness any of them reaches with any article (NULL without articles).
CREATE FUNCTION custprofile.measure_reply_threshold(OUT threshold real, OUT unrelated jsonb)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    sources jsonb := custprofile.checked_sources('answers');
    messages text[] := custprofile.reply_calibration_messages();
    best real;
    n int;
    previous_role text;
BEGIN
    unrelated := '{}';
    previous_role := custprofile.enter_source_reader();
    FOR n, best IN EXECUTE format(
        'SELECT v.n::int, (SELECT max(c.similarity) FROM (%s) c) '
        '  FROM custprofile.embed_texts($1) WITH ORDINALITY AS v(embedding, n)',
        custprofile.catalogue_similarity_sql('answers', 'v.embedding', sources)) USING messages
    LOOP
        unrelated := unrelated || jsonb_build_object(messages[n], round(best::numeric, 4));
        threshold := greatest(threshold, best);
    END LOOP;
    PERFORM custprofile.leave_source_reader(previous_role);
END $$;

-- The threshold suggest_replies uses by default: the stored calibration when it was measured on
-- the vectors stored now, else measured now (about 30 embeddings).
CREATE FUNCTION custprofile.reply_threshold() RETURNS real
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT COALESCE((SELECT c.threshold FROM custprofile.reply_calibration c
                      WHERE c.fingerprint = custprofile.answers_fingerprint()),
                    (custprofile.measure_reply_threshold()).threshold)
$$;
COMMENT ON FUNCTION custprofile.reply_threshold() IS
    'The relatedness an answer must beat to be suggested: the best score of messages no article answers (reply_calibration_messages).';

-- Stores the calibration of the answers' vectors now stored (refresh_catalogues calls it).
CREATE FUNCTION custprofile.calibrate_replies() RETURNS real
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    m record;
BEGIN
    DELETE FROM custprofile.reply_calibration;
    IF NOT EXISTS (SELECT FROM custprofile.source_registry r WHERE r.kind = 'answers') THEN
        RETURN NULL;
    END IF;
    m := custprofile.measure_reply_threshold();
    INSERT INTO custprofile.reply_calibration (fingerprint, threshold, unrelated)
    VALUES (custprofile.answers_fingerprint(), m.threshold, m.unrelated);
    RETURN m.threshold;
END $$;

-- NULL or blank messages and praise give no rows; k at most 100; min_score NULL means
-- reply_threshold(), else answers at or above min_score.
CREATE FUNCTION custprofile.suggest_replies(message text, k int DEFAULT 3, min_score real DEFAULT NULL)
RETURNS TABLE (answer_id text, answer text, score real)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    sources jsonb;
    m real[];
    threshold real;
    previous_role text;
BEGIN
    PERFORM custprofile.check_k(k, 100);
    IF min_score IS NOT NULL AND NOT (min_score BETWEEN -1 AND 1) THEN
        RAISE EXCEPTION 'min_score must be between -1 and 1' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass NULL for the threshold calibrated on the knowledge base (custprofile.reply_threshold()).';
    END IF;
    sources := custprofile.checked_sources('answers');
    IF message IS NULL OR btrim(message) = '' THEN
        RETURN;
    END IF;
    -- praise needs no help-desk article (an encoder without an intent head answers everything)
    IF custprofile.text_signals(message) ->> 'intent' = 'praise' THEN
        RETURN;
    END IF;
    m := custprofile.embed_text(message);
    -- an answer must beat every unrelated message (strictly); an explicit min_score is inclusive
    threshold := COALESCE(min_score, custprofile.reply_threshold());
    previous_role := custprofile.enter_source_reader();
    RETURN QUERY EXECUTE format(
        'SELECT c.key, c.answer, c.similarity FROM (%s) c WHERE c.similarity > $2 OR (c.similarity = $2 AND $4)'
        ' ORDER BY c.similarity DESC, c.key LIMIT $3',
        custprofile.catalogue_similarity_sql('answers', '$1', sources))
    USING m, threshold, k, min_score IS NOT NULL;
    PERFORM custprofile.leave_source_reader(previous_role);
END $$;
COMMENT ON FUNCTION custprofile.suggest_replies(text, int, real) IS
    'Answers from the registered knowledge base whose question matches a question, complaint or request, best first, above the calibrated threshold.';
