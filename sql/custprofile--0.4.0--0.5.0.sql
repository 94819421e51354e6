-- custprofile 0.4.0 -> 0.5.0: multilingual-e5-small becomes the default encoder, and every
-- similarity the SQL layer thresholds or weighs is read on one scale, whichever encoder made it.
\echo Use "ALTER EXTENSION custprofile UPDATE TO '0.5.0'" to load this file. \quit

-- The cosine on the current encoder's common scale (its manifest's "relatedness").
-- custprofile::api::embedding::relatedness
CREATE FUNCTION custprofile."relatedness"(
	"a" real[], /* Array < f32 > */
	"b" real[] /* Array < f32 > */
) RETURNS real /* Option < f32 > */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relatedness_wrapper';

-- customer_similarity reads its interest part on that scale, which follows custprofile.encoder.
ALTER FUNCTION custprofile.customer_similarity(real[], jsonb, real[], jsonb) STABLE;

-- The rows of a catalogue ('items' or 'answers') with the relatedness of their text to a query
-- vector (`vector_sql`: a parameter such as '$1', or any expression; relatedness is the cosine
-- on the current encoder's common scale, so thresholds mean the same for every encoder), as a
-- column `similarity`: from the stored vector when it is fresh, else from an embedding computed now.
-- The similarity is computed in the scan of the stored vectors (OFFSET 0 keeps the planner
-- from pulling it above the join), so only (key, similarity) rows meet the catalogue, never
-- the vectors themselves. Rows without text are left out; a NULL
-- query vector gives NULL similarities.
CREATE OR REPLACE FUNCTION custprofile.catalogue_similarity_sql(kind text, vector_sql text, sources jsonb) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    RETURN format(
        'SELECT c.*, CASE WHEN e.key IS NOT NULL THEN e.similarity '
        '                 WHEN (%2$s) IS NOT NULL THEN custprofile.relatedness(custprofile.embed_text(c.document), %2$s) END AS similarity '
        'FROM (%1$s) c '
        'LEFT JOIN (SELECT x.key, x.text_hash, custprofile.relatedness(x.embedding, %2$s) AS similarity '
        '             FROM custprofile.catalogue_embeddings x WHERE x.kind = %3$L OFFSET 0) e '
        '  ON e.key = c.key AND e.text_hash = custprofile.catalogue_hash(c.document, %4$L) '
        'WHERE c.document IS NOT NULL AND c.key IS NOT NULL',
        custprofile.catalogue_rows_sql(kind, sources), vector_sql, kind, custprofile.model_version());
END $$;
