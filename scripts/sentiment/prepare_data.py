#!/usr/bin/env python3
"""Turns the labeled sets in ../shared/data into clean CSV files (source,text,label) for the
sentiment head: one training file and the held-out evaluation files, which training never sees.

  prepare_data.py SHARED_DATA_DIR OUT_DIR

Held out: SST-2 dev, the Amazon multi-domain dev sets, every airline tweet whose id is
divisible by 5 (about 20%, a split fixed by the data, not by a random seed), and every fifth
Chinese review (rows 5, 10, 15, ... of each file: ChnSentiCorp hotel reviews, waimai reviews,
the online_shopping_10_cats half). Chinese rows are in train.csv as sources zh_*: the heads of
English encoders leave them out (scripts/sentiment/load_data.sh).
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


def read_chinese(path):
    """`label,review` (online_shopping also `cat`); split 4:1 by row number."""
    train, test = [], []
    with open(path, newline="", encoding="utf-8") as f:
        for i, r in enumerate(csv.DictReader(f), start=1):
            text = (r.get("review") or "").strip().lstrip("\ufeff")
            if not text or r["label"].strip() not in BINARY:
                continue
            (test if i % 5 == 0 else train).append((text, BINARY[r["label"].strip()]))
    return train, test


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
    os.makedirs(out, exist_ok=True)
    sst = os.path.join(data, "sentiment/sst2")
    uci = os.path.join(data, "sentiment/uci")
    amazon = os.path.join(data, "reviews/amazon_multidomain")
    domains = ["books", "dvd", "electronics", "kitchen"]
    tweets_train, tweets_test = read_tweets(os.path.join(data, "sentiment/airline_tweets/Tweets.csv"))
    chinese = {name: read_chinese(os.path.join(data, "chinese", f))
               for name, f in (("zh_hotel", "ChnSentiCorp_htl_all.csv"), ("zh_waimai", "waimai_10k.csv"),
                               ("zh_shopping", "online_shopping_10_cats.half.csv"))}

    write(os.path.join(out, "train.csv"),
          [("sst2", read_tsv(os.path.join(sst, "train.tsv")))]
          + [("uci", read_uci(os.path.join(uci, f"{n}_labelled.txt"))) for n in ("amazon_cells", "imdb", "yelp")]
          + [("airline", tweets_train)]
          + [(f"amazon_{d}", read_tsv(os.path.join(amazon, d, "train.tsv"))) for d in domains]
          + [(name, rows[0]) for name, rows in chinese.items()])
    write(os.path.join(out, "sst2_dev.csv"), [("sst2", read_tsv(os.path.join(sst, "dev.tsv")))])
    write(os.path.join(out, "amazon_dev.csv"),
          [(f"amazon_{d}", read_tsv(os.path.join(amazon, d, "dev.tsv"))) for d in domains])
    write(os.path.join(out, "airline_test.csv"), [("airline", tweets_test)])
    write(os.path.join(out, "chinese_test.csv"), [(name, rows[1]) for name, rows in chinese.items()])


if __name__ == "__main__":
    main()
