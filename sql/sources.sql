-- Where the user's data lives. Users keep their own tables and column names;
-- register_source(kind, relation, columns) records, per kind, the relation and which of its
-- columns plays which role. Everything that reads user data (build_profile, refresh_profiles,
-- text_insights, check_sources, segments, recommendations, catalogues) checks the registrations
-- it reads once per statement (checked_sources), so a dropped table or renamed column gives a
-- clear ERROR instead of a wrong answer, and builds its queries from that checked description
-- (texts_sql, orders_sql, customers_sql here; items_sql, answers_sql in sql/catalogues.sql).

CREATE TABLE custprofile.source_registry (
    kind          text NOT NULL CHECK (kind IN ('customers', 'orders', 'texts', 'items', 'answers')),
    -- regclass, not oid: pg_dump writes it as the relation's name and a restore finds the
    -- relation again by that name (an oid means nothing in another cluster); a rename is followed
    relid         regclass NOT NULL,
    -- the name at registration, for messages once the relation is gone
    relation_name text NOT NULL,
    -- role -> column name, e.g. {"customer": "customer_id", "text": "body"}
    columns       jsonb NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now(),
    registered_by name NOT NULL DEFAULT current_user,
    PRIMARY KEY (kind, relid)
);
-- one relation of each kind, except texts: any number of text relations
CREATE UNIQUE INDEX source_registry_one_per_kind ON custprofile.source_registry (kind)
    WHERE kind <> 'texts';
COMMENT ON TABLE custprofile.source_registry IS
    'Relations registered with custprofile.register_source; read it through custprofile.sources.';
-- user state: pg_dump keeps the registrations (docs/operations.md, Backup and restore)
SELECT pg_catalog.pg_extension_config_dump('custprofile.source_registry', '');

-- The roles each kind knows: name, required, and the type categories it accepts
-- (pg_type.typcategory: N numeric, S string, U user-defined such as uuid, D date/time,
-- A array; NULL accepts any type).
CREATE FUNCTION custprofile_internal.source_roles(kind text)
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
        ('answers',   'answer',     true,  'S'),
        ('answers',   'alternate_questions', false, 'A')
      ) AS r(kind, role, required, categories)
     WHERE r.kind = source_roles.kind
$$;

-- The type of a live column, or NULL when the relation or the column is gone.
CREATE FUNCTION custprofile_internal.column_type(relid oid, col text) RETURNS regtype
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT a.atttypid::regtype FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = relid AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped
$$;

-- Checks one registration against the catalogue as it is now: the relation exists, each named
-- column exists with a usable type, customer keys compare with the customers key. Raises an
-- ERROR that says what is wrong and what to do; returns the registration's columns.
CREATE FUNCTION custprofile_internal.check_registration(kind text, relid oid, relation_name text, columns jsonb)
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
    FOR r IN SELECT * FROM custprofile_internal.source_roles(kind) LOOP
        IF r.role = 'attributes' THEN
            CONTINUE;  -- any type; checked below as plain columns
        END IF;
        col := columns ->> r.role;
        IF col IS NULL THEN
            CONTINUE;  -- required roles are enforced by register_source
        END IF;
        typ := custprofile_internal.column_type(relid, col);
        IF typ IS NULL THEN
            RAISE EXCEPTION 'column "%" (the % of %) does not exist', col, r.role, what
                USING ERRCODE = 'undefined_column',
                      HINT = format('Register it again with the current column name: custprofile.register_source(%L, %L, ...).',
                                    kind, relid::regclass);
        END IF;
        -- an array must hold strings (text[], varchar[]): its elements are read as text
        SELECT CASE WHEN t.typcategory = 'A' AND e.typcategory IS DISTINCT FROM 'S' THEN 'A?' ELSE t.typcategory::text END
          INTO cat FROM pg_catalog.pg_type t LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem WHERE t.oid = typ;
        IF r.categories IS NOT NULL AND strpos(r.categories, cat) = 0 THEN
            RAISE EXCEPTION 'column "%" (the % of %) has type %, which cannot be used there', col, r.role, what, typ
                USING ERRCODE = 'datatype_mismatch',
                      HINT = CASE r.role
                          WHEN 'time' THEN 'Use a timestamptz, timestamp or date column, or register a view that casts it.'
                          WHEN 'amount' THEN 'Use a numeric column, or register a view that casts it.'
                          WHEN 'rating' THEN 'Use a numeric column (1 to 5), or register a view that casts it.'
                          WHEN 'text' THEN 'Use a text or varchar column.'
                          WHEN 'alternate_questions' THEN 'Use a text[] column, one phrasing of the question per element (for a jsonb array, register a view with ARRAY(SELECT jsonb_array_elements_text(...))).'
                          ELSE 'Use an integer, text or uuid column.' END;
        END IF;
    END LOOP;
    FOR col IN SELECT jsonb_array_elements_text(COALESCE(columns -> 'attributes', '[]')) LOOP
        IF custprofile_internal.column_type(relid, col) IS NULL THEN
            RAISE EXCEPTION 'column "%" (an attribute of %) does not exist', col, what
                USING ERRCODE = 'undefined_column',
                      HINT = 'Register the customers source again with the current column names.';
        END IF;
    END LOOP;
    -- customer keys must compare with the key of the customers source
    IF kind IN ('orders', 'texts') THEN
        SELECT s.columns ->> 'key', t.typcategory INTO key_col, key_cat
          FROM custprofile.source_registry s
          JOIN pg_catalog.pg_type t ON t.oid = custprofile_internal.column_type(s.relid, s.columns ->> 'key')
         WHERE s.kind = 'customers';
        SELECT t.typcategory INTO cat FROM pg_catalog.pg_type t
         WHERE t.oid = custprofile_internal.column_type(relid, columns ->> 'customer');
        IF key_cat IS NOT NULL AND key_cat <> cat THEN
            RAISE EXCEPTION 'the customer column "%" of % has type %, which does not compare with the customers key (%)',
                columns ->> 'customer', what, custprofile_internal.column_type(relid, columns ->> 'customer'),
                (SELECT custprofile_internal.column_type(s.relid, key_col) FROM custprofile.source_registry s WHERE s.kind = 'customers')
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Customer keys of every source must have the type of the customers key; register a view that casts it.';
        END IF;
    END IF;
END $$;

-- The registration of a kind, checked; raises the ERROR that names the missing
-- register_source call when there is none.
CREATE FUNCTION custprofile_internal.registered(kind text)
RETURNS SETOF custprofile.source_registry LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s custprofile.source_registry;
    found_any boolean := false;
BEGIN
    FOR s IN SELECT * FROM custprofile.source_registry r WHERE r.kind = registered.kind ORDER BY r.relation_name LOOP
        PERFORM custprofile_internal.check_registration(s.kind, s.relid, s.relation_name, s.columns);
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

CREATE FUNCTION custprofile.register_source(kind text, relation regclass, columns jsonb)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    r record;
    unknown text;
    relkind "char";
BEGIN
    PERFORM custprofile_internal.require_coordinator('register_source');
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
                  HINT = (SELECT format('The roles of a %s source: %s.', kind, string_agg(role, ', ')) FROM custprofile_internal.source_roles(kind));
    END IF;
    SELECT string_agg(k, ', ') INTO unknown FROM jsonb_object_keys(columns) k
     WHERE k NOT IN (SELECT role FROM custprofile_internal.source_roles(kind));
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown role(s) for a % source: %', kind, unknown
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = (SELECT format('The roles of a %s source: %s.', kind, string_agg(role, ', ')) FROM custprofile_internal.source_roles(kind));
    END IF;
    FOR r IN SELECT * FROM custprofile_internal.source_roles(kind) LOOP
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
                                FROM custprofile_internal.source_roles(kind));
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
    PERFORM custprofile_internal.store_registration(kind, relation, columns, current_user);
    RETURN jsonb_build_object('kind', kind, 'relation', relation::text, 'columns', columns);
END $$;

-- The trust rule of the registry's writers below, which run as the extension's owner and so
-- cannot see their caller: the role they are told the caller is (`claimed`) is believed only if
-- the session's user may act as it, and it may call the entry point (register_source or
-- unregister_source, whose EXECUTE an administrator grants).
CREATE FUNCTION custprofile_internal.check_registrar(claimed name, entry_point regprocedure, action text) RETURNS void
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
CREATE FUNCTION custprofile_internal.store_registration(kind text, relation regclass, columns jsonb, registrant name)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    others name;
BEGIN
    PERFORM custprofile_internal.check_registrar(registrant, 'custprofile.register_source(text, regclass, jsonb)', 'register');
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
    PERFORM custprofile_internal.check_registration(kind, relation, relation::text, columns);
    IF kind <> 'texts' THEN
        DELETE FROM custprofile.source_registry s WHERE s.kind = store_registration.kind;
    END IF;
    PERFORM custprofile_internal.forget_stored_texts(kind, ARRAY[relation::oid]);
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
COMMENT ON FUNCTION custprofile.register_source(text, regclass, jsonb) IS
    'Registers where customers, orders or texts live and which columns play which role; checks them first.';

-- Drops text_insights' copy of the texts a registration change makes stale: those of the texts
-- sources `relids`, or all of them when the customers source changes (the keys may be read in
-- another type). The next refresh copies them anew; until then text_insights reads them from the
-- sources. Waits for a refresh that is copying them (its lock, store_texts).
CREATE FUNCTION custprofile_internal.forget_stored_texts(kind text, relids oid[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF forget_stored_texts.kind IN ('customers', 'texts') THEN
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('custprofile.stored_texts'));
        DELETE FROM custprofile.stored_texts t
         WHERE forget_stored_texts.kind = 'customers' OR t.relid = ANY (relids);
    END IF;
END $$;

-- Removes a registration; the relation may already be dropped, so it is named as text. Only the
-- registering role (or a member of it) may remove one.
CREATE FUNCTION custprofile.unregister_source(kind text, relation text)
RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    PERFORM custprofile_internal.require_coordinator('unregister_source');
    RETURN custprofile_internal.drop_registration(kind, relation, current_user);
END $$;

-- The registry's only deleter; SECURITY DEFINER with the same trust rule as store_registration.
CREATE FUNCTION custprofile_internal.drop_registration(kind text, relation text, caller name)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    removed int;
    relids oid[];
BEGIN
    PERFORM custprofile_internal.check_registrar(caller, 'custprofile.unregister_source(text, text)', 'unregister');
    IF EXISTS (SELECT FROM custprofile.source_registry s
                WHERE s.kind = drop_registration.kind AND NOT pg_has_role(caller, s.registered_by, 'MEMBER')
                  AND (s.relation_name = relation OR s.relid = to_regclass(relation))) THEN
        RAISE EXCEPTION 'the % source % was registered by another role', kind, relation
            USING ERRCODE = 'insufficient_privilege', HINT = 'Only the role that registered a source (or a member of it) can remove it.';
    END IF;
    WITH gone AS (
        DELETE FROM custprofile.source_registry s
         WHERE s.kind = drop_registration.kind
           AND (s.relation_name = relation
                OR (EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = s.relid) AND s.relid::regclass::text = relation)
                OR s.relid = to_regclass(relation))
        RETURNING s.relid)
    SELECT count(*), array_agg(g.relid::oid) INTO removed, relids FROM gone g;
    PERFORM custprofile_internal.forget_stored_texts(kind, relids);
    RETURN removed > 0;
END $$;

-- The role the registered sources are read as: the one that registered them (NULL when nothing
-- is registered). Reading them as that role means a source never shows more than its registrant
-- could see, and code in a source (a view calling a function) runs as its registrant, never as
-- the superuser or pg_cron job that builds the profiles. The reader must be a member of it.
CREATE FUNCTION custprofile_internal.source_reader() RETURNS name
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
CREATE FUNCTION custprofile_internal.enter_source_reader() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    reader name := custprofile_internal.source_reader();
    previous text;
BEGIN
    IF reader IS NULL OR reader OPERATOR(pg_catalog.=) CURRENT_USER THEN
        RETURN NULL;
    END IF;
    previous := pg_catalog.current_setting('role');
    PERFORM pg_catalog.set_config('role', reader, true);
    RETURN previous;
END $$;

-- Switches back to the role enter_source_reader returned.
CREATE FUNCTION custprofile_internal.leave_source_reader(previous text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF previous IS NOT NULL THEN
        PERFORM pg_catalog.set_config('role', previous, true);
    END IF;
END $$;

CREATE VIEW custprofile.sources AS
SELECT s.kind,
       CASE WHEN c.oid IS NULL THEN s.relation_name ELSE c.oid::regclass::text END AS relation,
       s.columns,
       c.oid IS NOT NULL AS relation_exists,
       s.registered_at,
       s.registered_by
  FROM custprofile.source_registry s
  LEFT JOIN pg_catalog.pg_class c ON c.oid = s.relid
 ORDER BY array_position(ARRAY['customers', 'orders', 'texts', 'items', 'answers'], s.kind), 2;
COMMENT ON VIEW custprofile.sources IS 'The registered sources: kind, relation, columns by role.';
COMMENT ON COLUMN custprofile.sources.kind IS 'customers, orders, texts, items or answers.';
COMMENT ON COLUMN custprofile.sources.relation IS 'The registered relation (its name at registration when it is gone).';
COMMENT ON COLUMN custprofile.sources.columns IS 'Which column plays which role.';
COMMENT ON COLUMN custprofile.sources.relation_exists IS 'Whether the relation still exists.';
COMMENT ON COLUMN custprofile.sources.registered_at IS 'When it was registered.';
COMMENT ON COLUMN custprofile.sources.registered_by IS 'The role that registered it: sources are read as this role.';

-- The registered sources one statement reads, checked once and handed to the query builders
-- below (instead of each builder reading and checking the registry again). `kinds` are the
-- kinds the caller reads, in the order they are checked: customers, items and answers must be
-- registered when asked for (registered() raises the ERROR that names the register_source call),
-- orders and texts are optional. The result:
--   {"key_type": "bigint",            -- the customers key's type, when customers are asked for
--    "customers": {"relid": 16390, "relation": "shop.customers", "columns": {"key": ...}},
--    "orders": {...} or null, "texts": [{...}, ...], "items": {...}, "answers": {...}}
-- The builders take relations and types from it only as an oid and a regtype, so that a
-- description made by hand cannot carry SQL into the query.
CREATE FUNCTION custprofile_internal.checked_sources(VARIADIC kinds text[]) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    k text;
    entries jsonb;
    sources jsonb := '{}';
BEGIN
    FOREACH k IN ARRAY kinds LOOP
        SELECT jsonb_agg(jsonb_build_object('relid', s.relid::oid, 'relation', s.relid::regclass::text, 'columns', s.columns)
                         ORDER BY s.relation_name)
          INTO entries FROM custprofile_internal.registered(k) s;
        sources := sources || jsonb_build_object(k, CASE WHEN k = 'texts' THEN COALESCE(entries, '[]') ELSE entries -> 0 END);
        IF k = 'customers' THEN
            sources := sources || jsonb_build_object('key_type',
                (SELECT format_type(custprofile_internal.column_type(r.relid, r.columns ->> 'key'), NULL)
                   FROM custprofile.source_registry r WHERE r.kind = 'customers'));
        END IF;
    END LOOP;
    RETURN sources;
END $$;

-- The entry of `kind` in a checked_sources description (an object; for texts, an array; NULL
-- for orders when none is registered). A kind the description was not made for is an internal
-- ERROR, never an empty source.
CREATE FUNCTION custprofile_internal.checked_source(sources jsonb, kind text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF sources IS NULL OR NOT sources ? kind THEN
        RAISE EXCEPTION 'custprofile: the % source was not checked for this query', kind USING ERRCODE = 'internal_error';
    END IF;
    RETURN NULLIF(sources -> kind, 'null');
END $$;

-- A source's relation, as a name to put in a query (from its oid, not from text).
CREATE FUNCTION custprofile_internal.source_relation(source jsonb) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT ((source ->> 'relid')::oid)::regclass::text
$$;

-- The type customer keys are cast to in every query: the customers key's, so that every source
-- compares with it (and indexes on it are used when the types are the same).
CREATE FUNCTION custprofile_internal.key_type(sources jsonb) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF sources ->> 'key_type' IS NULL THEN
        RAISE EXCEPTION 'custprofile: the customers source was not checked for this query' USING ERRCODE = 'internal_error';
    END IF;
    RETURN format_type((sources ->> 'key_type')::regtype, NULL);
END $$;

-- The type of the registered customers key column (NULL without a customers source): the views
-- show the key in it beside the text form.
CREATE FUNCTION custprofile_internal.customer_key_type() RETURNS regtype
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT custprofile_internal.column_type(r.relid, r.columns ->> 'key') FROM custprofile.source_registry r WHERE r.kind = 'customers'
$$;

-- A key (as text) in the customers key column's type, for the views: as uuid when that type is
-- uuid, as bigint when it is an integer type, else NULL. No SET clause, so that the planner
-- inlines them; every name is qualified instead.
CREATE FUNCTION custprofile_internal.key_as_uuid(customer_key text, key_type regtype) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN key_type OPERATOR(pg_catalog.=) 'pg_catalog.uuid'::pg_catalog.regtype
                THEN customer_key::pg_catalog.uuid END
$$;
-- The same for integer keys: as bigint when the key type is an integer type, else NULL.
CREATE FUNCTION custprofile_internal.key_as_bigint(customer_key text, key_type regtype) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN key_type OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog.int8', 'pg_catalog.int4', 'pg_catalog.int2']::pg_catalog.regtype[])
                THEN customer_key::pg_catalog.int8 END
$$;

-- Raises ERROR 22P02 naming the first key that is not a value of the customers key's type, so
-- that a mistyped key ('not-a-uuid') gets one clear line instead of a failed cast inside a
-- query of the extension's. NULL keys pass (they match no customer).
CREATE FUNCTION custprofile_internal.check_customer_keys(customer_keys text[], sources jsonb) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    kt text := custprofile_internal.key_type(sources);
    k text;
BEGIN
    IF kt = 'text' OR customer_keys IS NULL THEN
        RETURN;
    END IF;
    BEGIN
        EXECUTE format('SELECT $1::%s[]', kt) USING customer_keys;
    EXCEPTION WHEN data_exception THEN
        FOREACH k IN ARRAY customer_keys LOOP
            BEGIN
                EXECUTE format('SELECT $1::%s', kt) USING k;
            EXCEPTION WHEN data_exception THEN
                RAISE EXCEPTION 'customer key % is not a valid %', quote_literal(k), kt
                    USING ERRCODE = 'invalid_text_representation',
                          HINT = format('The customers source (%s) keys its customers by %s values.',
                                        custprofile_internal.source_relation(custprofile_internal.checked_source(sources, 'customers')), kt);
            END;
        END LOOP;
    END;
END $$;

-- The expression for an optional role of a registration: `alias.column::type`, or a typed NULL
-- when the role is not registered.
CREATE FUNCTION custprofile_internal.role_sql(columns jsonb, role text, alias text, type text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE WHEN columns ? role THEN format('%s.%I::%s', alias, columns ->> role, type) ELSE 'NULL::' || type END
$$;

-- One query over every registered text source of `sources` (checked_sources), with the columns
-- (source text, customer_key <key type>, body text, rating real, written_at timestamptz, item text).
CREATE FUNCTION custprofile_internal.texts_sql(sources jsonb) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    kt text := custprofile_internal.key_type(sources);
    parts text[] := '{}';
    s jsonb;
BEGIN
    FOR s IN SELECT e FROM jsonb_array_elements(custprofile_internal.checked_source(sources, 'texts')) e LOOP
        parts := parts || format(
            'SELECT %L::text AS source, t.%I::%s AS customer_key, t.%I::text AS body, %s AS rating, %s AS written_at, %s AS item FROM %s t',
            custprofile_internal.source_relation(s), s #>> '{columns,customer}', kt, s #>> '{columns,text}',
            custprofile_internal.role_sql(s -> 'columns', 'rating', 't', 'real'),
            custprofile_internal.role_sql(s -> 'columns', 'time', 't', 'timestamptz'),
            custprofile_internal.role_sql(s -> 'columns', 'item', 't', 'text'),
            custprofile_internal.source_relation(s));
    END LOOP;
    IF cardinality(parts) = 0 THEN
        RETURN format('SELECT NULL::text AS source, NULL::%s AS customer_key, NULL::text AS body, NULL::real AS rating, '
                      'NULL::timestamptz AS written_at, NULL::text AS item WHERE false', kt);
    END IF;
    RETURN array_to_string(parts, ' UNION ALL ');
END $$;

-- The orders source of `sources` as (customer_key, ordered_at, amount, item, category); NULL
-- when none is registered.
CREATE FUNCTION custprofile_internal.orders_sql(sources jsonb) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s jsonb := custprofile_internal.checked_source(sources, 'orders');
BEGIN
    IF s IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN format(
        'SELECT o.%I::%s AS customer_key, o.%I::timestamptz AS ordered_at, o.%I::numeric AS amount, %s AS item, %s AS category FROM %s o',
        s #>> '{columns,customer}', custprofile_internal.key_type(sources), s #>> '{columns,time}', s #>> '{columns,amount}',
        custprofile_internal.role_sql(s -> 'columns', 'item', 'o', 'text'),
        custprofile_internal.role_sql(s -> 'columns', 'category', 'o', 'text'),
        custprofile_internal.source_relation(s));
END $$;

-- orders_sql(sources), or the same shape with no rows when no orders source is registered.
CREATE FUNCTION custprofile_internal.orders_or_none_sql(sources jsonb) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT COALESCE(custprofile_internal.orders_sql(sources),
                    format('SELECT NULL::%s AS customer_key, NULL::timestamptz AS ordered_at, NULL::numeric AS amount, '
                           'NULL::text AS item, NULL::text AS category WHERE false', custprofile_internal.key_type(sources)))
$$;

-- The customers source of `sources` as (customer_key, attributes jsonb).
CREATE FUNCTION custprofile_internal.customers_sql(sources jsonb) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s jsonb := custprofile_internal.checked_source(sources, 'customers');
    attrs text;
BEGIN
    SELECT string_agg(format('%L, c.%I', a, a), ', ') INTO attrs
      FROM jsonb_array_elements_text(COALESCE(s #> '{columns,attributes}', '[]')) a;
    RETURN format('SELECT c.%I AS customer_key, jsonb_build_object(%s) AS attributes FROM %s c',
                  s #>> '{columns,key}', COALESCE(attrs, ''), custprofile_internal.source_relation(s));
END $$;
