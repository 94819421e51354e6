"""The language-detection evaluation set: the reviews in scripts/language/reviews.tsv (French,
German, Spanish, Italian, Japanese, Korean, Russian; written for the project), 100 Chinese
reviews (every 40th of the hotel and the waimai reviews, 20 to 200 characters) and 100 English
ones (every 15th of the UCI Amazon and Yelp sentences, 20 to 200 characters). None of it trains
anything: the detector is whatlang's, as its crate ships it.
    prepare.py SHARED_DATA OUT.csv"""
import csv
import os
import sys

shared, out = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
rows = []
with open(os.path.join(here, "reviews.tsv"), encoding="utf-8") as f:
    for r in csv.DictReader(f, delimiter="\t"):
        rows.append((r["language"], r["text"], "written"))


def short(text):
    return 20 <= len(text) <= 200


for name in ("ChnSentiCorp_htl_all.csv", "waimai_10k.csv"):
    with open(os.path.join(shared, "chinese", name), encoding="utf-8") as f:
        texts = [r["review"].strip() for r in csv.DictReader(f) if r["review"] and short(r["review"].strip())]
    rows += [("zh", t, name) for t in texts[::40][:50]]
for name in ("amazon_cells_labelled.txt", "yelp_labelled.txt"):
    with open(os.path.join(shared, "sentiment", "uci", name), encoding="utf-8") as f:
        texts = [line.rsplit("\t", 1)[0].strip() for line in f.read().split("\n") if "\t" in line]
    rows += [("en", t, name) for t in [t for t in texts if short(t)][::15][:50]]
with open(out, "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["language", "text", "source"])
    w.writerows(rows)
print(f"{len(rows)} texts", file=sys.stderr)
