-- The topics profiles sort a customer's texts into (zero-shot, by similarity to
-- "This review is about <topic>: <description>."). Edit the rows to use your own; the next
-- refresh_profiles rebuilds every profile with them.
CREATE TABLE custprofile.topics (
    topic       text PRIMARY KEY CHECK (topic <> '' AND strpos(topic, ':') = 0),
    description text NOT NULL DEFAULT '',
    -- a complaint about this topic signals churn (churn_assessment's complaints factor)
    complaint   boolean NOT NULL DEFAULT false
);
INSERT INTO custprofile.topics VALUES
    ('price', 'cost, expensive, cheap, value for money', false),
    ('delivery', 'shipping, courier, parcel, arrived late', false),
    ('quality', 'broken, defective, durable, well made', false),
    ('customer service', 'support, staff, help, replies to emails', true),
    ('returns and refunds', 'return, refund, exchange, money back', true),
    ('product features', 'features, functions, design, battery, size', false);
COMMENT ON TABLE custprofile.topics IS
    'Topics of the profiles (texts.topics, texts.needs, texts.complaints); edit to use your own.';

-- Backup and restore. The rows above are the extension's until the table is first changed; from
-- the first INSERT, UPDATE, DELETE or TRUNCATE the whole list is the user's, and pg_dump keeps it.
-- A restore runs CREATE EXTENSION (which inserts the defaults again) before it copies the dumped
-- list in, so the COPY of a user's list first removes the defaults: the restored table is the
-- dumped list exactly, edited and deleted defaults included. Which rows are still the
-- extension's is kept here (not dumped: the install fills it again).
CREATE TABLE custprofile.default_topics_in_use (
    topic text PRIMARY KEY
);
INSERT INTO custprofile.default_topics_in_use SELECT topic FROM custprofile.topics;
COMMENT ON TABLE custprofile.default_topics_in_use IS
    'The rows of custprofile.topics that are still the extension''s defaults (empty once the list is edited).';
SELECT pg_catalog.pg_extension_config_dump('custprofile.topics',
    'WHERE NOT EXISTS (SELECT FROM custprofile.default_topics_in_use)');

-- A COPY into an unedited list is a restore of a dumped one: its first row makes the defaults
-- give way to the dumped list (pg_dump writes a COPY, with no rows, for an unedited list too, so
-- this waits for a row). Any other change takes the list over as it is.
-- Whether the statement running is a COPY.
CREATE FUNCTION custprofile_internal.is_copy() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT current_query() ~* '^\s*(--[^\n]*\n\s*)*COPY\s'
$$;
-- The trigger function of both triggers below.
CREATE FUNCTION custprofile_internal.topics_before_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        IF EXISTS (SELECT FROM custprofile.default_topics_in_use) THEN
            DELETE FROM custprofile.default_topics_in_use;
            DELETE FROM custprofile.topics;
        END IF;
        RETURN NEW;
    END IF;
    IF NOT (TG_OP = 'INSERT' AND custprofile_internal.is_copy()) THEN
        DELETE FROM custprofile.default_topics_in_use;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER topics_before_change BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON custprofile.topics
    FOR EACH STATEMENT EXECUTE FUNCTION custprofile_internal.topics_before_change();
CREATE TRIGGER topics_before_copied_row BEFORE INSERT ON custprofile.topics
    FOR EACH ROW WHEN (custprofile_internal.is_copy()) EXECUTE FUNCTION custprofile_internal.topics_before_change();
