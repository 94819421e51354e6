-- What customers talk about: zero-shot classification, aspects, keywords, cleaning, PII masking

-- zero-shot classification with the user's own labels (optionally with a description)
SELECT custprofile.classify('The plot was gripping and the author writes beautifully.', ARRAY['books', 'dvd', 'electronics', 'kitchen']) AS category;
SELECT custprofile.classify('Where is my parcel? The courier said it was delivered.', ARRAY['billing: invoice, charge, payment', 'delivery: shipping, courier, parcel', 'product question']) AS topic;
SELECT key, value::float8 > 0.5 AS most_likely
  FROM jsonb_each(custprofile.classify_scores('The toaster burns the bread on one side.', ARRAY['kitchen', 'books', 'garden'])) ORDER BY key;
SELECT round(sum(value::float8)::numeric, 3) AS total
  FROM jsonb_each(custprofile.classify_scores('Fast delivery.', ARRAY['price', 'delivery', 'quality', 'customer service']));
SELECT try($$SELECT custprofile.classify('text', ARRAY[]::text[])$$);
SELECT try($$SELECT custprofile.classify('text', ARRAY['a', 'b', 'a: again'])$$);
SELECT try($$SELECT custprofile.classify('text', ARRAY['a', NULL])$$);
SELECT try($$SELECT custprofile.classify('text', ARRAY(SELECT 'label ' || g FROM generate_series(1, 101) g))$$);
SELECT custprofile.classify(NULL, ARRAY['a']) IS NULL AS null_in_null_out;

-- several labels per text: each label by how far it stands out from the others asked, so a
-- text about two things gets both; the best label is never below sigmoid(bias) = 0.38, so at
-- the default 0.3 there is always one, and above it a text that no label fits may get none
SELECT key AS label FROM jsonb_each(custprofile.classify_multi(
  'The novel was boring and the toaster burns the bread.', ARRAY['books', 'dvd', 'electronics', 'kitchen']))
 ORDER BY key;
SELECT key AS label FROM jsonb_each(custprofile.classify_multi('快递很慢，价格也太贵了。', ARRAY['delivery', 'price', 'quality', 'customer service']))
 ORDER BY key;
SELECT bool_and(value::float8 BETWEEN 0 AND 1) AS probabilities, count(*) AS labels
  FROM jsonb_each(custprofile.classify_multi('The kettle leaks.', ARRAY['kitchen', 'books', 'dvd'], 0));
SELECT custprofile.classify_multi('The kettle leaks.', ARRAY['kitchen', 'books'], 1) AS nothing_reaches_one;
SELECT custprofile.classify_multi('Ok.', ARRAY['books', 'dvd', 'electronics', 'kitchen'], 0.5) AS nothing_stands_out;
SELECT try($$SELECT custprofile.classify_multi('text', ARRAY['a', 'b'], -0.1)$$);
SELECT try($$SELECT custprofile.classify_multi('text', ARRAY['a'])$$);
SELECT try($$SELECT custprofile.classify_multi('text', ARRAY[]::text[])$$);

-- aspect sentiment: each aspect from the clauses that concern it; unmentioned aspects are absent
SELECT custprofile.aspect_sentiment(
  'The price was fair. Delivery took three weeks and the box was crushed. Support never answered my emails.',
  ARRAY['price', 'delivery', 'quality', 'support']) AS aspects;
SELECT key AS aspect, value ->> 'label' AS label
  FROM jsonb_each(custprofile.aspect_sentiment('Great value for money, but the strap broke within a week.',
                                               ARRAY['price', 'delivery', 'quality', 'support'])) ORDER BY key;
SELECT custprofile.aspect_sentiment('The instructions were useless.', ARRAY['setup: instructions, manual, assembly']) ? 'setup' AS own_aspect;
SELECT custprofile.aspect_sentiment('', ARRAY['price']) AS empty_text;
SELECT try($$SELECT custprofile.aspect_sentiment('text', ARRAY[]::text[])$$);

-- keywords: phrases without stop words, relevant and diverse
SELECT custprofile.keywords('Refund still not processed six weeks after I returned the headphones. Very disappointed with the customer service.', 3) AS keywords;
SELECT array_length(custprofile.keywords('The espresso machine heats up in under a minute and the crema is wonderful.'), 1) AS default_five;
SELECT custprofile.keywords('the and of it', 3) AS only_stop_words;
SELECT try($$SELECT custprofile.keywords('text', 0)$$);
SELECT try($$SELECT custprofile.keywords('text', 51)$$);

-- cleaning
CREATE TEMP TABLE messy (input text, expected text);
INSERT INTO messy VALUES
  ('<p>Great&nbsp;kettle!!!</p><br/>Love it', 'Great kettle! Love it'),
  ('<script>alert(1)</script>Fine &amp; dandy', 'Fine & dandy'),
  ('See https://shop.example.com/item?id=42, it''s cheap', 'See [URL], it''s cheap'),
  ('Why?!?!?! Sooo bad.....', 'Why?! Sooo bad...'),
  ('ＡＢＣ　１２３ ﬁne', 'ABC 123 fine'),
  (E'  tabs\tand\nnewlines  ', 'tabs and newlines'),
  ('5 < 6 and 7 > 3, <3', '5 < 6 and 7 > 3, <3'),
  ('price: 1,299.00 - 20% off', 'price: 1,299.00 - 20% off');
SELECT input, custprofile.clean_text(input) = expected AS cleaned FROM messy;

-- PII masking: every kind found, nothing else touched
CREATE TEMP TABLE pii (input text, expected text);
INSERT INTO pii VALUES
  ('mail me at jane.doe+shop@example.co.uk please', 'mail me at [EMAIL] please'),
  ('card 4111 1111 1111 1111 expired', 'card [CARD] expired'),
  ('card 5500-0000-0000-0004', 'card [CARD]'),
  ('IBAN DE89 3704 0044 0532 0130 00 for the refund', 'IBAN [IBAN] for the refund'),
  ('GB82WEST12345698765432', '[IBAN]'),
  ('call +44 20 7946 0958 now', 'call [PHONE] now'),
  ('call +86 138 0013 8000', 'call [PHONE]'),
  ('手机13800138000联系', '手机[PHONE]联系'),
  ('ring (555) 123-4567', 'ring [PHONE]'),
  ('from 192.168.1.20 today', 'from [IP] today'),
  ('from 2001:db8::ff00:42:8329 today', 'from [IP] today'),
  ('身份证11010519491231002X。', '身份证[NATIONAL_ID]。'),
  ('SSN 123-45-6789', 'SSN [NATIONAL_ID]'),
  -- none of these is PII
  ('Delivered on 2026-11-28 at 12:30:45, order #123456789.', 'Delivered on 2026-11-28 at 12:30:45, order #123456789.'),
  ('Order ORD-2026-000123 cost $1,299.00 (was 1.499,00 EUR).', 'Order ORD-2026-000123 cost $1,299.00 (was 1.499,00 EUR).'),
  ('Card 4111 1111 1111 1112 fails Luhn.', 'Card 4111 1111 1111 1112 fails Luhn.'),
  ('DE89 3704 0044 0532 0130 02 fails mod 97.', 'DE89 3704 0044 0532 0130 02 fails mod 97.'),
  ('Version 1.2.3, room 101, 3 x 4 = 12, 999.168.1.1, 10:30.', 'Version 1.2.3, room 101, 3 x 4 = 12, 999.168.1.1, 10:30.'),
  ('ID 110105194912310021 has the wrong check digit.', 'ID 110105194912310021 has the wrong check digit.');
SELECT input, custprofile.mask_pii(input) = expected AS masked_as_expected FROM pii;

-- the setting masks PII before the model sees a text
SET custprofile.mask_pii = on;
SELECT custprofile.cosine_similarity(custprofile.embed_text('Write to jane@example.com about order 7'),
                                     custprofile.embed_text('Write to [EMAIL] about order 7')) > 0.99999 AS masked_before_embedding;
RESET custprofile.mask_pii;
SELECT custprofile.cosine_similarity(custprofile.embed_text('Write to jane@example.com about order 7'),
                                     custprofile.embed_text('Write to [EMAIL] about order 7')) < 0.99 AS not_masked_by_default;
CREATE ROLE pii_analyst;
SET ROLE pii_analyst;
SELECT try($$SET custprofile.mask_pii = off$$);
RESET ROLE;
DROP ROLE pii_analyst;
