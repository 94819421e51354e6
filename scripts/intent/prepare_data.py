#!/usr/bin/env python3
"""Builds the training and held-out sets of the intent head (question, complaint, praise, other)
from the labelled sets in ../shared/data, with labels taken from each set's own fields:

  airline tweets   positive -> praise; negative -> complaint (whatever its negativereason, a
                   negative tweet to an airline is a complaint, a question included: "why is my
                   flight still delayed?"); neutral with a question mark -> question; other
                   neutral tweets -> other. Leading @mentions and links are removed, so that the
                   head does not learn Twitter's form.
  Amazon reviews   1 -> praise, 0 -> complaint (the multi-domain set keeps only clear reviews)
  VADER sentences  the Amazon review snippets and tweets rated by 20 people each (VADER_DIR, as
                   the sentiment head reads them): positive -> praise, negative -> complaint,
                   neutral with a question mark -> question, other neutral ones -> other (the
                   statements a review is made of: "I bought it for my daughter")
  shop messages    written for the project (training/intent/shop_messages.tsv, 250 in English
                   and Chinese, all four intents: questions, requests and statements a shop
                   receives, which no registry set holds in Chinese). Every fifth row is held out.
                   None may be a near copy of a text of the evaluation (eval/intent, eval/replies,
                   the demo's texts, which the evaluation shop draws from): checked here, the run
                   stops if one is (restatements in other words were removed by reading,
                   training/README.md).
  Chinese reviews  online_shopping_10_cats half, 1 -> praise, 0 -> complaint: every tenth of the
                   training four fifths. Alone (the first recipe) they taught the head that
                   Chinese text is praise or complaint ("退款多久能到账？" a complaint); without
                   them, beside the written Chinese questions and requests, it read a fifth of
                   Chinese praise as questions. Both together: see docs/models.md.

  prepare_data.py SHARED_DATA_DIR OUT_DIR VADER_DIR

The split of the registry sets is the sentiment head's (scripts/sentiment/prepare_data.py): tweets whose id is
divisible by 5, the Amazon dev sets, VADER's held-out snippets and every fifth Chinese row are
held out (intent_heldout.csv) and never trained on. The shop messages written for the evaluation
(eval/intent/shop_messages.tsv) are the evaluation docs/models.md reports; no training or tuning
reads them.
"""
import csv
import difflib
import glob
import importlib.util
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("sentiment_data", os.path.join(HERE, "..", "sentiment", "prepare_data.py"))
sentiment_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sentiment_data)

LEADING_MENTIONS = re.compile(r"^(\s*@\w+[:,]?)+\s*")
LINKS = re.compile(r"https?://\S+")
REVIEW_INTENT = {"positive": "praise", "negative": "complaint"}


def tweet_intent(sentiment, text):
    if sentiment == "positive":
        return "praise"
    if sentiment == "negative":
        return "complaint"
    return "question" if "?" in text else "other"


def read_tweets(path):
    train, test = [], []
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            text = LINKS.sub("", LEADING_MENTIONS.sub("", r["text"])).strip()
            if len(text) < 3:
                continue
            row = (text, tweet_intent(r["airline_sentiment"], text))
            (test if int(r["tweet_id"]) % 5 == 0 else train).append(row)
    return train, test


def reviews(rows):
    return [(t, REVIEW_INTENT[label]) for t, label in rows]


def rated(rows):
    """VADER's three classes as intents; neutral splits by the question mark."""
    return [(t, tweet_intent(label, t)) for t, label in rows]


def read_written(path):
    """The project's written shop messages, `intent<TAB>text`; every fifth row held out."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = [(r["text"].strip(), r["intent"].strip()) for r in csv.DictReader(f, delimiter="\t")]
    return [r for i, r in enumerate(rows, 1) if i % 5], [r for i, r in enumerate(rows, 1) if i % 5 == 0]


def evaluation_texts(repo):
    """Every text the evaluation reads: the labelled shop messages, the reply messages and the
    demo's reviews (the evaluation shop is drawn from the first and the last)."""
    texts = []
    for path in [os.path.join(repo, "eval/intent/shop_messages.tsv")] + glob.glob(os.path.join(repo, "eval/replies/*.tsv")):
        with open(path, newline="", encoding="utf-8") as f:
            texts += [r[-1] for r in csv.reader(f, delimiter="\t") if r]
    with open(os.path.join(repo, "demo/shop.sql"), encoding="utf-8") as f:
        sql = re.sub(r"--[^\n]*", "", f.read())  # comments hold apostrophes, not texts
    texts += [t.replace("''", "'") for t in re.findall(r"'((?:[^']|'')*)'", sql) if len(t) >= 12]
    return texts


def refuse_near_evaluation(written, evaluation, limit=0.75):
    """Written training text must not be (nearly) one the evaluation reads."""
    near = []
    for t, _ in written:
        m = difflib.SequenceMatcher(None, b=t.lower())
        for e in evaluation:
            m.set_seq1(e.lower())
            if m.real_quick_ratio() > limit and m.quick_ratio() > limit and m.ratio() > limit:
                near.append((t, e))
    if near:
        sys.exit("training/intent/shop_messages.tsv holds texts close to evaluation texts:\n"
                 + "\n".join(f"  {t!r} ~ {e!r}" for t, e in near))


def main():
    data, out, vader_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(out, exist_ok=True)
    amazon = os.path.join(data, "reviews/amazon_multidomain")
    domains = ["books", "dvd", "electronics", "kitchen"]
    tweets_train, tweets_test = read_tweets(os.path.join(data, "sentiment/airline_tweets/Tweets.csv"))
    repo = os.path.join(HERE, "..", "..")
    written_train, written_test = read_written(os.path.join(repo, "training/intent/shop_messages.tsv"))
    refuse_near_evaluation(written_train + written_test, evaluation_texts(repo))
    zh_train, zh_test = sentiment_data.read_chinese(os.path.join(data, "chinese", "online_shopping_10_cats.half.csv"))
    vader = {name: sentiment_data.read_vader(os.path.join(vader_dir, f"{stem}_GroundTruth.txt"))
             for name, stem in (("vader_amazon", "amazonReviewSnippets"), ("vader_tweets", "tweets"))}
    sentiment_data.write(
        os.path.join(out, "intent_train.csv"),
        [("airline", tweets_train)]
        + [(f"amazon_{d}", reviews(sentiment_data.read_tsv(os.path.join(amazon, d, "train.tsv")))) for d in domains]
        + [(name, rated(rows[0])) for name, rows in vader.items()]
        + [("written", written_train)]
        + [("zh_shopping", reviews(zh_train[::10]))])
    sentiment_data.write(
        os.path.join(out, "intent_heldout.csv"),
        [("airline", tweets_test)]
        + [(f"amazon_{d}", reviews(sentiment_data.read_tsv(os.path.join(amazon, d, "dev.tsv")))) for d in domains]
        + [(name, rated(rows[1])) for name, rows in vader.items()]
        + [("zh_shopping", reviews(zh_test))]
        + [("written", written_test)])


if __name__ == "__main__":
    main()
