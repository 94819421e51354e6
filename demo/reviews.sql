-- A small demo shop's reviews, written for custprofile (not taken from any data set).
SET client_min_messages = warning;
DROP TABLE IF EXISTS demo_reviews;
CREATE TABLE demo_reviews (
    review_id   int PRIMARY KEY,
    customer_id int NOT NULL,
    product     text NOT NULL,
    rating      int CHECK (rating BETWEEN 1 AND 5),
    body        text
);
INSERT INTO demo_reviews VALUES
 (1, 101, 'espresso machine', 5, 'The espresso machine heats up in under a minute and the crema is wonderful. Best kitchen purchase this year.'),
 (2, 101, 'milk frother', 4, 'Froths oat milk nicely, a little loud but does the job every morning.'),
 (3, 102, 'espresso machine', 1, 'Stopped working after two weeks. The pump makes a grinding noise and support has not replied to three emails.'),
 (4, 102, 'coffee grinder', 2, 'The grind is uneven and the hopper lid cracked the first time I dropped it onto the counter.'),
 (5, 103, 'rain jacket', 5, 'Stayed completely dry on a four hour hike in heavy rain. The hood fits over a helmet too.'),
 (6, 103, 'hiking socks', 4, 'Warm, no blisters after twenty kilometres, though they shrank slightly in the wash.'),
 (7, 104, 'rain jacket', 2, 'The zipper jammed on day one and the sleeves are far too short for the listed size.'),
 (8, 104, 'running shoes', 3, 'Comfortable enough for short runs. The sole is already wearing thin after a month.'),
 (9, 105, 'bluetooth speaker', 5, 'Surprisingly deep bass for such a small speaker, and the battery lasts the whole weekend.'),
 (10, 105, 'headphones', 1, 'Refund still not processed six weeks after I returned them. Very disappointed with the service.'),
 (11, 106, 'headphones', 4, 'Noise cancelling works well on the train. The case feels cheap but the sound is great.'),
 (12, 106, 'bluetooth speaker', 3, 'It arrived on Thursday in a plain box.'),
 (13, 107, 'kettle', 5, 'Boils a full litre in two minutes, switches off reliably and looks lovely on the counter.'),
 (14, 107, 'toaster', 1, 'Burns one side and leaves the other pale. Returned it the same day.'),
 (15, 108, 'kettle', 2, 'The kettle started leaking from the base after a month of daily use.'),
 (16, 108, 'coffee grinder', 5, 'Consistent grind from fine to coarse, easy to clean, and very quiet. Highly recommended.'),
 (17, 109, 'running shoes', 5, 'Light, well cushioned and my knees no longer hurt after long runs.'),
 (18, 109, 'hiking socks', NULL, NULL),
 (19, 110, 'toaster', 4, 'Evenly toasted bread and the crumb tray slides out easily. The cord could be longer.'),
 (20, 110, 'milk frother', 1, 'Broke within a week and the replacement part costs more than the frother itself.');
