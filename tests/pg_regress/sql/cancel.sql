-- statement_timeout stops a long embed_texts between batches
SET custprofile.max_tokens = 256;
SET statement_timeout = '300ms';
SELECT count(*) FROM custprofile.embed_texts(
         ARRAY(SELECT 'review number ' || g || ' ' || repeat('the kettle boils water quickly ', 40) FROM generate_series(1, 3000) g));
RESET statement_timeout;
SELECT array_length(custprofile.embed_text('still working'), 1) AS still_working;
