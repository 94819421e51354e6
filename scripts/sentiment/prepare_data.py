#!/usr/bin/env python3
"""Turns the labeled sets in ../shared/data into clean CSV files (source,text,label) for the
sentiment head: one training file and the held-out evaluation files, which training never sees.

  prepare_data.py SHARED_DATA_DIR OUT_DIR [VADER_DIR]

Held out: SST-2 dev, the Amazon multi-domain dev sets, every airline tweet whose id is
divisible by 5 (about 20%, a split fixed by the data, not by a random seed), and every fifth
Chinese review (rows 5, 10, 15, ... of each file: ChnSentiCorp hotel reviews, waimai reviews,
the online_shopping_10_cats half; its product categories go to zh_category_{train,test}.csv
with the same split). Chinese rows are in train.csv as sources zh_*: the heads of
English encoders leave them out (scripts/sentiment/load_data.sh).

VADER_DIR (optional) holds the ground truth of Hutto & Gilbert, ICWSM 2014 (in the vaderSentiment
3.3.2 source distribution on PyPI, MIT): sentences of Amazon reviews, tweets, New York Times
editorials and movie reviews, each rated -4 .. +4 by 20 people. It is the honest source of the
neutral class beside the airline tweets: a mean within +-0.5 is neutral, beyond +-1.0 negative or
positive. Every snippet of a review or article whose number is divisible by 5 is held out.
"""
import csv
import os
import sys

BINARY = {"0": "negative", "1": "positive"}


def read_tsv(path):
    """`sentence\\tlabel` with a header; fields may be quoted and span lines."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    return [(r[0], BINARY[r[1].strip()]) for r in rows[1:] if len(r) >= 2]


def read_uci(path):
    """UCI sentences: no header, no quoting; split on '\\n' only (the imdb file holds U+0085)."""
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    out = []
    for line in lines:
        if "\t" in line:
            text, label = line.rsplit("\t", 1)
            if label.strip() in BINARY:
                out.append((text.strip(), BINARY[label.strip()]))
    return out


def read_tweets(path):
    train, test = [], []
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            row = (r["text"], r["airline_sentiment"])
            (test if int(r["tweet_id"]) % 5 == 0 else train).append(row)
    return train, test


def read_chinese(path, column="label"):
    """`label,review` (online_shopping also `cat`); split 4:1 by row number. `column` picks the
    label: "label" (sentiment) or "cat" (the product category, online_shopping only)."""
    train, test = [], []
    with open(path, newline="", encoding="utf-8") as f:
        for i, r in enumerate(csv.DictReader(f), start=1):
            text = (r.get("review") or "").strip().lstrip("\ufeff")
            if not text or r["label"].strip() not in BINARY:
                continue
            label = BINARY[r["label"].strip()] if column == "label" else r[column].strip()
            (test if i % 5 == 0 else train).append((text, label))
    return train, test


# VADER's human ratings (mean of 20 raters, -4 .. +4): a clear band each side, a neutral band
# round zero; sentences between the bands are left out (raters split between neutral and a side).
VADER_NEUTRAL, VADER_POLAR = 0.5, 1.0
VADER_SETS = {"vader_amazon": "amazonReviewSnippets", "vader_tweets": "tweets",
              "vader_nyt": "nytEditorialSnippets", "vader_movies": "movieReviewSnippets"}


def read_vader(path):
    """`id\tmean rating\ttext`; held out: every snippet of a review or article (tweets: a tweet)
    whose number is divisible by 5, so no document has sentences on both sides."""
    train, test = [], []
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        for line in f.read().replace("\r\n", "\n").split("\n"):
            parts = line.split("\t", 2)
            if len(parts) < 3 or not parts[2].strip():
                continue
            mean = float(parts[1])
            if abs(mean) < VADER_NEUTRAL:
                label = "neutral"
            elif abs(mean) >= VADER_POLAR:
                label = "positive" if mean > 0 else "negative"
            else:
                continue
            (test if int(parts[0].split("_")[0]) % 5 == 0 else train).append((parts[2].strip(), label))
    return train, test


def normalised(text):
    return " ".join(text.lower().split())


def write(path, source_rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["source", "text", "label"])
        n = 0
        for source, rows in source_rows:
            for text, label in rows:
                w.writerow([source, text, label])
                n += 1
    print(f"{path}: {n} rows", file=sys.stderr)


def main():
    data, out = sys.argv[1], sys.argv[2]
    vader_dir = sys.argv[3] if len(sys.argv) > 3 else None
    os.makedirs(out, exist_ok=True)
    sst = os.path.join(data, "sentiment/sst2")
    uci = os.path.join(data, "sentiment/uci")
    amazon = os.path.join(data, "reviews/amazon_multidomain")
    domains = ["books", "dvd", "electronics", "kitchen"]
    tweets_train, tweets_test = read_tweets(os.path.join(data, "sentiment/airline_tweets/Tweets.csv"))
    chinese = {name: read_chinese(os.path.join(data, "chinese", f))
               for name, f in (("zh_hotel", "ChnSentiCorp_htl_all.csv"), ("zh_waimai", "waimai_10k.csv"),
                               ("zh_shopping", "online_shopping_10_cats.half.csv"))}

    # three-class sentences rated by people (VADER's ground truth), without any sentence that is
    # also in a held-out set
    vader = {name: read_vader(os.path.join(vader_dir, f"{stem}_GroundTruth.txt"))
             for name, stem in VADER_SETS.items()} if vader_dir else {}
    heldout = {normalised(t) for t, _ in read_tsv(os.path.join(sst, "dev.tsv")) + tweets_test}
    heldout |= {normalised(t) for d in domains for t, _ in read_tsv(os.path.join(amazon, d, "dev.tsv"))}
    heldout |= {normalised(t) for rows in vader.values() for t, _ in rows[1]}
    vader = {name: ([r for r in rows[0] if normalised(r[0]) not in heldout], rows[1]) for name, rows in vader.items()}

    write(os.path.join(out, "train.csv"),
          [("sst2", read_tsv(os.path.join(sst, "train.tsv")))]
          + [("uci", read_uci(os.path.join(uci, f"{n}_labelled.txt"))) for n in ("amazon_cells", "imdb", "yelp")]
          + [("airline", tweets_train)]
          + [(f"amazon_{d}", read_tsv(os.path.join(amazon, d, "train.tsv"))) for d in domains]
          + [(name, rows[0]) for name, rows in chinese.items()]
          + [(name, rows[0]) for name, rows in vader.items()])
    write(os.path.join(out, "sst2_dev.csv"), [("sst2", read_tsv(os.path.join(sst, "dev.tsv")))])
    write(os.path.join(out, "amazon_dev.csv"),
          [(f"amazon_{d}", read_tsv(os.path.join(amazon, d, "dev.tsv"))) for d in domains])
    write(os.path.join(out, "airline_test.csv"), [("airline", tweets_test)])
    write(os.path.join(out, "chinese_test.csv"), [(name, rows[1]) for name, rows in chinese.items()])
    write(os.path.join(out, "vader_test.csv"), [(name, rows[1]) for name, rows in vader.items()])
    # the product category of the same shopping reviews, split by the same rows
    categories = read_chinese(os.path.join(data, "chinese", "online_shopping_10_cats.half.csv"), "cat")
    write(os.path.join(out, "zh_category_train.csv"), [("zh_shopping", categories[0])])
    write(os.path.join(out, "zh_category_test.csv"), [("zh_shopping", categories[1])])


if __name__ == "__main__":
    main()
