-- custprofile 0.1.0 -> 0.2.0 (ALTER EXTENSION custprofile UPDATE TO '0.2.0').
--
-- What changed (issue 17, "trust first"): every SQL and PL/pgSQL function pins its
-- search_path; sources are registered only through register_source (its EXECUTE is no longer
-- PUBLIC's) and read with the rights of the role that registered them; classifier heads have
-- an owner and row-level security; the churn weights are an administrator's; rescore_churn
-- locks the profiles before it writes. No table loses a row: heads trained before the update
-- belong to the role that runs the update (an administrator), registrations keep the
-- registered_by they had.
--
-- The function definitions below are those of sql/*.sql at 0.2.0, as CREATE OR REPLACE (the
-- Rust functions' definitions did not change). tests/upgrade/upgrade_from_0.1.0.sh checks
-- that an updated database has exactly the objects of a fresh 0.2.0 and keeps its state.

ALTER TABLE custprofile.classifiers ADD COLUMN owner name NOT NULL DEFAULT CURRENT_USER;

COMMENT ON COLUMN custprofile.classifiers.owner IS
    'The role that trained the head: only it (or its members, or a superuser) replaces or deletes it.';

ALTER TABLE custprofile.classifiers ENABLE ROW LEVEL SECURITY;

CREATE POLICY read_every_head ON custprofile.classifiers FOR SELECT USING (true);

CREATE POLICY insert_own_heads ON custprofile.classifiers FOR INSERT
    WITH CHECK (owner OPERATOR(pg_catalog.=) CURRENT_USER);

CREATE POLICY replace_own_heads ON custprofile.classifiers FOR UPDATE
    USING (pg_catalog.pg_has_role(owner, 'MEMBER'))
    WITH CHECK (pg_catalog.pg_has_role(owner, 'MEMBER'));

CREATE POLICY delete_own_heads ON custprofile.classifiers FOR DELETE
    USING (pg_catalog.pg_has_role(owner, 'MEMBER'));

-- The roles each kind knows: name, required, and the type categories it accepts
-- (pg_type.typcategory: N numeric, S string, U user-defined such as uuid, D date/time;
-- NULL accepts any type).
CREATE OR REPLACE FUNCTION custprofile.source_roles(kind text)
RETURNS TABLE (role text, required boolean, categories text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT r.role, r.required, r.categories
      FROM (VALUES
        ('customers', 'key',        true,  'NSU'),
        ('customers', 'attributes', false, NULL),
        ('orders',    'customer',   true,  'NSU'),
        ('orders',    'time',       true,  'D'),
        ('orders',    'amount',     true,  'N'),
        ('orders',    'item',       false, NULL),
        ('orders',    'category',   false, NULL),
        ('texts',     'customer',   true,  'NSU'),
        ('texts',     'text',       true,  'S'),
        ('texts',     'time',       false, 'D'),
        ('texts',     'rating',     false, 'N'),
        ('texts',     'item',       false, NULL),
        ('items',     'key',        true,  NULL),
        ('items',     'title',      false, 'S'),
        ('items',     'description', false, 'S'),
        ('items',     'category',   false, NULL),
        ('items',     'price',      false, 'N'),
        ('answers',   'key',        true,  NULL),
        ('answers',   'question',   true,  'S'),
        ('answers',   'answer',     true,  'S')
      ) AS r(kind, role, required, categories)
     WHERE r.kind = source_roles.kind
$$;

-- The type of a live column, or NULL when the relation or the column is gone.
CREATE OR REPLACE FUNCTION custprofile.column_type(relid oid, col text) RETURNS regtype
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT a.atttypid::regtype FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = relid AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped
$$;

-- Checks one registration against the catalogue as it is now: the relation exists, each named
-- column exists with a usable type, customer keys compare with the customers key. Raises an
-- ERROR that says what is wrong and what to do; returns the registration's columns.
CREATE OR REPLACE FUNCTION custprofile.check_registration(kind text, relid oid, relation_name text, columns jsonb)
RETURNS void LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    r record;
    col text;
    typ regtype;
    cat text;
    what text := format('the %s source %s', kind, relation_name);
    key_col text;
    key_cat text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_class WHERE oid = relid) THEN
        RAISE EXCEPTION '% no longer exists', what
            USING ERRCODE = 'undefined_table',
                  HINT = format('Register the relation that replaced it with custprofile.register_source(%L, ...), '
                                'or remove the registration with custprofile.unregister_source(%L, %L).',
                                kind, kind, relation_name);
    END IF;
    what := format('the %s source %s', kind, relid::regclass);
    FOR r IN SELECT * FROM custprofile.source_roles(kind) LOOP
        IF r.role = 'attributes' THEN
            CONTINUE;  -- any type; checked below as plain columns
        END IF;
        col := columns ->> r.role;
        IF col IS NULL THEN
            CONTINUE;  -- required roles are enforced by register_source
        END IF;
        typ := custprofile.column_type(relid, col);
        IF typ IS NULL THEN
            RAISE EXCEPTION 'column "%" (the % of %) does not exist', col, r.role, what
                USING ERRCODE = 'undefined_column',
                      HINT = format('Register it again with the current column name: custprofile.register_source(%L, %L, ...).',
                                    kind, relid::regclass);
        END IF;
        SELECT t.typcategory INTO cat FROM pg_catalog.pg_type t WHERE t.oid = typ;
        IF r.categories IS NOT NULL AND strpos(r.categories, cat) = 0 THEN
            RAISE EXCEPTION 'column "%" (the % of %) has type %, which cannot be used as a %', col, r.role, what, typ, r.role
                USING ERRCODE = 'datatype_mismatch',
                      HINT = CASE r.role
                          WHEN 'time' THEN 'Use a timestamptz, timestamp or date column, or register a view that casts it.'
                          WHEN 'amount' THEN 'Use a numeric column, or register a view that casts it.'
                          WHEN 'rating' THEN 'Use a numeric column (1 to 5), or register a view that casts it.'
                          WHEN 'text' THEN 'Use a text or varchar column.'
                          ELSE 'Use an integer, text or uuid column.' END;
        END IF;
    END LOOP;
    FOR col IN SELECT jsonb_array_elements_text(COALESCE(columns -> 'attributes', '[]')) LOOP
        IF custprofile.column_type(relid, col) IS NULL THEN
            RAISE EXCEPTION 'column "%" (an attribute of %) does not exist', col, what
                USING ERRCODE = 'undefined_column',
                      HINT = 'Register the customers source again with the current column names.';
        END IF;
    END LOOP;
    -- customer keys must compare with the key of the customers source
    IF kind IN ('orders', 'texts') THEN
        SELECT s.columns ->> 'key', t.typcategory INTO key_col, key_cat
          FROM custprofile.source_registry s
          JOIN pg_catalog.pg_type t ON t.oid = custprofile.column_type(s.relid, s.columns ->> 'key')
         WHERE s.kind = 'customers';
        SELECT t.typcategory INTO cat FROM pg_catalog.pg_type t
         WHERE t.oid = custprofile.column_type(relid, columns ->> 'customer');
        IF key_cat IS NOT NULL AND key_cat <> cat THEN
            RAISE EXCEPTION 'the customer column "%" of % has type %, which does not compare with the customers key (%)',
                columns ->> 'customer', what, custprofile.column_type(relid, columns ->> 'customer'),
                (SELECT custprofile.column_type(s.relid, key_col) FROM custprofile.source_registry s WHERE s.kind = 'customers')
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Customer keys of every source must have the type of the customers key; register a view that casts it.';
        END IF;
    END IF;
END $$;

-- The registration of a kind, checked; raises the ERROR that names the missing
-- register_source call when there is none.
CREATE OR REPLACE FUNCTION custprofile.registered(kind text)
RETURNS SETOF custprofile.source_registry LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s custprofile.source_registry;
    found_any boolean := false;
BEGIN
    FOR s IN SELECT * FROM custprofile.source_registry r WHERE r.kind = registered.kind ORDER BY r.relation_name LOOP
        PERFORM custprofile.check_registration(s.kind, s.relid, s.relation_name, s.columns);
        found_any := true;
        RETURN NEXT s;
    END LOOP;
    -- orders and texts are optional; the other kinds are needed by whoever asks for them
    IF NOT found_any AND kind IN ('customers', 'items', 'answers') THEN
        RAISE EXCEPTION 'no % source is registered', kind
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call custprofile.register_source(' || CASE kind
                      WHEN 'customers' THEN '''customers'', ''public.customers'', ''{"key": "customer_id", "attributes": ["age", "city"]}'''
                      WHEN 'items' THEN '''items'', ''public.items'', ''{"key": "item_id", "title": "name", "description": "description", "category": "category", "price": "price"}'''
                      ELSE '''answers'', ''public.answers'', ''{"key": "answer_id", "question": "question", "answer": "answer"}''' END
                  || ') with your table and columns.';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION custprofile.register_source(kind text, relation regclass, columns jsonb)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    r record;
    unknown text;
    relkind "char";
BEGIN
    IF kind IS NULL OR relation IS NULL OR columns IS NULL THEN
        RAISE EXCEPTION 'register_source needs a kind, a relation and its columns'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF kind NOT IN ('customers', 'orders', 'texts', 'items', 'answers') THEN
        RAISE EXCEPTION 'unknown source kind "%"', kind
            USING ERRCODE = 'invalid_parameter_value', HINT = 'The kinds are customers, orders, texts, items and answers.';
    END IF;
    IF jsonb_typeof(columns) <> 'object' THEN
        RAISE EXCEPTION 'columns must be a JSON object of role to column name'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = (SELECT format('The roles of a %s source: %s.', kind, string_agg(role, ', ')) FROM custprofile.source_roles(kind));
    END IF;
    SELECT string_agg(k, ', ') INTO unknown FROM jsonb_object_keys(columns) k
     WHERE k NOT IN (SELECT role FROM custprofile.source_roles(kind));
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown role(s) for a % source: %', kind, unknown
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = (SELECT format('The roles of a %s source: %s.', kind, string_agg(role, ', ')) FROM custprofile.source_roles(kind));
    END IF;
    FOR r IN SELECT * FROM custprofile.source_roles(kind) LOOP
        IF r.role = 'attributes' THEN
            IF columns ? 'attributes' AND (jsonb_typeof(columns -> 'attributes') <> 'array'
               OR EXISTS (SELECT FROM jsonb_array_elements(columns -> 'attributes') e WHERE jsonb_typeof(e) <> 'string')) THEN
                RAISE EXCEPTION 'attributes must be an array of column names'
                    USING ERRCODE = 'invalid_parameter_value', HINT = 'For example {"key": "id", "attributes": ["age", "city"]}.';
            END IF;
        ELSIF columns ? r.role AND jsonb_typeof(columns -> r.role) <> 'string' THEN
            RAISE EXCEPTION 'the % column must be given as a column name (a JSON string)', r.role
                USING ERRCODE = 'invalid_parameter_value';
        ELSIF r.required AND NOT columns ? r.role THEN
            RAISE EXCEPTION 'the % source needs its % column', kind, r.role
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = (SELECT format('The roles of a %s source: %s (required: %s).', kind,
                                            string_agg(role, ', '), string_agg(role, ', ') FILTER (WHERE required))
                                FROM custprofile.source_roles(kind));
        END IF;
    END LOOP;
    IF kind = 'items' AND NOT (columns ? 'title' OR columns ? 'description') THEN
        RAISE EXCEPTION 'an items source needs a title or a description column (or both)'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example {"key": "item_id", "title": "name", "description": "blurb", "category": "category", "price": "price"}.';
    END IF;
    SELECT c.relkind INTO relkind FROM pg_catalog.pg_class c WHERE c.oid = relation;
    IF relkind NOT IN ('r', 'p', 'v', 'm', 'f') THEN
        RAISE EXCEPTION '% is not a table, view, materialized view or foreign table', relation
            USING ERRCODE = 'wrong_object_type';
    END IF;
    -- the caller's right to read the relation and the registration itself are checked there
    PERFORM custprofile.store_registration(kind, relation, columns, current_user);
    RETURN jsonb_build_object('kind', kind, 'relation', relation::text, 'columns', columns);
END $$;

-- The trust rule of the registry's writers below, which run as the extension's owner and so
-- cannot see their caller: the role they are told the caller is (`claimed`) is believed only if
-- the session's user may act as it, and it may call the entry point (register_source or
-- unregister_source, whose EXECUTE an administrator grants).
CREATE OR REPLACE FUNCTION custprofile.check_registrar(claimed name, entry_point regprocedure, action text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF claimed IS NULL OR NOT pg_has_role(session_user, claimed, 'MEMBER')
       OR NOT has_function_privilege(claimed, entry_point, 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied to % sources', action
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'An administrator can allow a role to: GRANT EXECUTE ON FUNCTION custprofile.register_source(text, regclass, jsonb), custprofile.unregister_source(text, text) TO that_role;';
    END IF;
END $$;

-- The only writer of the registry (nobody else may write it): records `registrant` as the role
-- every read of the relation runs as. SECURITY DEFINER, so it cannot see its caller: it is told
-- the caller's current_user by register_source and believes it only if the session's user may
-- act as that role, and that role may register and read the relation.
CREATE OR REPLACE FUNCTION custprofile.store_registration(kind text, relation regclass, columns jsonb, registrant name)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    others name;
BEGIN
    PERFORM custprofile.check_registrar(registrant, 'custprofile.register_source(text, regclass, jsonb)', 'register');
    IF NOT has_table_privilege(registrant, relation, 'SELECT') THEN
        RAISE EXCEPTION 'permission denied: % cannot read %', registrant, relation
            USING ERRCODE = 'insufficient_privilege', HINT = format('GRANT SELECT ON %s TO %I;', relation, registrant);
    END IF;
    -- every source is read as one role: the others must have been registered by the same one
    SELECT string_agg(DISTINCT s.registered_by::text, ', ') INTO others FROM custprofile.source_registry s
     WHERE s.registered_by <> registrant
       AND NOT (s.kind = store_registration.kind AND (s.kind <> 'texts' OR s.relid = relation));
    IF others IS NOT NULL THEN
        RAISE EXCEPTION 'the other sources are registered by %, so % cannot register one', others, registrant
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('Sources are read with the rights of the one role that registered them: register as that role (SET ROLE %s), or unregister its sources first.', others);
    END IF;
    PERFORM custprofile.check_registration(kind, relation, relation::text, columns);
    IF kind <> 'texts' THEN
        DELETE FROM custprofile.source_registry s WHERE s.kind = store_registration.kind;
    END IF;
    INSERT INTO custprofile.source_registry AS s (kind, relid, relation_name, columns, registered_by)
    VALUES (kind, relation, relation::text, columns, registrant)
    ON CONFLICT ON CONSTRAINT source_registry_pkey DO UPDATE
        SET relation_name = EXCLUDED.relation_name, columns = EXCLUDED.columns,
            registered_at = now(), registered_by = EXCLUDED.registered_by;
    -- what is built from the role's sources (profiles, item and answer vectors) is read together
    -- with them, as that role
    EXECUTE format('GRANT SELECT ON custprofile.profiles, custprofile.catalogue_embeddings, custprofile.segmentation TO %I',
                   registrant);
END $$;

-- Removes a registration; the relation may already be dropped, so it is named as text. Only the
-- registering role (or a member of it) may remove one.
CREATE OR REPLACE FUNCTION custprofile.unregister_source(kind text, relation text)
RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    RETURN custprofile.drop_registration(kind, relation, current_user);
END $$;

-- The registry's only deleter; SECURITY DEFINER with the same trust rule as store_registration.
CREATE OR REPLACE FUNCTION custprofile.drop_registration(kind text, relation text, caller name)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    removed int;
BEGIN
    PERFORM custprofile.check_registrar(caller, 'custprofile.unregister_source(text, text)', 'unregister');
    IF EXISTS (SELECT FROM custprofile.source_registry s
                WHERE s.kind = drop_registration.kind AND NOT pg_has_role(caller, s.registered_by, 'MEMBER')
                  AND (s.relation_name = relation OR s.relid = to_regclass(relation))) THEN
        RAISE EXCEPTION 'the % source % was registered by another role', kind, relation
            USING ERRCODE = 'insufficient_privilege', HINT = 'Only the role that registered a source (or a member of it) can remove it.';
    END IF;
    DELETE FROM custprofile.source_registry s
     WHERE s.kind = drop_registration.kind
       AND (s.relation_name = relation
            OR (EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = s.relid) AND s.relid::regclass::text = relation)
            OR s.relid = to_regclass(relation));
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed > 0;
END $$;

-- The role the registered sources are read as: the one that registered them (NULL when nothing
-- is registered). Reading them as that role means a source never shows more than its registrant
-- could see, and code in a source (a view calling a function) runs as its registrant, never as
-- the superuser or pg_cron job that builds the profiles. The reader must be a member of it.
CREATE OR REPLACE FUNCTION custprofile.source_reader() RETURNS name
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    readers name[];
BEGIN
    SELECT array_agg(DISTINCT s.registered_by ORDER BY s.registered_by) INTO readers FROM custprofile.source_registry s;
    IF readers IS NULL THEN
        RETURN NULL;
    END IF;
    IF cardinality(readers) > 1 THEN
        RAISE EXCEPTION 'the sources are registered by several roles (%)', array_to_string(readers, ', ')
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Register every source as one role: custprofile reads them with that role''s rights.';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = readers[1]) THEN
        RAISE EXCEPTION 'the sources were registered by role %, which no longer exists', readers[1]
            USING ERRCODE = 'insufficient_privilege', HINT = 'Register the sources again as an existing role.';
    END IF;
    IF NOT pg_has_role(readers[1], 'MEMBER') THEN
        RAISE EXCEPTION 'the sources are read as role %, which % is not a member of', readers[1], current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('Sources are read with the rights of the role that registered them: GRANT %I TO %I; (or read the stored profiles).',
                                readers[1], current_user);
    END IF;
    RETURN readers[1];
END $$;

-- Switches to the sources' reader role for one read and returns the role to switch back to with
-- leave_source_reader (NULL: nothing to undo). No SET clause: a role set inside one would outlive
-- the function anyway (only the SET clause's own variables are restored on exit), and the
-- search_path is the caller's pinned one.
CREATE OR REPLACE FUNCTION custprofile.enter_source_reader() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    reader name := custprofile.source_reader();
    previous text;
BEGIN
    IF reader IS NULL OR reader OPERATOR(pg_catalog.=) CURRENT_USER THEN
        RETURN NULL;
    END IF;
    previous := pg_catalog.current_setting('role');
    PERFORM pg_catalog.set_config('role', reader, true);
    RETURN previous;
END $$;

CREATE OR REPLACE FUNCTION custprofile.leave_source_reader(previous text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF previous IS NOT NULL THEN
        PERFORM pg_catalog.set_config('role', previous, true);
    END IF;
END $$;

-- SQL expressions over a registered relation, aliased: the customer key cast to the type of the
-- customers key, so that every source compares with it (and indexes on it are used when the
-- types are the same).
CREATE OR REPLACE FUNCTION custprofile.key_type() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT format_type(custprofile.column_type(s.relid, s.columns ->> 'key'), NULL)
      FROM custprofile.registered('customers') s
$$;

-- The expression for an optional role of a registration: `alias.column::type`, or a typed NULL
-- when the role is not registered.
CREATE OR REPLACE FUNCTION custprofile.role_sql(columns jsonb, role text, alias text, type text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE WHEN columns ? role THEN format('%s.%I::%s', alias, columns ->> role, type) ELSE 'NULL::' || type END
$$;

-- One query over every registered text source, with the columns
-- (source text, customer_key <key type>, body text, rating real, written_at timestamptz, item text).
CREATE OR REPLACE FUNCTION custprofile.texts_sql() RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    kt text := custprofile.key_type();
    parts text[] := '{}';
    s custprofile.source_registry;
BEGIN
    FOR s IN SELECT * FROM custprofile.registered('texts') LOOP
        parts := parts || format(
            'SELECT %L::text AS source, t.%I::%s AS customer_key, t.%I::text AS body, %s AS rating, %s AS written_at, %s AS item FROM %s t',
            s.relid::regclass::text, s.columns ->> 'customer', kt, s.columns ->> 'text',
            custprofile.role_sql(s.columns, 'rating', 't', 'real'),
            custprofile.role_sql(s.columns, 'time', 't', 'timestamptz'),
            custprofile.role_sql(s.columns, 'item', 't', 'text'),
            s.relid::regclass);
    END LOOP;
    IF cardinality(parts) = 0 THEN
        RETURN format('SELECT NULL::text AS source, NULL::%s AS customer_key, NULL::text AS body, NULL::real AS rating, '
                      'NULL::timestamptz AS written_at, NULL::text AS item WHERE false', kt);
    END IF;
    RETURN array_to_string(parts, ' UNION ALL ');
END $$;

-- The orders source as (customer_key, ordered_at, amount, item, category); NULL when none is
-- registered.
CREATE OR REPLACE FUNCTION custprofile.orders_sql() RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    kt text := custprofile.key_type();
    s custprofile.source_registry;
BEGIN
    SELECT * INTO s FROM custprofile.registered('orders');
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN format(
        'SELECT o.%I::%s AS customer_key, o.%I::timestamptz AS ordered_at, o.%I::numeric AS amount, %s AS item, %s AS category FROM %s o',
        s.columns ->> 'customer', kt, s.columns ->> 'time', s.columns ->> 'amount',
        custprofile.role_sql(s.columns, 'item', 'o', 'text'),
        custprofile.role_sql(s.columns, 'category', 'o', 'text'),
        s.relid::regclass);
END $$;

-- The shape of orders_sql() with no rows, for when no orders source is registered.
CREATE OR REPLACE FUNCTION custprofile.no_orders_sql() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT format('SELECT NULL::%s AS customer_key, NULL::timestamptz AS ordered_at, NULL::numeric AS amount, '
                  'NULL::text AS item, NULL::text AS category WHERE false', custprofile.key_type())
$$;

-- The customers source as (customer_key, attributes jsonb).
CREATE OR REPLACE FUNCTION custprofile.customers_sql() RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s custprofile.source_registry;
    attrs text;
BEGIN
    SELECT * INTO s FROM custprofile.registered('customers');
    SELECT string_agg(format('%L, c.%I', a, a), ', ') INTO attrs
      FROM jsonb_array_elements_text(COALESCE(s.columns -> 'attributes', '[]')) a;
    RETURN format('SELECT c.%I AS customer_key, jsonb_build_object(%s) AS attributes FROM %s c',
                  s.columns ->> 'key', COALESCE(attrs, ''), s.relid::regclass);
END $$;

CREATE OR REPLACE FUNCTION custprofile.default_churn_weights() RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT '{"bias": -3.0, "recency": 3.0, "sentiment_decline": 1.5, "complaints": 1.5,
             "disagreement": 1.0, "negative_share": 1.5}'::jsonb
$$;

-- The weights in use: the trained ones when there are, else the defaults.
CREATE OR REPLACE FUNCTION custprofile.churn_weights() RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT COALESCE((SELECT m.weights FROM custprofile.churn_model m), custprofile.default_churn_weights())
$$;

CREATE OR REPLACE FUNCTION custprofile.clamp01(x float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT least(1.0, greatest(0.0, COALESCE(x, 0.0))) $$;

-- The five factors of a profile document as of a moment (see the top of this file).
CREATE OR REPLACE FUNCTION custprofile.churn_factors(profile jsonb, rhythm_days float8, as_of timestamptz)
RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT jsonb_build_object(
        'recency', round(custprofile.clamp01(
            (extract(epoch FROM as_of - greatest((profile #>> '{purchases,last_order}')::timestamptz,
                                                 (profile #>> '{texts,last_seen}')::timestamptz)) / 86400
             / greatest(COALESCE(rhythm_days, 91), 1) - 1) / 2)::numeric, 4),
        'sentiment_decline', round(custprofile.clamp01(
            -(profile #>> '{texts,sentiment,trend,slope_per_month}')::float8 / 0.1)::numeric, 4),
        'complaints', CASE WHEN EXISTS (
            SELECT FROM jsonb_array_elements_text(COALESCE(profile #> '{texts,needs}', '[]')) n(topic)
              JOIN custprofile.topics t ON t.topic = n.topic AND t.complaint) THEN 1 ELSE 0 END,
        'disagreement', round(custprofile.clamp01(
            (profile #>> '{texts,rating,conflicting_texts}')::float8
            / NULLIF((profile #>> '{texts,rating,count}')::float8, 0))::numeric, 4),
        'negative_share', round(custprofile.clamp01(
            (profile #>> '{texts,sentiment,distribution,negative}')::float8)::numeric, 4))
$$;

-- Risk, factors and each factor's contribution (weight * factor) for a profile document.
CREATE OR REPLACE FUNCTION custprofile.churn_assessment(profile jsonb, rhythm_days float8, as_of timestamptz)
RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT jsonb_build_object(
               'risk', round((1 / (1 + exp(-((w ->> 'bias')::float8 + c.total))))::numeric, 4),
               'factors', f,
               'contributions', c.each,
               'rhythm_days', round(rhythm_days::numeric, 1),
               'weights', CASE WHEN EXISTS (SELECT FROM custprofile.churn_model) THEN 'trained' ELSE 'default' END,
               'as_of', as_of)
      -- the rhythm as stored (one decimal), so that the live figure equals the stored one
      FROM (SELECT custprofile.churn_factors(profile, round(rhythm_days::numeric, 1)::float8, as_of) AS f,
                   custprofile.churn_weights() AS w) x,
           LATERAL (SELECT COALESCE(sum((x.w ->> e.key)::float8 * e.value::text::float8), 0) AS total,
                           jsonb_object_agg(e.key, round(((x.w ->> e.key)::float8 * e.value::text::float8)::numeric, 4)) AS each
                      FROM jsonb_each(x.f) e) c
     WHERE profile IS NOT NULL
$$;

-- The churn section of a stored profile recomputed as of a moment, with the rhythm it stored.
CREATE OR REPLACE FUNCTION custprofile.stored_churn(profile jsonb, as_of timestamptz) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT custprofile.churn_assessment(profile, (profile #>> '{churn,rhythm_days}')::float8, as_of)
$$;

-- The churn risk of one customer now, in [0, 1], from the stored profile (so recency keeps
-- counting between refreshes); NULL for a customer without a stored profile.
CREATE OR REPLACE FUNCTION custprofile.churn_risk(customer_id text) RETURNS real
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    p jsonb;
BEGIN
    PERFORM custprofile.require_profiles();
    SELECT s.profile INTO p FROM custprofile.profiles s WHERE s.customer_key = customer_id;
    RETURN (custprofile.stored_churn(p, now()) ->> 'risk')::real;
END $$;

CREATE OR REPLACE FUNCTION custprofile.churn_risk(customer_id bigint) RETURNS real
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT custprofile.churn_risk(customer_id::text) $$;

CREATE OR REPLACE FUNCTION custprofile.churn_risk(customer_id uuid) RETURNS real
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT custprofile.churn_risk(customer_id::text) $$;

-- Recomputes the churn section of every stored profile with the weights in use, as of the
-- profile's generated_at (no model is run).
CREATE OR REPLACE FUNCTION custprofile.rescore_churn() RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    -- the whole table at once, before any row: row by row in the table's order would deadlock
    -- with a refresh writing the same rows in its own order
    LOCK TABLE custprofile.profiles IN SHARE ROW EXCLUSIVE MODE;
    UPDATE custprofile.profiles p
       SET profile = jsonb_set(p.profile, '{churn}',
                               custprofile.stored_churn(p.profile, (p.profile ->> 'generated_at')::timestamptz))
     WHERE p.profile ? 'churn';
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Back to the default weights, in the stored profiles too.
CREATE OR REPLACE FUNCTION custprofile.reset_churn_model() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('custprofile.churn_model'));
    DELETE FROM custprofile.churn_model;
    PERFORM custprofile.rescore_churn();
END $$;

-- Fits the weights to the user's own labels: training_query returns (customer key, churned
-- boolean) rows; the factors come from the stored profiles as of `as_of` in options (default now);
-- logistic regression through the same trainer as train_classifier (options: l2, epochs, seed,
-- validation_share, learning_rate). The weights replace the defaults, and every stored profile's
-- churn section is recomputed with them, in one transaction.
-- The caller's training query is resolved with the caller's search_path (their tables need no
-- schema); everything else here runs with the pinned one, as every other function does. Hence no
-- SET clause: the query's rows are read into arrays first, with the caller's path.
CREATE OR REPLACE FUNCTION custprofile.train_churn_model(training_query text, options jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    caller_path text := pg_catalog.current_setting('search_path');
    names text[];
    as_of timestamptz;
    user_rows text;
    keys text[];
    churned boolean[];
    features float8[];
    labels boolean[];
    unmatched bigint;
    fitted jsonb;
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, custprofile, pg_temp', true);
    names := ARRAY['recency', 'sentiment_decline', 'complaints', 'disagreement', 'negative_share'];
    as_of := COALESCE((options ->> 'as_of')::timestamptz, now());
    IF training_query IS NULL OR btrim(btrim(training_query), ';') = '' THEN
        RAISE EXCEPTION 'train_churn_model needs a query returning (customer key, churned boolean) rows'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM custprofile.require_profiles();
    -- the shared weights change every customer's churn risk: refuse before any work whoever
    -- could not store them
    IF NOT has_table_privilege('custprofile.churn_model', 'INSERT') THEN
        RAISE EXCEPTION 'permission denied to train the churn model'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'The churn weights are shared by every profile: an administrator trains them.';
    END IF;
    user_rows := format('SELECT pg_catalog.array_agg(q.k::text), pg_catalog.array_agg(q.churned::boolean) FROM (%s) q(k, churned)',
                        training_query);
    PERFORM pg_catalog.set_config('search_path', caller_path, true);
    EXECUTE user_rows INTO keys, churned;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, custprofile, pg_temp', true);
    SELECT array_agg(f.value ORDER BY l.k, f.n), (array_agg(l.churned ORDER BY l.k) FILTER (WHERE f.n = 1)),
           (SELECT count(*) FROM unnest(keys) q(k) WHERE NOT EXISTS
                (SELECT FROM custprofile.profiles p WHERE p.customer_key = q.k))
      INTO features, labels, unmatched
      FROM unnest(keys, churned) l(k, churned)
      JOIN custprofile.profiles p ON p.customer_key = l.k
      CROSS JOIN LATERAL unnest(ARRAY(
          SELECT (custprofile.churn_factors(p.profile, (p.profile #>> '{churn,rhythm_days}')::float8, as_of) ->> n)::float8
            FROM unnest(names) n)) WITH ORDINALITY AS f(value, n);
    IF labels IS NULL THEN
        RAISE EXCEPTION 'the training query returned no rows that match a stored profile'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Return (customer key, churned boolean) for customers that have a profile; run CALL custprofile.refresh_profiles() first.';
    END IF;
    IF array_position(labels, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'the training query returned NULL churn labels' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    fitted := custprofile.fit_logistic(features, labels, names, options - 'as_of');
    -- one model row: a concurrent training waits, then replaces it
    PERFORM pg_advisory_xact_lock(hashtext('custprofile.churn_model'));
    DELETE FROM custprofile.churn_model;
    INSERT INTO custprofile.churn_model (weights, metrics)
    VALUES (fitted -> 'weights', (fitted -> 'metrics') || jsonb_build_object('rows', cardinality(labels),
                                                                            'unmatched_rows', unmatched, 'as_of', as_of));
    PERFORM custprofile.rescore_churn();
    fitted := fitted || jsonb_build_object('rows', cardinality(labels), 'unmatched_rows', unmatched);
    PERFORM pg_catalog.set_config('search_path', caller_path, true);
    RETURN fitted;
END $$;

-- The items source as (key text, document text, title text, category text, price numeric):
-- the document is what is embedded, "title. category. description".
CREATE OR REPLACE FUNCTION custprofile.items_sql() RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s custprofile.source_registry;
    title text;
    category text;
BEGIN
    SELECT * INTO s FROM custprofile.registered('items');
    title := custprofile.role_sql(s.columns, 'title', 'i', 'text');
    category := custprofile.role_sql(s.columns, 'category', 'i', 'text');
    RETURN format(
        'SELECT i.%1$I::text AS key, '
        'concat_ws(''. '', NULLIF(btrim(%2$s), ''''), NULLIF(btrim(%3$s), ''''), NULLIF(btrim(%4$s), '''')) AS document, '
        '%2$s AS title, %3$s AS category, %5$s AS price FROM %6$s i',
        s.columns ->> 'key', title, category, custprofile.role_sql(s.columns, 'description', 'i', 'text'),
        custprofile.role_sql(s.columns, 'price', 'i', 'numeric'), s.relid::regclass);
END $$;

-- The answers source as (key text, document text, answer text): the question (or topic) is
-- what is embedded and matched.
CREATE OR REPLACE FUNCTION custprofile.answers_sql() RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s custprofile.source_registry;
BEGIN
    SELECT * INTO s FROM custprofile.registered('answers');
    RETURN format('SELECT a.%I::text AS key, NULLIF(btrim(a.%I::text), '''') AS document, a.%I::text AS answer FROM %s a',
                  s.columns ->> 'key', s.columns ->> 'question', s.columns ->> 'answer', s.relid::regclass);
END $$;

-- The rows of a catalogue: items_sql() or answers_sql().
CREATE OR REPLACE FUNCTION custprofile.catalogue_rows_sql(kind text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE kind WHEN 'items' THEN custprofile.items_sql() ELSE custprofile.answers_sql() END
$$;

-- The hash that says whether a stored embedding still fits its text and the model.
CREATE OR REPLACE FUNCTION custprofile.catalogue_hash(document text, model jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT hashtextextended(document || chr(31) || (model - 'extension')::text, 0)
$$;

-- The rows of a catalogue ('items' or 'answers') with the cosine similarity of their text to a
-- query vector (`vector_sql`: a parameter such as '$1', or any expression), as a column
-- `similarity`: from the stored vector when it is fresh, else from an embedding computed now.
-- The similarity is computed in the scan of the stored vectors (OFFSET 0 keeps the planner
-- from pulling it above the join), so only (key, similarity) rows meet the catalogue, never
-- the vectors themselves. Rows without text are left out; a NULL
-- query vector gives NULL similarities.
CREATE OR REPLACE FUNCTION custprofile.catalogue_similarity_sql(kind text, vector_sql text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    RETURN format(
        'SELECT c.*, CASE WHEN e.key IS NOT NULL THEN e.similarity '
        '                 WHEN (%2$s) IS NOT NULL THEN custprofile.cosine_similarity(custprofile.embed_text(c.document), %2$s) END AS similarity '
        'FROM (%1$s) c '
        'LEFT JOIN (SELECT x.key, x.text_hash, custprofile.cosine_similarity(x.embedding, %2$s) AS similarity '
        '             FROM custprofile.catalogue_embeddings x WHERE x.kind = %3$L OFFSET 0) e '
        '  ON e.key = c.key AND e.text_hash = custprofile.catalogue_hash(c.document, %4$L) '
        'WHERE c.document IS NOT NULL AND c.key IS NOT NULL',
        custprofile.catalogue_rows_sql(kind), vector_sql, kind, custprofile.model_version());
END $$;

-- Embeds the new and changed rows of the registered items and answers (in batches through
-- embed_texts) and forgets rows that are gone. One row per kind: how many rows were embedded,
-- how many removed. Kinds that are not registered are skipped.
CREATE OR REPLACE FUNCTION custprofile.refresh_catalogues()
RETURNS TABLE (kind text, embedded bigint, removed bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    k text;
    model jsonb := custprofile.model_version();
    chunk record;
    reader name;
    previous_role text;
BEGIN
    -- the vectors of a kind that is no longer registered
    DELETE FROM custprofile.catalogue_embeddings e
     WHERE NOT EXISTS (SELECT FROM custprofile.source_registry r WHERE r.kind = e.kind);
    FOR k IN SELECT r.kind FROM custprofile.source_registry r WHERE r.kind IN ('items', 'answers') ORDER BY 1 LOOP
        PERFORM FROM custprofile.registered(k);  -- checks the registration
        kind := k;
        CREATE TEMP TABLE custprofile_catalogue (key text, document text) ON COMMIT DROP;
        -- filled as the sources' reader (sql/sources.sql), who may write just this table
        reader := custprofile.source_reader();
        IF reader IS NOT NULL THEN
            EXECUTE format('GRANT INSERT ON pg_temp.custprofile_catalogue TO %I', reader);
        END IF;
        previous_role := custprofile.enter_source_reader();
        EXECUTE format('INSERT INTO pg_temp.custprofile_catalogue SELECT DISTINCT ON (c.key) c.key, c.document FROM (%s) c '
                       'WHERE c.key IS NOT NULL AND c.document IS NOT NULL ORDER BY c.key',
                       custprofile.catalogue_rows_sql(k));
        PERFORM custprofile.leave_source_reader(previous_role);
        DELETE FROM custprofile.catalogue_embeddings e
         WHERE e.kind = k AND NOT EXISTS (SELECT FROM pg_temp.custprofile_catalogue c WHERE c.key = e.key);
        GET DIAGNOSTICS removed = ROW_COUNT;
        embedded := 0;
        -- stale or missing rows, 256 texts per embed_texts call
        FOR chunk IN
            SELECT array_agg(s.key ORDER BY s.key) AS keys, array_agg(s.document ORDER BY s.key) AS documents
              FROM (SELECT c.key, c.document, (row_number() OVER (ORDER BY c.key) - 1) / 256 AS part
                      FROM pg_temp.custprofile_catalogue c
                      LEFT JOIN custprofile.catalogue_embeddings e ON e.kind = k AND e.key = c.key
                     WHERE e.text_hash IS DISTINCT FROM custprofile.catalogue_hash(c.document, model)) s
             GROUP BY s.part ORDER BY s.part
        LOOP
            INSERT INTO custprofile.catalogue_embeddings AS e (kind, key, text_hash, embedding, embedded_at)
            SELECT k, chunk.keys[v.n], custprofile.catalogue_hash(chunk.documents[v.n], model), v.embedding, now()
              FROM custprofile.embed_texts(chunk.documents) WITH ORDINALITY AS v(embedding, n)
            ON CONFLICT ON CONSTRAINT catalogue_embeddings_pkey DO UPDATE
                SET text_hash = EXCLUDED.text_hash, embedding = EXCLUDED.embedding, embedded_at = EXCLUDED.embedded_at;
            embedded := embedded + cardinality(chunk.keys);
        END LOOP;
        RETURN NEXT;
        DROP TABLE pg_temp.custprofile_catalogue;
    END LOOP;
END $$;

-- Customer profiles: build_profile joins the registered sources (sql/sources.sql) into one JSONB
-- document per customer; the profiles table stores them and refresh_profiles keeps it fresh;
-- customer_profiles and text_insights are the views BI tools read. The document's shape is
-- written down in schema/profile.schema.json.

-- Quintile breakpoints (20/40/60/80 %) of recency, order count and spend over every customer
-- with orders: the yardstick of the 1 to 5 RFM scores. NULL without an orders source.
CREATE OR REPLACE FUNCTION custprofile.rfm_breakpoints() RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    orders_q text := custprofile.orders_sql();
    result jsonb;
    previous_role text;
BEGIN
    IF orders_q IS NULL THEN
        RETURN NULL;
    END IF;
    previous_role := custprofile.enter_source_reader();
    EXECUTE format($q$
        SELECT jsonb_build_object(
            'recency_days', to_jsonb(percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY recency_days)),
            'orders',       to_jsonb(percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY orders)),
            'spend',        to_jsonb(percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY spend)),
            -- the usual time between two orders, for customers whose own rhythm is unknown
            'interval_days', percentile_cont(0.5) WITHIN GROUP (ORDER BY interval_days),
            'customers',    count(*),
            'as_of',        now())
          FROM (SELECT extract(epoch FROM now() - max(o.ordered_at)) / 86400 AS recency_days,
                       count(*) AS orders, sum(o.amount) AS spend,
                       extract(epoch FROM max(o.ordered_at) - min(o.ordered_at)) / 86400 / NULLIF(count(*) - 1, 0) AS interval_days
                  FROM (%s) o
                 WHERE o.customer_key IN (SELECT c.customer_key FROM (%s) c)
                 GROUP BY o.customer_key) per_customer
        $q$, orders_q, custprofile.customers_sql()) INTO result;
    PERFORM custprofile.leave_source_reader(previous_role);
    RETURN result;
END $$;

-- A score from 1 to 5: how many breakpoints the value exceeds (reversed when lower is better).
CREATE OR REPLACE FUNCTION custprofile.quintile_score(x float8, breakpoints jsonb, higher_is_better boolean)
RETURNS int LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE WHEN x IS NULL OR breakpoints IS NULL OR jsonb_typeof(breakpoints) <> 'array' THEN NULL
                WHEN higher_is_better THEN 1 + e.exceeded
                ELSE 5 - e.exceeded END
      FROM (SELECT count(*)::int AS exceeded FROM jsonb_array_elements_text(breakpoints) AS b(v)
             WHERE x > b.v::float8) e
$$;

-- Profiles of the given customers (keys as text), built set-wise: one pass over each source for
-- all of them, texts scored in batches by profile_agg. Unknown customers give no row.
-- `breakpoints` (from rfm_breakpoints) is computed here when not passed.
CREATE OR REPLACE FUNCTION custprofile.build_profiles(customer_keys text[], breakpoints jsonb DEFAULT NULL)
RETURNS TABLE (customer_key text, profile jsonb, interest_vector real[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    kt text := custprofile.key_type();
    orders_q text := custprofile.orders_sql();
    has_orders boolean := orders_q IS NOT NULL;
    previous_role text;
BEGIN
    IF has_orders THEN
        breakpoints := COALESCE(breakpoints, custprofile.rfm_breakpoints());
    ELSE
        orders_q := custprofile.no_orders_sql();
    END IF;
    previous_role := custprofile.enter_source_reader();
    RETURN QUERY EXECUTE format($q$
        WITH wanted AS (SELECT DISTINCT k::%1$s AS customer_key FROM unnest($1) AS k WHERE k IS NOT NULL),
        cust AS (SELECT c.customer_key, c.attributes FROM (%2$s) c WHERE c.customer_key IN (SELECT customer_key FROM wanted)),
        orders AS (SELECT o.* FROM (%3$s) o WHERE o.customer_key IN (SELECT customer_key FROM wanted)),
        per_customer AS (
            SELECT o.customer_key, count(*) AS orders, sum(o.amount) AS spend,
                   min(o.ordered_at) AS first_order, max(o.ordered_at) AS last_order,
                   extract(epoch FROM now() - max(o.ordered_at)) / 86400 AS recency_days,
                   extract(epoch FROM max(o.ordered_at) - min(o.ordered_at)) / 86400 / NULLIF(count(*) - 1, 0) AS interval_days
              FROM orders o GROUP BY o.customer_key),
        categories AS (
            SELECT r.customer_key, jsonb_agg(r.category ORDER BY r.rank) FILTER (WHERE r.rank <= 3) AS favourite,
                   jsonb_object_agg(r.category, r.orders) AS orders_by_category
              FROM (SELECT o.customer_key, o.category, count(*) AS orders,
                           row_number() OVER (PARTITION BY o.customer_key
                                              ORDER BY count(*) DESC, sum(o.amount) DESC NULLS LAST, o.category) AS rank
                      FROM orders o WHERE o.category IS NOT NULL
                     GROUP BY o.customer_key, o.category) r
             GROUP BY r.customer_key),
        texts AS (
            SELECT t.customer_key, custprofile.profile_agg(t.body, t.rating, t.written_at) AS signals
              FROM (%4$s) t WHERE t.customer_key IN (SELECT customer_key FROM wanted)
             GROUP BY t.customer_key)
        SELECT d.customer_key, d.profile || jsonb_build_object('churn', custprofile.churn_assessment(d.profile, d.rhythm_days, now())),
               d.interest_vector
          FROM (
        SELECT c.customer_key::text,
               jsonb_build_object(
                   'customer_id', to_jsonb(c.customer_key),
                   'demographics', c.attributes,
                   'purchases', CASE WHEN $2 THEN jsonb_build_object(
                       'orders', COALESCE(p.orders, 0),
                       'total_spend', COALESCE(p.spend, 0),
                       'average_spend', round(p.spend / p.orders, 2),
                       'first_order', p.first_order,
                       'last_order', p.last_order,
                       'recency_days', floor(p.recency_days)::int,
                       'rfm', CASE WHEN p.orders > 0 THEN jsonb_build_object(
                           'recency', custprofile.quintile_score(p.recency_days, $3 -> 'recency_days', false),
                           'frequency', custprofile.quintile_score(p.orders, $3 -> 'orders', true),
                           'monetary', custprofile.quintile_score(p.spend, $3 -> 'spend', true)) END,
                       'favourite_categories', COALESCE(cat.favourite, '[]'::jsonb),
                       'orders_by_category', COALESCE(cat.orders_by_category, '{}'::jsonb),
                       'order_interval_days', round(p.interval_days::numeric, 1)) END,
                   'texts', t.signals,
                   'generated_at', now(),
                   'model', custprofile.model_version()),
               ARRAY(SELECT v::real FROM jsonb_array_elements_text(t.signals -> 'interest_vector') v),
               -- the customer's own rhythm, else the shop's usual one, else a quarter
               COALESCE(p.interval_days, ($3 ->> 'interval_days')::float8, 91) AS rhythm_days
          FROM cust c
          LEFT JOIN per_customer p ON p.customer_key = c.customer_key
          LEFT JOIN categories cat ON cat.customer_key = c.customer_key
          LEFT JOIN texts t ON t.customer_key = c.customer_key
          ) AS d(customer_key, profile, interest_vector, rhythm_days)
        $q$, kt, custprofile.customers_sql(), orders_q, custprofile.texts_sql())
    USING customer_keys, has_orders, breakpoints;
    PERFORM custprofile.leave_source_reader(previous_role);
END $$;

-- The profile of one customer; NULL for an unknown customer. Keys of type bigint, text and uuid
-- have their own overload so that literals resolve without casts.
CREATE OR REPLACE FUNCTION custprofile.build_profile(customer_id text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT (SELECT b.profile FROM custprofile.build_profiles(ARRAY[customer_id]) b)
$$;

CREATE OR REPLACE FUNCTION custprofile.build_profile(customer_id bigint) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT custprofile.build_profile(customer_id::text) $$;

CREATE OR REPLACE FUNCTION custprofile.build_profile(customer_id uuid) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT custprofile.build_profile(customer_id::text) $$;

-- Raises the ERROR that tells the user to build profiles first.
CREATE OR REPLACE FUNCTION custprofile.require_profiles() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM custprofile.profiles) THEN
        RAISE EXCEPTION 'no customer profiles have been built yet'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Register your sources with custprofile.register_source(...), then run CALL custprofile.refresh_profiles();';
    END IF;
END $$;

-- Raises ERROR 22023 unless 1 <= k <= maximum.
CREATE OR REPLACE FUNCTION custprofile.check_k(k int, maximum int) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF k IS NULL OR k < 1 OR k > maximum THEN
        RAISE EXCEPTION 'k must be between 1 and %, not %', maximum, COALESCE(k::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END $$;

-- A fingerprint of each customer's rows in every source (order-independent sums of row
-- hashes), of the model and of the topics: when it differs from the stored one, the profile is
-- stale.
-- Times are hashed as epochs, so the session's TimeZone does not matter.
CREATE OR REPLACE FUNCTION custprofile.source_fingerprints() RETURNS TABLE (customer_key text, source_hash text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    orders_q text := custprofile.orders_sql();
    previous_role text := custprofile.enter_source_reader();
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT c.customer_key::text,
               md5(concat_ws('|', hashtextextended(c.attributes::text, 0), o.h, t.h, $1::text))
          FROM (%s) c
          LEFT JOIN (SELECT o.customer_key,
                            sum(hashtextextended(concat_ws(chr(31), extract(epoch FROM o.ordered_at), o.amount,
                                                           o.item, o.category), 1)::numeric) AS h
                       FROM (%s) o GROUP BY o.customer_key) o ON o.customer_key = c.customer_key
          LEFT JOIN (SELECT t.customer_key,
                            sum(hashtextextended(concat_ws(chr(31), t.source, t.body, t.rating,
                                                           extract(epoch FROM t.written_at)), 2)::numeric) AS h
                       FROM (%s) t GROUP BY t.customer_key) t ON t.customer_key = c.customer_key
        $q$, custprofile.customers_sql(),
             COALESCE(orders_q, custprofile.no_orders_sql()),
             custprofile.texts_sql())
    USING (custprofile.model_version() - 'extension')::text
          || (SELECT COALESCE(string_agg(t.topic || ':' || t.description || ':' || t.complaint, ';' ORDER BY t.topic), '') FROM custprofile.topics t);
    PERFORM custprofile.leave_source_reader(previous_role);
END $$;

-- Rebuilds the profiles of customers whose source rows changed since the last refresh (all of
-- them the first time, or with full_rebuild), in batches of batch_size customers, each batch
-- committed: a failure or a cancel loses no finished batch and the next call resumes. Two
-- refreshes at once share the work (each batch is claimed with SKIP LOCKED), so no customer is
-- written by both. Call it outside a transaction block (it commits), e.g. from pg_cron.
CREATE OR REPLACE PROCEDURE custprofile.refresh_profiles(batch_size int DEFAULT 200, full_rebuild boolean DEFAULT false)
LANGUAGE plpgsql AS $$
DECLARE
    total bigint;
    done bigint := 0;
    removed bigint;
    claimed text[];
    batch text[];
    hashes text[];
    breakpoints jsonb;
    started timestamptz := pg_catalog.clock_timestamp();
BEGIN
    -- a procedure that commits cannot have a SET clause: the search_path is pinned here and
    -- again after every COMMIT (which ends a local setting)
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, custprofile, pg_temp', true);
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- stored documents carry UTC times, whoever calls
    PERFORM set_config('TimeZone', 'UTC', true);

    -- 0. embed new and changed items and answers
    PERFORM custprofile.refresh_catalogues();

    -- 1. queue what changed; drop profiles of customers that are gone
    WITH f AS MATERIALIZED (SELECT * FROM custprofile.source_fingerprints()),
    gone AS (
        DELETE FROM custprofile.profiles p
         WHERE NOT EXISTS (SELECT FROM f WHERE f.customer_key = p.customer_key)
        RETURNING 1),
    gone_queued AS (
        DELETE FROM custprofile.refresh_queue q
         WHERE NOT EXISTS (SELECT FROM f WHERE f.customer_key = q.customer_key)),
    queued AS (
        INSERT INTO custprofile.refresh_queue AS q (customer_key, source_hash, forced)
        SELECT f.customer_key, f.source_hash, full_rebuild
          FROM f LEFT JOIN custprofile.profiles p ON p.customer_key = f.customer_key
         WHERE full_rebuild OR p.source_hash IS DISTINCT FROM f.source_hash
        ON CONFLICT (customer_key) DO UPDATE
            SET source_hash = EXCLUDED.source_hash, forced = q.forced OR EXCLUDED.forced)
    SELECT count(*) INTO removed FROM gone;
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, custprofile, pg_temp', true);

    SELECT count(*) INTO total FROM custprofile.refresh_queue;
    breakpoints := custprofile.rfm_breakpoints();

    -- 2. build batch by batch
    LOOP
        PERFORM pg_catalog.set_config('TimeZone', 'UTC', true);
        -- claim a batch; entries that a concurrent refresh has built meanwhile are fresh
        SELECT array_agg(c.customer_key), array_agg(c.source_hash) FILTER (WHERE NOT c.fresh),
               array_agg(c.customer_key) FILTER (WHERE NOT c.fresh)
          INTO claimed, hashes, batch
          FROM (SELECT q.customer_key, q.source_hash,
                       NOT q.forced AND p.source_hash IS NOT DISTINCT FROM q.source_hash AS fresh
                  FROM custprofile.refresh_queue q
                  LEFT JOIN custprofile.profiles p ON p.customer_key = q.customer_key
                 ORDER BY q.customer_key LIMIT batch_size FOR UPDATE OF q SKIP LOCKED) c;
        EXIT WHEN claimed IS NULL;
        INSERT INTO custprofile.profiles AS p (customer_key, profile, interest_vector, source_hash, refreshed_at)
        SELECT b.customer_key, b.profile, NULLIF(b.interest_vector, '{}'), h.source_hash, now()
          FROM custprofile.build_profiles(batch, breakpoints) b
          JOIN unnest(batch, hashes) AS h(customer_key, source_hash) ON h.customer_key = b.customer_key
        ON CONFLICT (customer_key) DO UPDATE
            SET profile = EXCLUDED.profile, interest_vector = EXCLUDED.interest_vector,
                source_hash = EXCLUDED.source_hash, refreshed_at = EXCLUDED.refreshed_at;
        DELETE FROM custprofile.refresh_queue q WHERE q.customer_key = ANY (claimed);
        done := done + COALESCE(cardinality(batch), 0);
        IF total > batch_size THEN
            RAISE NOTICE 'refresh_profiles: % of % queued customers rebuilt', done, total
                USING DETAIL = format('%s s so far', round(extract(epoch FROM clock_timestamp() - started)::numeric, 1));
        END IF;
        COMMIT;
        PERFORM pg_catalog.set_config('search_path', 'pg_catalog, custprofile, pg_temp', true);
    END LOOP;
    RAISE NOTICE 'refresh_profiles: % profiles rebuilt, % removed', done, removed
        USING DETAIL = format('%s s', round(extract(epoch FROM clock_timestamp() - started)::numeric, 1));
END $$;

-- One row per registered text with its sentiment, scored when read (bodies PII-masked when
-- custprofile.mask_pii is on): for dashboards over large tables, materialise it
-- (CREATE MATERIALIZED VIEW ... AS SELECT * FROM custprofile.text_insights).
-- Whether custprofile.mask_pii is on. The setting exists once the library is loaded, which a
-- new session has not necessarily done yet: model_version() loads it.
CREATE OR REPLACE FUNCTION custprofile.pii_masking() RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    PERFORM custprofile.model_version();
    RETURN current_setting('custprofile.mask_pii')::boolean;
END $$;

CREATE OR REPLACE FUNCTION custprofile.text_insight_rows()
RETURNS TABLE (source text, customer_key text, written_at timestamptz, rating real, body text,
               sentiment_label text, sentiment real)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    masking boolean;
    previous_role text;
BEGIN
    masking := custprofile.pii_masking();
    previous_role := custprofile.enter_source_reader();
    RETURN QUERY EXECUTE format($q$
        SELECT t.source, t.customer_key::text, t.written_at, t.rating,
               CASE WHEN %L::boolean THEN custprofile.mask_pii(t.body) ELSE t.body END,
               d ->> 'label', (d ->> 'score')::real
          FROM (SELECT t.*, CASE WHEN t.body IS NOT NULL THEN custprofile.sentiment_detail(t.body) END AS d
                  FROM (%s) t) t
        $q$, masking, custprofile.texts_sql());
    PERFORM custprofile.leave_source_reader(previous_role);
END $$;

-- Data checks over the registered sources: a registration that no longer matches the
-- catalogue, rows whose customer is not in the customers source (never merged into a profile),
-- NULL keys and NULL texts. One row per check; rows = 0 means fine.
CREATE OR REPLACE FUNCTION custprofile.check_sources()
RETURNS TABLE (kind text, relation text, check_name text, rows bigint, detail text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s custprofile.source_registry;
    rel text;
    n bigint;
    customers_q text;
    previous_role text := custprofile.enter_source_reader();
BEGIN
    FOR s IN SELECT * FROM custprofile.source_registry r
              ORDER BY array_position(ARRAY['customers', 'orders', 'texts', 'items', 'answers'], r.kind), r.relation_name LOOP
        kind := s.kind;
        rel := CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = s.relid)
                    THEN s.relid::regclass::text ELSE s.relation_name END;
        relation := rel;
        BEGIN
            PERFORM custprofile.check_registration(s.kind, s.relid, s.relation_name, s.columns);
        EXCEPTION WHEN OTHERS THEN
            check_name := 'registration'; rows := NULL; detail := SQLERRM;
            RETURN NEXT;
            CONTINUE;
        END;
        check_name := 'registration'; rows := 0; detail := 'columns exist and have usable types';
        RETURN NEXT;
        IF s.kind IN ('customers', 'items', 'answers') THEN
            EXECUTE format('SELECT count(*) - count(DISTINCT %1$I) + count(*) FILTER (WHERE %1$I IS NULL) FROM %2$s',
                           s.columns ->> 'key', s.relid::regclass) INTO n;
            check_name := 'duplicate or NULL keys'; rows := n;
            detail := format('%s whose key is NULL or appears more than once', s.kind);
            RETURN NEXT;
            CONTINUE;
        END IF;
        customers_q := custprofile.customers_sql();
        EXECUTE format('SELECT count(*) FROM %s x WHERE x.%I IS NOT NULL AND x.%I::%s NOT IN (SELECT c.customer_key FROM (%s) c WHERE c.customer_key IS NOT NULL)',
                       s.relid::regclass, s.columns ->> 'customer', s.columns ->> 'customer', custprofile.key_type(), customers_q) INTO n;
        check_name := 'unknown customers'; rows := n;
        detail := 'rows whose customer is not in the customers source: left out of every profile';
        RETURN NEXT;
        EXECUTE format('SELECT count(*) FROM %s x WHERE x.%I IS NULL', s.relid::regclass, s.columns ->> 'customer') INTO n;
        check_name := 'NULL customer'; rows := n; detail := 'rows without a customer key: left out of every profile';
        RETURN NEXT;
        IF s.kind = 'texts' THEN
            EXECUTE format('SELECT count(*) FROM %s x WHERE x.%I IS NULL', s.relid::regclass, s.columns ->> 'text') INTO n;
            check_name := 'NULL texts'; rows := n; detail := 'texts that are NULL: skipped and counted in each profile';
            RETURN NEXT;
        END IF;
    END LOOP;
    PERFORM custprofile.leave_source_reader(previous_role);
END $$;

-- At most this many recent texts per segment feed its keywords.
CREATE OR REPLACE FUNCTION custprofile.segment_keyword_texts() RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT 200 $$;

CREATE OR REPLACE FUNCTION custprofile.segment_customers(k int, options jsonb DEFAULT '{}')
RETURNS TABLE (customer_id text, segment int)
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    masking boolean;
    text_segments int[];
    text_bodies text[];
    previous_role text;
BEGIN
    PERFORM custprofile.check_k(k, 100);
    IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options must be a JSON object' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'For example {"seed": 42, "max_iterations": 50, "rfm_weight": 0.5}.';
    END IF;
    PERFORM custprofile.require_profiles();
    -- two runs at once would interleave their writes to profiles.segment and segmentation: the
    -- second waits for the first
    PERFORM pg_advisory_xact_lock(hashtext('custprofile.segment_customers'));
    masking := custprofile.pii_masking();

    -- kmeans_segments reads every stored profile; profiles.segment then holds the result
    UPDATE custprofile.profiles p SET segment = s.segment
      FROM custprofile.kmeans_segments(k, options) s
     WHERE s.customer_key = p.customer_key AND p.segment IS DISTINCT FROM s.segment;

    DELETE FROM custprofile.segmentation;
    INSERT INTO custprofile.segmentation (segment, centre, k, options)
    SELECT p.segment, custprofile.embedding_avg(p.interest_vector), k, options
      FROM custprofile.profiles p WHERE p.segment IS NOT NULL
     GROUP BY p.segment;

    previous_role := custprofile.enter_source_reader();
    -- keywords from each segment's most recent texts, ranked against its centre; the texts are
    -- read as the sources' reader (sql/sources.sql), the keywords stored as the caller
    EXECUTE format($q$
        SELECT array_agg(r.segment ORDER BY r.segment, r.n), array_agg(r.body ORDER BY r.segment, r.n)
          FROM (SELECT s.segment, CASE WHEN $1 THEN custprofile.mask_pii(t.body) ELSE t.body END AS body,
                       row_number() OVER (PARTITION BY s.segment ORDER BY t.written_at DESC NULLS LAST, t.body) AS n
                  FROM (%s) t JOIN custprofile.profiles s ON s.customer_key = t.customer_key::text AND s.segment IS NOT NULL
                 WHERE t.body IS NOT NULL AND btrim(t.body) <> '') r
         WHERE r.n <= custprofile.segment_keyword_texts()
        $q$, custprofile.texts_sql()) INTO text_segments, text_bodies USING masking;
    PERFORM custprofile.leave_source_reader(previous_role);
    UPDATE custprofile.segmentation g SET keywords = COALESCE(kw.keywords, '{}')
      FROM (SELECT r.segment,
                   custprofile.group_keywords(array_agg(r.body ORDER BY r.n), 5,
                                              (SELECT x.centre FROM custprofile.segmentation x WHERE x.segment = r.segment)) AS keywords
              FROM unnest(text_segments, text_bodies) WITH ORDINALITY AS r(segment, body, n)
             GROUP BY r.segment) kw
     WHERE kw.segment = g.segment;

    RETURN QUERY SELECT p.customer_key, p.segment FROM custprofile.profiles p
                  WHERE p.segment IS NOT NULL ORDER BY p.segment, p.customer_key;
END $$;

-- A name for a segment from what describes it, e.g. "price-sensitive electronics buyers, mostly
-- negative on delivery".
CREATE OR REPLACE FUNCTION custprofile.segment_name(top_category text, main_need text, mean_monetary float8,
                                         mean_sentiment float8, negative_topic text, positive_topic text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT concat_ws(' ',
               CASE WHEN main_need = 'price' THEN 'price-sensitive'
                    WHEN mean_monetary >= 4 THEN 'high-spending'
                    WHEN mean_monetary <= 2 THEN 'low-spending' END,
               CASE WHEN top_category IS NOT NULL THEN top_category || ' buyers' ELSE 'customers without orders' END)
           || CASE WHEN mean_sentiment IS NULL THEN ', no reviews'
                   WHEN mean_sentiment <= -0.25 THEN ', mostly negative' || COALESCE(' on ' || negative_topic, '')
                   WHEN mean_sentiment >= 0.25 THEN ', mostly positive' || COALESCE(' about ' || positive_topic, '')
                                                    || COALESCE(' but unhappy with ' || negative_topic, '')
                   ELSE ', mixed feelings' || COALESCE(', unhappy with ' || negative_topic, '') END
$$;

-- Acting on one customer's profile: the customers most like them, the items to offer them,
-- and the answers to suggest for what they write. Exact search over arrays: every call scans
-- the stored profiles or the catalogue once (see README "Recommendations and segments" for
-- where that stops being quick).

-- The k customers most like this one (customer_similarity: 0.7 × cosine of the interest
-- vectors + 0.3 × cosine of the orders by category), most similar first, the customer itself
-- excluded. No rows for a customer without a stored profile; k at most 1000.
CREATE OR REPLACE FUNCTION custprofile.similar_customers(customer_id text, k int DEFAULT 10)
RETURNS TABLE (customer_id text, similarity real)
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT custprofile.check_k(k, 1000);
    SELECT custprofile.require_profiles();
    SELECT s.customer_key, s.similarity
      FROM (SELECT p.customer_key,
                   custprofile.customer_similarity(me.interest_vector, me.orders_by_category,
                                                   p.interest_vector, p.orders_by_category) AS similarity
              FROM (SELECT m.customer_key, m.interest_vector, m.orders_by_category
                      FROM custprofile.profiles m WHERE m.customer_key = $1 OFFSET 0) me
              JOIN custprofile.profiles p ON p.customer_key <> me.customer_key) s
     WHERE s.similarity IS NOT NULL
     ORDER BY s.similarity DESC, s.customer_key
     LIMIT k;
$$;

CREATE OR REPLACE FUNCTION custprofile.similar_customers(customer_id bigint, k int DEFAULT 10)
RETURNS TABLE (customer_id bigint, similarity real)
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT s.customer_id::bigint, s.similarity FROM custprofile.similar_customers($1::text, k) s $$;

CREATE OR REPLACE FUNCTION custprofile.similar_customers(customer_id uuid, k int DEFAULT 10)
RETURNS TABLE (customer_id uuid, similarity real)
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT s.customer_id::uuid, s.similarity FROM custprofile.similar_customers($1::text, k) s $$;

-- Items for a customer, from their own evidence only:
--   score = 0.6 × cosine(interest vector, item embedding)
--         + 0.25 × share of the customer's orders in the item's category
--         + 0.15 × mean sentiment of the customer's own reviews of items in that category
-- Items the customer ordered or reviewed (the item role of the orders and texts sources holds
-- the item key) are left out; so are all items when the customer has neither texts nor orders.
-- The reason names that evidence: their orders in the category, an item of it they praised,
-- the closeness to their reviews, the price against their usual order.
CREATE OR REPLACE FUNCTION custprofile.recommend(customer_id text, k int DEFAULT 10)
RETURNS TABLE (item_id text, score real, reason text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    kt text;
    orders_q text;
    previous_role text;
BEGIN
    PERFORM custprofile.check_k(k, 1000);
    PERFORM FROM custprofile.registered('items');
    PERFORM custprofile.require_profiles();
    kt := custprofile.key_type();
    orders_q := COALESCE(custprofile.orders_sql(), custprofile.no_orders_sql());
    previous_role := custprofile.enter_source_reader();
    RETURN QUERY EXECUTE format($q$
        WITH me AS MATERIALIZED (
            -- the customer's figures taken out of the document once, not once per item
            SELECT p.interest_vector, p.orders_by_category, (p.profile #>> '{purchases,average_spend}')::numeric AS average_spend
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
               COALESCE(NULLIF(concat_ws('; ',
                   CASE WHEN s.category_orders > 0 AND s.all_orders = 1 THEN format('%%s: your only order', s.category)
                        WHEN s.category_orders > 0 THEN
                       format('%%s: %%s of your %%s orders', s.category, s.category_orders, s.all_orders) END,
                   CASE WHEN s.praise >= 0.25 THEN format('you praised %%s', s.best_item) END,
                   CASE WHEN s.interest >= 0.35 THEN 'close to what your reviews talk about' END,
                   CASE WHEN s.price <= s.average_spend THEN 'within your usual spend' END), ''),
                   'the closest match to your profile') AS reason
          FROM scored s
         WHERE s.interest IS NOT NULL OR s.category_orders > 0 OR s.praise IS NOT NULL
         ORDER BY 2 DESC, s.key
         LIMIT $2
        $q$, custprofile.catalogue_similarity_sql('items', '$3'), custprofile.texts_sql(), orders_q, kt, custprofile.items_sql())
    USING customer_id, k, (SELECT p.interest_vector FROM custprofile.profiles p WHERE p.customer_key = customer_id);
    PERFORM custprofile.leave_source_reader(previous_role);
END $$;

CREATE OR REPLACE FUNCTION custprofile.recommend(customer_id bigint, k int DEFAULT 10)
RETURNS TABLE (item_id text, score real, reason text)
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT * FROM custprofile.recommend($1::text, k) $$;

CREATE OR REPLACE FUNCTION custprofile.recommend(customer_id uuid, k int DEFAULT 10)
RETURNS TABLE (item_id text, score real, reason text)
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT * FROM custprofile.recommend($1::text, k) $$;

-- The best answers of the registered knowledge base for a customer's message, by cosine
-- similarity between the message and each answer's question; answers below min_score are never
-- suggested (no rows rather than a bad answer). The default 0.3 comes from the demo's help desk:
-- messages that an article answers scored 0.35 to 0.86 against it, unrelated ones at most 0.22
-- (tests/pg_regress/sql/acting.sql holds the cases). NULL or blank messages give no rows; k at most 100.
CREATE OR REPLACE FUNCTION custprofile.suggest_replies(message text, k int DEFAULT 3, min_score real DEFAULT 0.3)
RETURNS TABLE (answer_id text, answer text, score real)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    m real[];
    previous_role text;
BEGIN
    PERFORM custprofile.check_k(k, 100);
    IF min_score IS NULL OR NOT (min_score BETWEEN -1 AND 1) THEN
        RAISE EXCEPTION 'min_score must be between -1 and 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM FROM custprofile.registered('answers');
    IF message IS NULL OR btrim(message) = '' THEN
        RETURN;
    END IF;
    m := custprofile.embed_text(message);
    previous_role := custprofile.enter_source_reader();
    RETURN QUERY EXECUTE format(
        'SELECT c.key, c.answer, c.similarity FROM (%s) c WHERE c.similarity >= $2 ORDER BY c.similarity DESC, c.key LIMIT $3',
        custprofile.catalogue_similarity_sql('answers', '$1'))
    USING m, min_score, k;
    PERFORM custprofile.leave_source_reader(previous_role);
END $$;

GRANT INSERT, UPDATE, DELETE ON custprofile.classifiers TO PUBLIC;

-- Registering decides what every profile is built from, and as whom it is read.
REVOKE EXECUTE ON FUNCTION custprofile.register_source(text, regclass, jsonb), custprofile.unregister_source(text, text)
    FROM PUBLIC;

-- The churn weights are shared by every profile: an administrator's.
REVOKE EXECUTE ON FUNCTION custprofile.train_churn_model(text, jsonb), custprofile.reset_churn_model(),
       custprofile.rescore_churn() FROM PUBLIC;
