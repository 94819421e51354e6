-- The topics profiles sort a customer's texts into (zero-shot, by similarity to
-- "This review is about <topic>: <description>."). Edit the rows to use your own; the next
-- refresh_profiles rebuilds every profile with them.
CREATE TABLE custprofile.topics (
    topic       text PRIMARY KEY CHECK (topic <> '' AND strpos(topic, ':') = 0),
    description text NOT NULL DEFAULT ''
);
INSERT INTO custprofile.topics VALUES
    ('price', 'cost, expensive, cheap, value for money'),
    ('delivery', 'shipping, courier, parcel, arrived late'),
    ('quality', 'broken, defective, durable, well made'),
    ('customer service', 'support, staff, help, replies to emails'),
    ('returns and refunds', 'return, refund, exchange, money back'),
    ('product features', 'features, functions, design, battery, size');
COMMENT ON TABLE custprofile.topics IS
    'Topics of the profiles (texts.topics, texts.needs); edit to use your own.';
