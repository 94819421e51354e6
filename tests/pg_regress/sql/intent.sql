-- Intent beside sentiment: what a text does (question, complaint, praise, other), read by the
-- built-in intent head from the same encoder pass as its sentiment. A question about refunds is
-- a need, not a complaint: it does not switch on the churn complaints factor.
\set VERBOSITY terse
SET client_min_messages = warning;
-- the issue's messages, and their sentiment beside the intent (the head as it is: the last, a
-- question about a rice cooker, reads negative and so is taken for a complaint)
SELECT t AS message, custprofile.intent(t) AS intent, custprofile.sentiment_label(t) AS sentiment
  FROM (VALUES ('How long does a refund take to show on my credit card?'),
               ('Do you sell replacement power cables for the Echo?'),
               ('My refund never arrived and nobody answers my emails. Terrible service.'),
               ('Thank you so much, the speaker is wonderful!'),
               ('退款多久能到账？'),
               ('质量太差了，用了两天就坏了。'),
               ('Please send the invoice to my office address.'),
               ('麻烦帮我换一家快递公司。'),
               ('这个电饭煲可以煮粥吗？')) v(t);
-- a complaint needs a negative reading: the intent head alone reads these four as complaints
-- (intent-e5-v2: they name defects that did not happen), the sentiment head reads none of them as
-- negative, so none is one and the complaint's probability went to the other classes (0 exactly,
-- which a softmax never gives; src/heads/intent.rs)
SELECT t AS message, custprofile.intent(t) <> 'complaint' AS not_a_complaint,
       custprofile.sentiment_label(t) <> 'negative' AS not_negative,
       (custprofile.intent_detail(t) #>> '{probabilities,complaint}')::real AS complaint_probability
  FROM (VALUES ('It never breaks.'), ('It has never broken down once.'),
               ('The battery never dies before evening.'), ('It never overheats.')) v(t);
-- the detail: four probabilities that sum to 1, and the head that made them
SELECT d ->> 'label' AS label, d ->> 'model' AS model,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(d -> 'probabilities') k) AS classes,
       abs((SELECT sum(v::text::float8) FROM jsonb_each(d -> 'probabilities') e(k, v)) - 1) < 0.001 AS sums_to_one
  FROM (SELECT custprofile.intent_detail('Where is my parcel?') AS d) x;
-- blank says nothing; NULL is NULL
SELECT custprofile.intent('   ') AS blank, custprofile.intent(NULL) IS NULL AS null_is_null,
       custprofile.text_signals('Great kettle!') AS signals;
-- the models view lists the intent head of each encoder
SELECT name, task, encoder, dimensions FROM custprofile.models WHERE task = 'intent' ORDER BY name;

-- profiles: one customer asks about refunds three times, the other complains about them
CREATE SCHEMA intent_shop;
CREATE TABLE intent_shop.customers (id int PRIMARY KEY);
CREATE TABLE intent_shop.messages (id serial, customer int, body text, at timestamptz);
INSERT INTO intent_shop.customers VALUES (1), (2);
INSERT INTO intent_shop.messages (customer, body, at) VALUES
  (1, 'How long does a refund take to show on my credit card?', '2018-03-01 10:00+00'),
  (1, 'Can I return the speaker if I already opened the box?', '2018-04-01 10:00+00'),
  (1, 'Does the refund include the shipping cost?', '2018-05-01 10:00+00'),
  (2, 'My refund still has not arrived after a month. Unacceptable.', '2018-03-01 10:00+00'),
  (2, 'You refused my return and customer service hung up on me.', '2018-04-01 10:00+00'),
  (2, 'Still no money back. Worst shop ever.', '2018-05-01 10:00+00');
SELECT custprofile.register_source('customers', 'intent_shop.customers', '{"key": "id"}') IS NOT NULL AS customers,
       custprofile.register_source('texts', 'intent_shop.messages', '{"customer": "customer", "text": "body", "time": "at"}') IS NOT NULL AS texts;
CALL custprofile.refresh_profiles();
SELECT customer_key, profile #> '{texts,intent}' AS intent, profile #> '{texts,needs}' AS needs,
       profile #> '{texts,complaints}' AS complaints,
       profile #>> '{churn,factors,complaints}' AS complaints_factor
  FROM custprofile.profiles ORDER BY customer_key;
SELECT customer_key, question_share, complaint_share FROM custprofile.customer_profiles ORDER BY customer_key;
SELECT customer_key, intent, count(*) FROM custprofile.text_insights GROUP BY 1, 2 ORDER BY 1, 2;
-- the profile says which intent head made it
SELECT DISTINCT profile #>> '{texts,model,intent}' AS intent_head FROM custprofile.profiles;

SELECT count(custprofile.unregister_source(kind, relation)) AS unregistered FROM custprofile.sources;
TRUNCATE custprofile.profiles, custprofile.refresh_queue;
DROP SCHEMA intent_shop CASCADE;
