-- Aggregates. Both are parallel safe and combine partial results, so parallel query and
-- partitionwise aggregation give the same result (to 1e-5) as one serial pass.

-- embedding_avg(real[]): the normalised mean of embeddings (a customer's interest vector). Its
-- state is a plain float8[] ([count, sums...]), which PostgreSQL ships between processes as is:
-- serialise/deserialise functions exist only for internal states.
CREATE AGGREGATE custprofile.embedding_avg(real[]) (
    SFUNC = custprofile_internal.embedding_avg_accum,
    STYPE = float8[],
    COMBINEFUNC = custprofile_internal.embedding_avg_combine,
    FINALFUNC = custprofile_internal.embedding_avg_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE custprofile.embedding_avg(real[]) IS
    'Normalised mean of embeddings; NULL embeddings are skipped; NULL for no rows.';

-- profile_agg(body [, rating [, written_at]]): the text part of a customer profile. The state
-- buffers texts and scores them in batches; SSPACE tells the planner that a state is large
-- (384 float8 sums, outside PostgreSQL's memory accounting), so that grouping by millions of
-- customers sorts rather than holding every group in one hash table. The support function's
-- COST tells it the rows are expensive, so that parallel plans aggregate in the workers.
CREATE AGGREGATE custprofile.profile_agg(body text) (
    SFUNC = custprofile_internal.profile_agg_accum,
    STYPE = internal,
    SSPACE = 4096,
    COMBINEFUNC = custprofile_internal.profile_agg_combine,
    SERIALFUNC = custprofile_internal.profile_agg_serialize,
    DESERIALFUNC = custprofile_internal.profile_agg_deserialize,
    FINALFUNC = custprofile_internal.profile_agg_final,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
CREATE AGGREGATE custprofile.profile_agg(body text, rating real) (
    SFUNC = custprofile_internal.profile_agg_accum,
    STYPE = internal,
    SSPACE = 4096,
    COMBINEFUNC = custprofile_internal.profile_agg_combine,
    SERIALFUNC = custprofile_internal.profile_agg_serialize,
    DESERIALFUNC = custprofile_internal.profile_agg_deserialize,
    FINALFUNC = custprofile_internal.profile_agg_final,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
CREATE AGGREGATE custprofile.profile_agg(body text, rating real, written_at timestamptz) (
    SFUNC = custprofile_internal.profile_agg_accum,
    STYPE = internal,
    SSPACE = 4096,
    COMBINEFUNC = custprofile_internal.profile_agg_combine,
    SERIALFUNC = custprofile_internal.profile_agg_serialize,
    DESERIALFUNC = custprofile_internal.profile_agg_deserialize,
    FINALFUNC = custprofile_internal.profile_agg_final,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE custprofile.profile_agg(text, real, timestamptz) IS
    'Text part of a customer profile: counts, sentiment (mean, min, max, distribution, trend), '
    'ratings against sentiment (1 to 5 scale), interest vector, first and last seen, model.';

-- profile_agg in two steps, for partial aggregates made elsewhere: profile_agg_partial folds
-- texts into a partial state (bytea, the portable form of src/profiles/partial.rs: its version
-- and the encoder's vector space, with the sums), profile_agg_merge folds partial states into
-- the same document profile_agg gives for all their texts at once. On Citus, profile_agg
-- grouped by the distribution column runs whole on the workers; grouped by anything else,
-- Citus would gather every row to the coordinator (it combines only states that are not
-- `internal`). Instead: the partials by customer and the wanted column on the workers, merged
-- by that column on the coordinator (docs/scale-out.md).
CREATE AGGREGATE custprofile.profile_agg_partial(body text) (
    SFUNC = custprofile_internal.profile_agg_accum,
    STYPE = internal,
    SSPACE = 4096,
    COMBINEFUNC = custprofile_internal.profile_agg_combine,
    SERIALFUNC = custprofile_internal.profile_agg_serialize,
    DESERIALFUNC = custprofile_internal.profile_agg_deserialize,
    FINALFUNC = custprofile_internal.profile_agg_partial_final,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
CREATE AGGREGATE custprofile.profile_agg_partial(body text, rating real) (
    SFUNC = custprofile_internal.profile_agg_accum,
    STYPE = internal,
    SSPACE = 4096,
    COMBINEFUNC = custprofile_internal.profile_agg_combine,
    SERIALFUNC = custprofile_internal.profile_agg_serialize,
    DESERIALFUNC = custprofile_internal.profile_agg_deserialize,
    FINALFUNC = custprofile_internal.profile_agg_partial_final,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
CREATE AGGREGATE custprofile.profile_agg_partial(body text, rating real, written_at timestamptz) (
    SFUNC = custprofile_internal.profile_agg_accum,
    STYPE = internal,
    SSPACE = 4096,
    COMBINEFUNC = custprofile_internal.profile_agg_combine,
    SERIALFUNC = custprofile_internal.profile_agg_serialize,
    DESERIALFUNC = custprofile_internal.profile_agg_deserialize,
    FINALFUNC = custprofile_internal.profile_agg_partial_final,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE custprofile.profile_agg_partial(text, real, timestamptz) IS
    'The partial state of profile_agg over these texts, for profile_agg_merge (e.g. computed on Citus workers).';
CREATE AGGREGATE custprofile.profile_agg_merge(partial_state bytea) (
    SFUNC = custprofile_internal.profile_agg_merge_accum,
    STYPE = internal,
    SSPACE = 4096,
    COMBINEFUNC = custprofile_internal.profile_agg_combine,
    SERIALFUNC = custprofile_internal.profile_agg_serialize,
    DESERIALFUNC = custprofile_internal.profile_agg_deserialize,
    FINALFUNC = custprofile_internal.profile_agg_final,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE custprofile.profile_agg_merge(bytea) IS
    'The profile_agg document of every text behind these partial states (profile_agg_partial), under the same encoder.';
