CREATE EXTENSION custprofile;
-- try(query): runs a statement and reports 'ok' or its SQLSTATE and message, so that expected
-- output pins both.
CREATE FUNCTION public.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
