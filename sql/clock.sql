-- The moment time-dependent judgements are made at: the recency of RFM scores, the churn
-- factor recency, and so the churn risk. Set by custprofile.as_of:
--   latest_activity (default)  the latest order or text in the data, never later than now:
--                              historical data (a shop's export that ends in 2018) is judged as
--                              of its own end, not against today's clock, and a live shop's latest
--                              event is minutes old, so it is judged as of now
--   now                        the transaction's start
--   a timestamp                that moment, for reports as of a date (SET custprofile.as_of = '2018-06-30')
-- Data after the moment is not left out: the moment is where recency is counted to.

-- The moment for a given latest activity (NULL: none, then now).
CREATE FUNCTION custprofile_internal.judgement_time(latest_activity timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE s WHEN 'latest_activity' THEN least(COALESCE(latest_activity, now()), now())
                  WHEN 'now' THEN now()
                  ELSE s::timestamptz END
      FROM (SELECT custprofile_internal.as_of_setting() AS s) setting
$$;

-- The latest order or text of a customer in the customers source, over the registered sources
-- (checked_sources('customers', 'orders', 'texts')); NULL without any. Texts that are NULL or
-- blank do not count, as profiles skip them. An index on the time columns makes it a lookup.
CREATE FUNCTION custprofile_internal.latest_activity(sources jsonb) RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    latest timestamptz;
    previous_role text := custprofile_internal.enter_source_reader();
BEGIN
    EXECUTE format($q$
        SELECT greatest(
            (SELECT max(o.ordered_at) FROM (%1$s) o WHERE o.customer_key IN (SELECT c.customer_key FROM (%3$s) c)),
            (SELECT max(t.written_at) FROM (%2$s) t
              WHERE t.body ~ '\S' AND t.customer_key IN (SELECT c.customer_key FROM (%3$s) c)))
        $q$, custprofile_internal.orders_or_none_sql(sources), custprofile_internal.texts_sql(sources), custprofile_internal.customers_sql(sources))
        INTO latest;
    PERFORM custprofile_internal.leave_source_reader(previous_role);
    RETURN latest;
END $$;

-- The moment a build over `sources` is judged at: the sources are read for their latest
-- activity only when custprofile.as_of is latest_activity.
CREATE FUNCTION custprofile_internal.sources_as_of(sources jsonb) RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF custprofile_internal.as_of_setting() = 'latest_activity' THEN
        RETURN custprofile_internal.judgement_time(custprofile_internal.latest_activity(sources));
    END IF;
    RETURN custprofile_internal.judgement_time(NULL);
END $$;

-- The moment the stored profiles are judged at: with latest_activity, the latest activity among
-- them (an index lookup on profiles.last_activity), which is the data's latest activity as of the
-- last refresh. Views and churn_risk read it once per query.
CREATE FUNCTION custprofile.as_of() RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    RETURN custprofile_internal.judgement_time((SELECT max(p.last_activity) FROM custprofile.profiles p));
END $$;
COMMENT ON FUNCTION custprofile.as_of() IS
    'The moment recency, RFM and churn are judged at (custprofile.as_of: latest_activity, now or a timestamp).';
