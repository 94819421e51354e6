-- train_classifier / predict / predict_scores: the mechanism that also trains the built-in sentiment head
CREATE TEMP TABLE tickets(body text, topic text);
INSERT INTO tickets VALUES
 ('My parcel has not arrived yet', 'delivery'),
 ('The courier left the package at the wrong address', 'delivery'),
 ('Shipping took three weeks instead of three days', 'delivery'),
 ('Tracking says delivered but there is nothing at my door', 'delivery'),
 ('The box arrived crushed and late', 'delivery'),
 ('When will my order be shipped?', 'delivery'),
 ('The delivery driver never rang the bell', 'delivery'),
 ('My order is stuck in transit for ten days', 'delivery'),
 ('I was charged twice for the same order', 'billing'),
 ('Please refund the difference in price', 'billing'),
 ('My credit card was billed but the order was cancelled', 'billing'),
 ('The invoice shows the wrong amount', 'billing'),
 ('Why did you charge me a subscription fee?', 'billing'),
 ('The discount code was not applied at checkout', 'billing'),
 ('I need a copy of my receipt for taxes', 'billing'),
 ('The payment failed but money left my account', 'billing');
SELECT r ->> 'name' AS name, (r ->> 'rows')::int AS rows, r -> 'classes' AS classes,
       r ? 'validation_accuracy' AS has_accuracy, r -> 'per_class' ? 'billing' AS per_class,
       (r ->> 'training_seconds')::numeric >= 0 AS timed
  FROM (SELECT custprofile.train_classifier('ticket_topic', 'SELECT body, topic FROM tickets',
                                            '{"validation_share": 0.25, "epochs": 60}') AS r) s;
SELECT custprofile.predict('ticket_topic', 'Where is my package? The courier never came.') AS topic;
SELECT custprofile.predict('ticket_topic', 'You billed my card two times for one purchase') AS topic;
SELECT k, (v::numeric BETWEEN 0 AND 1) AS is_probability
  FROM jsonb_each_text(custprofile.predict_scores('ticket_topic', 'refund please')) AS e(k, v) ORDER BY k;
SELECT name, task, dimensions FROM custprofile.models WHERE task = 'classification';

-- retraining under the same name replaces the head, and training is deterministic
SELECT head AS first_head FROM custprofile.classifiers WHERE name = 'ticket_topic' \gset
SELECT custprofile.train_classifier('ticket_topic', 'SELECT body, topic FROM tickets ORDER BY random()',
                                    '{"validation_share": 0.25, "epochs": 60}') IS NOT NULL AS retrained;
SELECT count(*) AS rows, bool_and(head = :'first_head'::jsonb) AS same_head FROM custprofile.classifiers;

-- a multilayer perceptron as an option
SELECT (custprofile.train_classifier('ticket_topic_mlp', 'SELECT body, topic FROM tickets',
        '{"model": "mlp", "hidden": 16, "epochs": 60, "validation_share": 0}') ->> 'model') AS model;
SELECT custprofile.predict('ticket_topic_mlp', 'My parcel is late') AS topic;

-- attention pooling: queries learnt with the head (the built-in sentiment head is trained so);
-- the stored head carries them, it predicts and it is deterministic too
SELECT (custprofile.train_classifier('ticket_topic_attention', 'SELECT body, topic FROM tickets',
        '{"model": "mlp", "hidden": 16, "epochs": 60, "batch_size": 4, "pooling": "attention", "heads": 2, "validation_share": 0}') ->> 'rows') AS rows;
SELECT head ->> 'pooling' AS pooling, (head -> 'attention' ->> 'heads')::int AS heads,
       jsonb_array_length(head -> 'attention' -> 'queries') AS query_values,
       (head -> 'layers' -> 0 ->> 'inputs')::int AS head_inputs
  FROM custprofile.classifiers WHERE name = 'ticket_topic_attention';
SELECT custprofile.predict('ticket_topic_attention', 'My parcel is late') AS topic;
SELECT custprofile.predict('ticket_topic_attention', 'You billed my card two times for one purchase') AS topic;
SELECT head AS attention_head FROM custprofile.classifiers WHERE name = 'ticket_topic_attention' \gset
SELECT custprofile.train_classifier('ticket_topic_attention', 'SELECT body, topic FROM tickets ORDER BY random()',
        '{"model": "mlp", "hidden": 16, "epochs": 60, "batch_size": 4, "pooling": "attention", "heads": 2, "validation_share": 0}') IS NOT NULL AS retrained;
SELECT head = :'attention_head'::jsonb AS same_attention_head FROM custprofile.classifiers WHERE name = 'ticket_topic_attention';
-- calibration: the logits are divided by the temperature that fits the validation rows best
SELECT (r ->> 'temperature')::numeric BETWEEN 0.5 AND 10 AS has_temperature
  FROM (SELECT custprofile.train_classifier('ticket_topic_calibrated', 'SELECT body, topic FROM tickets',
        '{"validation_share": 0.25, "epochs": 60, "calibrate": true}') AS r) s;
SELECT custprofile.train_classifier('ticket_topic_calibrated', 'SELECT body, topic FROM tickets',
        '{"validation_share": 0, "epochs": 60, "calibrate": true}') ? 'temperature' AS temperature_without_validation_rows;
SELECT custprofile.predict('ticket_topic_calibrated', 'My parcel is late') AS topic;
DELETE FROM custprofile.classifiers WHERE name = 'ticket_topic_calibrated';

-- average_weights: the head is the running mean of the weights from the second epoch on;
-- deterministic like any training
SELECT (r ->> 'best_epoch')::int BETWEEN 1 AND 30 AS picked_an_epoch, (r ->> 'validation_rows')::int AS validation_rows
  FROM (SELECT custprofile.train_classifier('ticket_topic_averaged', 'SELECT body, topic FROM tickets',
        '{"model": "mlp", "hidden": 16, "epochs": 30, "batch_size": 4, "average_weights": true, "validation_share": 0.25}') AS r) s;
SELECT head AS averaged_head FROM custprofile.classifiers WHERE name = 'ticket_topic_averaged' \gset
SELECT custprofile.train_classifier('ticket_topic_averaged', 'SELECT body, topic FROM tickets ORDER BY random()',
        '{"model": "mlp", "hidden": 16, "epochs": 30, "batch_size": 4, "average_weights": true, "validation_share": 0.25}') IS NOT NULL AS retrained;
SELECT head = :'averaged_head'::jsonb AS same_averaged_head FROM custprofile.classifiers WHERE name = 'ticket_topic_averaged';
SELECT custprofile.predict('ticket_topic_averaged', 'My parcel is late') AS topic;
DELETE FROM custprofile.classifiers WHERE name = 'ticket_topic_averaged';
SELECT try($$SELECT custprofile.train_classifier('x', 'SELECT body, topic FROM tickets', '{"average_weights": 1}')$$);

-- encoder_layers: the means of layers below the last feed the head too; text_features gives the
-- same fixed features, for training on precomputed rows
SELECT array_length(custprofile.text_features('x', 'mean', 1), 1) AS mean_1,
       array_length(custprofile.text_features('x', 'mean', 4), 1) AS mean_4,
       array_length(custprofile.text_features('x', 'mean_max_cls', 2), 1) AS mean_max_cls_2;
SELECT (custprofile.text_features('x', 'mean', 2))[1:384] = custprofile.embed_text('x') AS last_layer_first,
       (custprofile.text_features('x', 'mean', 2))[385:768] <> custprofile.embed_text('x') AS layer_5_differs;
SELECT custprofile.train_classifier('ticket_topic_layers', 'SELECT body, topic FROM tickets',
        '{"validation_share": 0, "epochs": 60, "pooling": "mean", "encoder_layers": 3}') IS NOT NULL AS trained;
SELECT (head ->> 'encoder_layers')::int AS encoder_layers, (head -> 'layers' -> 0 ->> 'inputs')::int AS head_inputs
  FROM custprofile.classifiers WHERE name = 'ticket_topic_layers';
SELECT custprofile.train_classifier('ticket_topic_layers', 'SELECT custprofile.text_features(body, ''mean'', 3), topic FROM tickets',
        '{"validation_share": 0, "epochs": 60, "pooling": "mean", "encoder_layers": 3}') IS NOT NULL AS trained_on_features;
SELECT (head ->> 'encoder_layers')::int AS encoder_layers, (head -> 'layers' -> 0 ->> 'inputs')::int AS head_inputs
  FROM custprofile.classifiers WHERE name = 'ticket_topic_layers';
SELECT custprofile.predict('ticket_topic_layers', 'My parcel is late') AS topic;
SELECT (custprofile.train_classifier('ticket_topic_layers', 'SELECT body, topic FROM tickets',
        '{"model": "mlp", "hidden": 16, "epochs": 30, "batch_size": 4, "pooling": "attention", "heads": 2, "encoder_layers": 2, "validation_share": 0}') ->> 'rows') AS attention_rows;
SELECT (head -> 'layers' -> 0 ->> 'inputs')::int AS attention_head_inputs FROM custprofile.classifiers WHERE name = 'ticket_topic_layers';
SELECT custprofile.predict('ticket_topic_layers', 'You billed my card two times for one purchase') AS topic;
DELETE FROM custprofile.classifiers WHERE name = 'ticket_topic_layers';
SELECT try($$SELECT custprofile.train_classifier('x', 'SELECT body, topic FROM tickets', '{"encoder_layers": 5}')$$);
SELECT try($$SELECT custprofile.train_classifier('x', 'SELECT custprofile.text_features(body), topic FROM tickets', '{"encoder_layers": 2}')$$);
SELECT try($$SELECT custprofile.text_features('x', 'mean', 0)$$);

-- attention pooling has no fixed features: not from text_features, not from real[] rows
SELECT try($$SELECT custprofile.text_features('x', 'attention')$$);
SELECT try($$SELECT custprofile.train_classifier('x', 'SELECT custprofile.text_features(body), topic FROM tickets', '{"pooling": "attention"}')$$);
SELECT try($$SELECT custprofile.train_classifier('x', 'SELECT body, topic FROM tickets', '{"pooling": "attention", "heads": 0}')$$);

-- several labels per text: a text[] label column trains one logistic regression per label;
-- predict_multi gives every label that applies (the tickets above, and ones that raise both)
CREATE TEMP TABLE multi_tickets AS
SELECT body, ARRAY[topic] AS labels FROM tickets
UNION ALL VALUES ('The parcel came late and you charged me twice', ARRAY['delivery', 'billing']),
                 ('Still no package, and the refund has not reached my card', ARRAY['billing', 'delivery']),
                 ('Courier lost the box; the invoice is wrong too', ARRAY['delivery', 'billing']),
                 ('Thanks, all good', ARRAY[]::text[]),
                 ('Great shop, keep it up', ARRAY[]::text[]);
SELECT r -> 'multi_label' AS multi_label, r -> 'classes' AS classes, r -> 'per_label' ? 'billing' AS per_label
  FROM (SELECT custprofile.train_classifier('ticket_labels', 'SELECT body, labels FROM multi_tickets',
                                            '{"validation_share": 0, "epochs": 100}') AS r) s;
SELECT (head ->> 'multi_label')::boolean AS multi_label FROM custprofile.classifiers WHERE name = 'ticket_labels';
SELECT key AS label FROM jsonb_each(custprofile.predict_multi('ticket_labels', 'My order never arrived and I was billed two times'))
 ORDER BY key;
SELECT key AS label FROM jsonb_each(custprofile.predict_multi('ticket_labels', 'Where is my parcel? The courier never came.')) ORDER BY key;
SELECT (SELECT count(*) FROM jsonb_object_keys(custprofile.predict_multi('ticket_labels', 'Where is my parcel?', 0))) AS all_at_zero;
-- probabilities of their own: both labels of a text that raises both are likely at once
SELECT bool_and(v::float BETWEEN 0 AND 1) AS probabilities, sum(v::float) > 1.2 AS both_likely
  FROM jsonb_each_text(custprofile.predict_scores('ticket_labels', 'My parcel came late and you charged my card twice')) AS e(k, v);
SELECT try($$SELECT custprofile.predict_multi('ticket_topic', 'x')$$);
SELECT try($$SELECT custprofile.predict_multi('ticket_labels', 'x', 1.5)$$);
SELECT try($$SELECT custprofile.train_classifier('x', 'SELECT body, labels FROM multi_tickets', '{"model": "mlp"}')$$);
SELECT try($$SELECT custprofile.train_classifier('x', 'SELECT body, labels FROM multi_tickets', '{"scoring": "sentences"}')$$);
SELECT try($$SELECT custprofile.train_classifier('x', 'SELECT body, ARRAY[''delivery'', NULL] FROM tickets')$$);
SELECT try($$SELECT custprofile.train_classifier('x', 'SELECT body, ARRAY[''delivery''] FROM tickets')$$);
SELECT try($$SELECT custprofile.train_classifier('x', 'SELECT body, ARRAY[]::text[] FROM tickets')$$);
SELECT try($$SELECT custprofile.train_classifier('x', 'SELECT body, NULL::text[] FROM tickets')$$);
DELETE FROM custprofile.classifiers WHERE name = 'ticket_labels';

-- bad input
SELECT try($$SELECT custprofile.predict('no_such_classifier', 'x')$$);
SELECT try($$SELECT custprofile.train_classifier('x', 'SELECT body, ''delivery'' FROM tickets')$$);
SELECT try($$SELECT custprofile.train_classifier('x', 'SELECT body, NULL::text FROM tickets')$$);
SELECT try($$SELECT custprofile.train_classifier('x', 'SELECT body, topic FROM tickets WHERE false')$$);
SELECT try($$SELECT custprofile.train_classifier('x', 'SELECT 1, topic FROM tickets')$$);
SELECT try($$SELECT custprofile.train_classifier('x', 'SELECT body, topic FROM tickets', '{"epoch": 3}')$$);
SELECT try($$SELECT custprofile.train_classifier('', 'SELECT body, topic FROM tickets')$$);
SELECT count(*) AS classifiers_after_errors FROM custprofile.classifiers;
DELETE FROM custprofile.classifiers WHERE name LIKE 'ticket_topic%';
