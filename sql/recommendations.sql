-- Acting on one customer's profile: the customers most like them and the items to offer them
-- (the answers to suggest for what they write: sql/replies.sql). Exact search over arrays, every
-- call scanning the stored profiles or the catalogue once, or with pgvector the nearest by its
-- index (sql/vectors.sql; docs/acting.md says where each stops being quick).

-- The k customers most like this one (customer_similarity: 0.7 × relatedness of the interest
-- vectors + 0.3 × cosine of the orders by category), most similar first, the customer itself
-- excluded. No rows for a customer without a stored profile; k at most 1000. Only profiles in
-- the current encoder's vector space are compared: after custprofile.encoder changed, asking
-- about a customer not yet rebuilt is an ERROR, and customers not yet rebuilt are left out.
-- With pgvector's index (sql/vectors.sql) the candidates are the nearest_pool(k) customers by
-- interest vector and every customer without one (no texts), ranked by the same score, which
-- gives the exact answer unless one of the k best is not among the pool's nearest by interest.
-- Without it every stored profile is compared.
-- (plpgsql cannot name an argument like a result column: similar_customers is the SQL wrapper)
CREATE FUNCTION custprofile_internal.most_similar_customers(key text, k int)
RETURNS TABLE (customer_key text, similarity real)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp
    SET hnsw.ef_search = 200 SET hnsw.iterative_scan = relaxed_order AS $$
DECLARE
    me record;
    nearest text;
BEGIN
    PERFORM custprofile_internal.check_k(k, 1000);
    PERFORM custprofile_internal.require_profiles();
    PERFORM custprofile_internal.require_vector_space($1);
    SELECT m.customer_key, m.interest_vector, m.orders_by_category, m.vector_space INTO me
      FROM custprofile.profiles m WHERE m.customer_key = $1;
    IF me.customer_key IS NULL THEN
        RETURN;
    END IF;
    nearest := custprofile_internal.nearest_sql('profiles', '$1', array_length(me.interest_vector, 1), custprofile_internal.nearest_pool(k));
    -- customers without texts have no interest vector and are compared by their orders alone:
    -- they are candidates too (found by profiles_without_interest)
    nearest := '(' || nearest || ') UNION ALL (SELECT x.*, NULL FROM custprofile.profiles x'
                                 ' WHERE x.interest_vector IS NULL AND x.vector_space = $5)';
    RETURN QUERY EXECUTE format($q$
        SELECT s.customer_key, s.similarity
          FROM (SELECT p.customer_key, custprofile.customer_similarity($1, $2, p.interest_vector, p.orders_by_category) AS similarity
                  FROM (%s) p WHERE p.customer_key <> $3) s
         WHERE s.similarity IS NOT NULL
         ORDER BY s.similarity DESC, s.customer_key
         LIMIT $4 $q$,
        COALESCE(nearest, 'SELECT * FROM custprofile.profiles x WHERE x.vector_space = $5'))
    USING me.interest_vector, me.orders_by_category, me.customer_key, k, me.vector_space;
END $$;
CREATE FUNCTION custprofile.similar_customers(customer_id text, k int DEFAULT 10)
RETURNS TABLE (customer_id text, similarity real)
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT s.customer_key, s.similarity FROM custprofile_internal.most_similar_customers($1, k) s
$$;
CREATE FUNCTION custprofile.similar_customers(customer_id bigint, k int DEFAULT 10)
RETURNS TABLE (customer_id bigint, similarity real)
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT s.customer_id::bigint, s.similarity FROM custprofile.similar_customers($1::text, k) s $$;
CREATE FUNCTION custprofile.similar_customers(customer_id uuid, k int DEFAULT 10)
RETURNS TABLE (customer_id uuid, similarity real)
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT s.customer_id::uuid, s.similarity FROM custprofile.similar_customers($1::text, k) s $$;
COMMENT ON FUNCTION custprofile.similar_customers(text, int) IS
    'The k customers with the closest interest vectors and purchase categories, most similar first.';

-- Items for a customer, from their own evidence only:
--   score = 0.6 × relatedness(interest vector, item embedding)  (the cosine on the common scale)
--         + 0.25 × share of the customer's orders in the item's category
--         + 0.15 × mean sentiment of the customer's own reviews of items in that category
-- Items the customer ordered or reviewed (the item role of the orders and texts sources holds
-- the item key) are left out; so are all items when the customer has neither texts nor orders.
-- The reason names that evidence: their orders in the category, an item of it they praised,
-- the closeness to their reviews, the price against their usual order; in English or Chinese
-- as custprofile.label_language says (sql/labels.sql). With pgvector's index (sql/vectors.sql)
-- the items scored are the nearest_pool(k) nearest to the interest vector.
CREATE FUNCTION custprofile.recommend(customer_id text, k int DEFAULT 10)
RETURNS TABLE (item_id text, score real, reason text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp
    SET hnsw.ef_search = 200 SET hnsw.iterative_scan = relaxed_order AS $$
DECLARE
    sources jsonb;
    previous_role text;
    -- the customer's interest vector
    me real[];
BEGIN
    PERFORM custprofile_internal.check_k(k, 1000);
    sources := custprofile_internal.checked_sources('items');
    PERFORM custprofile_internal.require_profiles();
    PERFORM custprofile_internal.require_vector_space(customer_id);
    sources := sources || custprofile_internal.checked_sources('customers', 'orders', 'texts');
    PERFORM custprofile_internal.check_customer_keys(ARRAY[customer_id], sources);
    me := (SELECT p.interest_vector FROM custprofile.profiles p WHERE p.customer_key = customer_id);
    previous_role := custprofile_internal.enter_source_reader();
    RETURN QUERY EXECUTE format($q$
        WITH me AS MATERIALIZED (
            -- the customer's figures taken out of the document once, not once per item
            SELECT p.interest_vector, p.orders_by_category, (custprofile.profile_row(p.profile)).average_spend
              FROM custprofile.profiles p WHERE p.customer_key = $1),
        my_categories AS (
            SELECT e.key AS category, e.value::text::float8 AS orders
              FROM me, jsonb_each(COALESCE(me.orders_by_category, '{}')) e),
        total AS (SELECT COALESCE(sum(orders), 0) AS orders FROM my_categories),
        catalogue AS (%1$s),
        my_texts AS MATERIALIZED (
            SELECT t.item, t.body FROM (%2$s) t WHERE t.customer_key = $1::%4$s AND t.item IS NOT NULL),
        owned AS (
            SELECT o.item FROM (%3$s) o WHERE o.customer_key = $1::%4$s AND o.item IS NOT NULL
            UNION SELECT t.item FROM my_texts t),
        praise AS (
            SELECT r.category, avg(r.sentiment) AS sentiment,
                   (array_agg(r.title ORDER BY r.sentiment DESC, r.title))[1] AS best_item
              FROM (SELECT i.category, COALESCE(i.title, i.key) AS title, custprofile.sentiment(t.body) AS sentiment
                      FROM my_texts t JOIN (%5$s) i ON i.key = t.item
                     WHERE t.body IS NOT NULL AND i.category IS NOT NULL) r
             GROUP BY r.category),
        scored AS (
            SELECT i.key, i.category, i.price,
                   i.similarity AS interest,
                   c.orders AS category_orders, total.orders AS all_orders,
                   pr.sentiment AS praise, pr.best_item, me.average_spend
              FROM catalogue i CROSS JOIN me CROSS JOIN total
              LEFT JOIN my_categories c ON c.category = i.category
              LEFT JOIN praise pr ON pr.category = i.category
             WHERE NOT EXISTS (SELECT FROM owned o WHERE o.item = i.key))
        SELECT s.key,
               (0.6 * COALESCE(s.interest, 0) + 0.25 * COALESCE(s.category_orders / NULLIF(s.all_orders, 0), 0)
                + 0.15 * COALESCE(s.praise, 0))::real AS score,
               CASE WHEN $4 = 'zh' THEN
                   COALESCE(NULLIF(concat_ws('；',
                       CASE WHEN s.category_orders > 0 AND s.all_orders = 1 THEN format('%%s：您唯一的一笔订单', s.category)
                            WHEN s.category_orders > 0 THEN
                           format('%%s：您%%s笔订单中的%%s笔', s.category, s.all_orders, s.category_orders) END,
                       CASE WHEN s.praise >= 0.25 THEN format('您好评过%%s', s.best_item) END,
                       CASE WHEN s.interest >= 0.35 THEN '与您评论的内容相近' END,
                       CASE WHEN s.price <= s.average_spend THEN '在您平时的消费范围内' END), ''),
                       '与您的画像最接近')
               ELSE
                   COALESCE(NULLIF(concat_ws('; ',
                       CASE WHEN s.category_orders > 0 AND s.all_orders = 1 THEN format('%%s: your only order', s.category)
                            WHEN s.category_orders > 0 THEN
                           format('%%s: %%s of your %%s orders', s.category, s.category_orders, s.all_orders) END,
                       CASE WHEN s.praise >= 0.25 THEN format('you praised %%s', s.best_item) END,
                       CASE WHEN s.interest >= 0.35 THEN 'close to what your reviews talk about' END,
                       CASE WHEN s.price <= s.average_spend THEN 'within your usual spend' END), ''),
                       'the closest match to your profile')
               END AS reason
          FROM scored s
         WHERE s.interest IS NOT NULL OR s.category_orders > 0 OR s.praise IS NOT NULL
         ORDER BY 2 DESC, s.key
         LIMIT $2
        $q$, custprofile_internal.catalogue_similarity_sql('items', '$3', sources, custprofile_internal.nearest_pool(k), array_length(me, 1)),
             custprofile_internal.texts_sql(sources),
             custprofile_internal.orders_or_none_sql(sources), custprofile_internal.key_type(sources), custprofile_internal.items_sql(sources))
    USING customer_id, k, me, custprofile.label_language();
    PERFORM custprofile_internal.leave_source_reader(previous_role);
END $$;
CREATE FUNCTION custprofile.recommend(customer_id bigint, k int DEFAULT 10)
RETURNS TABLE (item_id text, score real, reason text)
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT * FROM custprofile.recommend($1::text, k) $$;
CREATE FUNCTION custprofile.recommend(customer_id uuid, k int DEFAULT 10)
RETURNS TABLE (item_id text, score real, reason text)
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT * FROM custprofile.recommend($1::text, k) $$;
COMMENT ON FUNCTION custprofile.recommend(text, int) IS
    'Items matched to a customer''s interests, categories and praise, with the reason; bought items left out.';
