"""Derives the encoder the extension runs, model.int8.onnx, from the published model.onnx.

The published all-MiniLM-L6-v2 graph stores its weights as int8 but multiplies them back to fp32
when ONNX Runtime loads it, so every matrix multiplication runs in fp32 and every backend holds
an fp32 copy of the weights. This script rewrites each multiplication by a weight for int8
arithmetic (MatMulInteger, u8 x s8: the VNNI instructions of the CPU):
  * weights quantised symmetrically per output column;
  * activations quantised symmetrically per token, at run time. Per token, not per tensor (what
    onnxruntime's quantize_dynamic does): a per-tensor scale is shared by every text of a batch,
    which makes a text's vector depend on the texts batched with it; and the outlier tokens
    ([CLS], [SEP]) of short texts took their cosine to the reference down to 0.84;
  * smoothing (SmoothQuant): each multiplication's input is divided per channel by s and the
    weight's rows multiplied by s, moving the activations' outlier channels into the weights;
    exact in real arithmetic. The factors are measured once on real reviews and committed.
The word embedding table is stored as int8 with a scale per row. Products that share an input
(query, key, value) share its quantisation, and each layer's attention core runs as one
MultiHeadAttention kernel (ONNX Runtime's contrib op) instead of a dozen small ones: 25% more
texts per second on one thread than the graph without these two (docs/operations.md, Set-up). The
quantisation rounds by its cast to uint8 (no Round kernel), and the smoothing of the attention
output projection is folded into the value projection (fold_context_smoothing): 2-10% more
(docs/operations.md, Set-up); each feed-forward bias and GELU runs as one BiasGelu kernel (fuse_gelu): 8% more.

    build MANIFEST SOURCE FACTORS OUT
        applies the committed smoothing factors; deterministic (the set-up checks the result's
        sha256)
    calibrate MANIFEST DATA SOURCE TOKENIZER OUT
        measures the activations on real reviews and writes the smoothing factors
        (models/ENCODER/int8.json)

MANIFEST is the encoder's models/ENCODER/manifest.json: its layers, attention heads, width, input
prefix and the layers the graph exposes (exposed_layers).

Needs onnx and onnxruntime (the set-up installs pinned wheels for it).
"""

import csv
import json
import os
import random
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

# The manifest's exposed_layers: encoder layers whose outputs the derived graph exposes beside
# last_hidden_state, as hidden_layer_K: classifier heads can read the mean of their tokens too
# (option "encoder_layers" of train_classifier); the middle layers keep more of a sentence's
# sentiment than the last one, which sentence encoders are trained for similarity.
ALPHA = 0.65  # migration strength: of 0.5, 0.65, 0.8 the closest to the reference vectors
CALIBRATION_TEXTS = 200


def fold(source, folded):
    """Lets ONNX Runtime fold the int8 -> fp32 weight casts into plain fp32 initialisers."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.optimized_model_filepath = folded
    ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])


def weight_matmuls(model):
    """The initialisers by name, and the multiplications by a weight grouped by their input."""
    inits = {i.name: i for i in model.graph.initializer}
    groups = {}
    for node in model.graph.node:
        if node.op_type == "MatMul" and node.input[1] in inits:
            groups.setdefault(node.input[0], []).append(node)
    return inits, groups


def read_manifest(path):
    with open(path) as f:
        return json.load(f)


def calibration_texts(shared_data, manifest):
    """Amazon reviews and airline tweets; Chinese reviews too for a multilingual encoder."""
    texts = []
    for cat in ("books", "dvd", "electronics", "kitchen"):
        with open(os.path.join(shared_data, "reviews/amazon_multidomain", cat, "train.tsv"), newline="") as f:
            texts += [row["sentence"] for row in csv.DictReader(f, delimiter="\t")]
    with open(os.path.join(shared_data, "sentiment/airline_tweets/Tweets.csv"), newline="") as f:
        texts += [row["text"] for row in csv.DictReader(f)]
    random.Random(99).shuffle(texts)
    if manifest["languages"] == ["en"]:
        return texts[:CALIBRATION_TEXTS]
    chinese = []
    for name in ("ChnSentiCorp_htl_all.csv", "waimai_10k.csv", "online_shopping_10_cats.half.csv"):
        with open(os.path.join(shared_data, "chinese", name), newline="") as f:
            chinese += [row["review"] for row in csv.DictReader(f) if row.get("review")]
    random.Random(99).shuffle(chinese)
    return texts[:CALIBRATION_TEXTS // 2] + chinese[:CALIBRATION_TEXTS // 2]


def calibrate(manifest_file, shared_data, source, tokenizer, out):
    manifest = read_manifest(manifest_file)
    texts = calibration_texts(shared_data, manifest)

    from tokenizers import Tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        folded = os.path.join(tmp, "folded.onnx")
        fold(source, folded)
        model = onnx.load(folded)
        inits, groups = weight_matmuls(model)
        smoothed = list(groups)
        for a in smoothed:
            model.graph.output.append(helper.make_tensor_value_info(a, TensorProto.FLOAT, None))
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(tokenizer)
    tok.no_padding()
    tok.enable_truncation(256)
    amax = {a: np.zeros(0) for a in smoothed}
    for text in texts:
        ids = np.array([tok.encode(manifest["input_prefix"] + text).ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if manifest["token_type_ids"]:
            feeds["token_type_ids"] = np.zeros_like(ids)
        for a, r in zip(smoothed, session.run(smoothed, feeds)):
            m = np.abs(r.reshape(-1, r.shape[-1])).max(0)
            amax[a] = m if amax[a].size == 0 else np.maximum(amax[a], m)
    factors = {}
    for a in smoothed:
        wmax = np.max([np.abs(numpy_helper.to_array(inits[n.input[1]])).max(1) for n in groups[a]], axis=0)
        s = np.clip(amax[a] ** ALPHA / np.maximum(wmax, 1e-5) ** (1 - ALPHA), 1e-2, 1e2)
        factors[a] = [float(f"{v:.4g}") for v in s]
    doc = {
        "what": "SmoothQuant factors for model.int8.onnx (scripts/quantize_model.py)",
        "alpha": ALPHA,
        "calibration": f"{CALIBRATION_TEXTS} texts: Amazon multi-domain train reviews and airline tweets"
                       + ("" if manifest["languages"] == ["en"] else "; half of them Chinese hotel, waimai and shopping reviews") + ", seed 99",
        "factors": factors,
    }
    with open(out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


def const(model, name, array):
    model.graph.initializer.append(numpy_helper.from_array(array, name))
    return name


def quantize_input(model, name, x, factors):
    """The nodes quantising x for int8 products, smoothed by factors: x_q (uint8) and its scale
    per token. Products that share an input (query, key and value) share these nodes."""
    p = name
    inverse = const(model, p + "_smooth_inv", (1.0 / factors).astype(np.float32))
    nodes = [helper.make_node("Mul", [x, inverse], [p + "_smoothed"])]
    x = p + "_smoothed"
    # per token: scale = max|x| / 127, q = round(x / scale) + 128 as uint8 (zero point 128).
    # Rounded as floor(x / scale + 128.5): Cast to uint8 truncates and the sum is positive, so no
    # Round kernel (a full pass); a multiplication by 127 / max|x| instead of a division per value.
    # (QuantizeLinear with a scale per row does the same and measured 4% slower)
    nodes += [
        helper.make_node("Abs", [x], [p + "_abs"]),
        helper.make_node("ReduceMax", [p + "_abs"], [p + "_amax"], axes=[-1], keepdims=1),
        helper.make_node("Max", [p + "_amax", const(model, p + "_eps", np.array(1e-8, np.float32))], [p + "_amax_pos"]),
        helper.make_node("Div", [p + "_amax_pos", const(model, p + "_127", np.array(127.0, np.float32))], [p + "_x_scale"]),
        helper.make_node("Div", [p + "_127", p + "_amax_pos"], [p + "_x_inv_scale"]),
        helper.make_node("Mul", [x, p + "_x_inv_scale"], [p + "_x_scaled"]),
        helper.make_node("Add", [p + "_x_scaled", const(model, p + "_128_5", np.array(128.5, np.float32))], [p + "_x_shift"]),
        helper.make_node("Cast", [p + "_x_shift"], [p + "_x_q"], to=TensorProto.UINT8),
    ]
    return nodes, p + "_x_q", p + "_x_scale"


def int8_matmul(model, node, weight, factors, x_q, x_scale):
    """The nodes computing node's output with int8 arithmetic from its quantised input."""
    p, out = node.name, node.output[0]
    weight = weight * factors[:, None]
    w_scale = np.maximum(np.abs(weight).max(0), 1e-8) / 127.0
    w_q = np.round(weight / w_scale).astype(np.int8)
    # (DequantizeLinear per column in place of Cast and the second Mul measured 14% slower, the
    # com.microsoft MatMulIntegerToFloat kernel with a scale per token 8% slower)
    return [
        helper.make_node("MatMulInteger", [x_q, const(model, p + "_w_q", w_q), const(model, p + "_zp", np.array(128, np.uint8))], [p + "_acc"]),
        helper.make_node("Cast", [p + "_acc"], [p + "_acc_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", [p + "_acc_f", x_scale], [p + "_y"]),
        helper.make_node("Mul", [p + "_y", const(model, p + "_w_scale", w_scale.astype(np.float32))], [out]),
    ]


def int8_gather(model, node, table):
    """A Gather from the word embedding table, stored as int8 rows with a scale each."""
    p = node.name
    scale = np.maximum(np.abs(table).max(1, keepdims=True), 1e-8) / 127.0
    q = np.round(table / scale).astype(np.int8)
    ids = node.input[1]
    return [
        helper.make_node("Gather", [const(model, p + "_q", q), ids], [p + "_rows_q"], axis=0),
        helper.make_node("Cast", [p + "_rows_q"], [p + "_rows"], to=TensorProto.FLOAT),
        helper.make_node("Gather", [const(model, p + "_scale", scale.astype(np.float32)), ids], [p + "_row_scale"], axis=0),
        helper.make_node("Mul", [p + "_rows", p + "_row_scale"], [node.output[0]]),
    ]


def links(nodes):
    """The node that makes each tensor, and the nodes that read it."""
    made_by = {o: n for n in nodes for o in n.output}
    consumers = {}
    for n in nodes:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    return made_by, consumers


def drop_nan_guards(nodes):
    """Removes Where(IsNaN(softmax), 0, softmax) after each attention softmax, leaving the plain
    pattern fuse_attention replaces. The export guards rows whose every key is masked; [CLS]
    never is, so no row is."""
    made_by, _ = links(nodes)
    renamed, dropped = {}, set()
    for n in nodes:
        if n.op_type != "Where" or n.input[0] not in made_by:
            continue
        guard = made_by[n.input[0]]
        if guard.op_type == "IsNaN" and guard.input[0] == n.input[2] and made_by[n.input[2]].op_type == "Softmax":
            renamed[n.output[0]] = n.input[2]
            dropped.update((id(n), id(guard)))
    kept = [n for n in nodes if id(n) not in dropped]
    for n in kept:
        for i, name in enumerate(n.input):
            if name in renamed:
                n.input[i] = renamed[name]
    return kept


def fuse_attention(nodes, inits, manifest):
    """Replaces each layer's attention, from the projected query, key and value to the context
    vectors (reshapes and transposes into heads, scaling, scores, mask, softmax, weighted sum and
    back), by one com.microsoft MultiHeadAttention node with the key padding mask: a dozen
    kernels per layer become one, and the mask arithmetic shared by all layers goes away."""
    made_by, consumers = links(nodes)

    def only(name, op):
        c = consumers.get(name, [])
        if len(c) != 1 or c[0].op_type != op:
            sys.exit("unexpected attention pattern: %s is not only read by a %s" % (name, op))
        return c[0]

    def projection(name):
        """The bias Add behind name, back through the head split (Reshape, Transpose) and
        scaling (Mul by a constant), and the product of those scales."""
        scale = 1.0
        while made_by[name].op_type in ("Reshape", "Transpose", "Mul"):
            n = made_by[name]
            if n.op_type == "Mul":
                scale *= float(numpy_helper.to_array(inits[n.input[1]]))
            name = n.input[0]
        add = made_by[name]
        if add.op_type != "Add" or not any(i in inits for i in add.input):
            sys.exit("unexpected attention pattern: %s is not a projection" % name)
        return name, scale

    mask = "attention_mask_int32"
    fused, replaced = [], {}
    for softmax in [n for n in nodes if n.op_type == "Softmax"]:
        weighted = only(softmax.output[0], "MatMul")
        merged = only(only(weighted.output[0], "Transpose").output[0], "Reshape")
        scores = made_by[made_by[softmax.input[0]].input[0]]
        if scores.op_type != "MatMul":
            sys.exit("unexpected attention pattern: no score product before %s" % softmax.name)
        (q, q_scale), (k, k_scale), (v, v_scale) = (projection(t) for t in (scores.input[0], scores.input[1], weighted.input[1]))
        # MultiHeadAttention scales the scores by 1/sqrt(head size), as the export does (it
        # scales query and key by its square root each)
        heads = manifest["attention_heads"]
        if abs(q_scale * k_scale * np.sqrt(manifest["dimensions"] / heads) - 1) > 1e-5 or v_scale != 1.0:
            sys.exit("unexpected attention pattern: the scores are not scaled by 1/sqrt(head size)")
        replaced[id(merged)] = helper.make_node(
            "MultiHeadAttention", [q, k, v, "", mask], [merged.output[0]],
            name=merged.name + "_attention", domain="com.microsoft", num_heads=heads)
        fused.append(softmax.name)
    if len(fused) != manifest["layers"]:
        sys.exit("expected %d attention layers, found %d" % (manifest["layers"], len(fused)))
    cast = helper.make_node("Cast", ["attention_mask"], [mask], name="attention_mask_int32", to=TensorProto.INT32)
    return [cast] + [replaced.get(id(n), n) for n in nodes]


def fold_context_smoothing(model, nodes):
    """Folds the smoothing of each attention output projection's input (the context vectors)
    into the value projection: context channel c is a mix of value channel c alone, so dividing
    value channel c's weight scale and bias by s_c divides the context by s_c. One multiplication
    pass per layer fewer; the same arithmetic."""
    inits = {i.name: i for i in model.graph.initializer}
    made_by, consumers = links(nodes)

    def scale_init(name, factor):
        inits[name].CopyFrom(numpy_helper.from_array((numpy_helper.to_array(inits[name]) * factor).astype(np.float32), name))

    dropped = set()
    for attention in [n for n in nodes if n.op_type == "MultiHeadAttention"]:
        (smooth,) = consumers[attention.output[0]]
        bias_add = made_by[attention.input[2]]
        (bias,) = [i for i in bias_add.input if i in inits]
        (product,) = [made_by[i] for i in bias_add.input if i not in inits]
        w_scale = product.input[1]
        if smooth.op_type != "Mul" or smooth.input[1] not in inits or product.op_type != "Mul" or w_scale not in inits:
            sys.exit("unexpected pattern: the context of %s is not smoothed as quantize_input does" % attention.name)
        inverse = numpy_helper.to_array(inits[smooth.input[1]])
        scale_init(bias, inverse)
        scale_init(w_scale, inverse)
        for c in consumers[smooth.output[0]]:
            for k, i in enumerate(c.input):
                if i == smooth.output[0]:
                    c.input[k] = attention.output[0]
        dropped.add(id(smooth))
    return [n for n in nodes if id(n) not in dropped]


def fuse_gelu(nodes, inits, manifest):
    """Replaces each feed-forward block's bias Add and exact GELU (x * 0.5 * (1 + erf(x / sqrt 2)),
    five elementwise kernels over the 1536-wide activations, which ONNX Runtime's own fusion
    does not match in this order) by one com.microsoft BiasGelu node: one pass instead of six,
    8% more texts per second on one thread; the same function."""
    made_by, consumers = links(nodes)
    replaced, dropped = {}, set()
    for erf in [n for n in nodes if n.op_type == "Erf"]:
        div = made_by[erf.input[0]]
        (plus_one,) = consumers[erf.output[0]]
        (half,) = consumers[plus_one.output[0]]
        (times_x,) = consumers[half.output[0]]
        x = div.input[0]
        bias_add = made_by[x]
        biases = [i for i in bias_add.input if i in inits]
        if [div.op_type, plus_one.op_type, half.op_type, times_x.op_type] != ["Div", "Add", "Mul", "Mul"] \
                or x not in times_x.input or bias_add.op_type != "Add" or len(biases) != 1 \
                or sorted(id(c) for c in consumers[x]) != sorted((id(div), id(times_x))):
            sys.exit("unexpected GELU pattern at %s" % erf.name)
        (product,) = [i for i in bias_add.input if i not in inits]
        replaced[id(times_x)] = helper.make_node(
            "BiasGelu", [product, biases[0]], [times_x.output[0]], name=times_x.name + "_bias_gelu", domain="com.microsoft")
        dropped.update(id(n) for n in (bias_add, div, erf, plus_one, half))
    if len(replaced) != manifest["layers"]:
        sys.exit("expected %d GELUs, found %d" % (manifest["layers"], len(replaced)))
    return [replaced.get(id(n), n) for n in nodes if id(n) not in dropped]


def live(nodes, outputs):
    """The nodes that contribute to the graph's outputs, in their order."""
    needed, kept = set(outputs), []
    for n in reversed(nodes):
        if any(o in needed for o in n.output):
            kept.append(n)
            needed.update(i for i in n.input if i)
    return kept[::-1]


def expose_layers(model, manifest):
    """Adds an output hidden_layer_K for each of the manifest's exposed_layers. Each BERT layer
    ends in two LayerNormalizations (after attention, after the feed-forward block) and the
    embeddings in one, so layer K's output is that of the (2K)-th, counting the embeddings' as
    the 0th."""
    norms = [n.output[0] for n in model.graph.node if n.op_type == "LayerNormalization"]
    if len(norms) != 2 * manifest["layers"] + 1 or norms[-1] != "last_hidden_state":
        sys.exit("the graph is not a %d-layer BERT ending in last_hidden_state" % manifest["layers"])
    for k in manifest["exposed_layers"]:
        name = "hidden_layer_%d" % k
        model.graph.node.append(helper.make_node("Identity", [norms[2 * k]], [name], name=name))
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", "sequence", manifest["dimensions"]]))


def build(manifest_file, source, factors_file, out):
    manifest = read_manifest(manifest_file)
    with open(factors_file) as f:
        factors = {a: np.array(v, dtype=np.float32) for a, v in json.load(f)["factors"].items()}
    with tempfile.TemporaryDirectory() as tmp:
        folded = os.path.join(tmp, "folded.onnx")
        fold(source, folded)
        model = onnx.load(folded)
    inits, groups = weight_matmuls(model)
    if set(factors) != set(groups):
        sys.exit("the smoothing factors do not name this graph's products: run calibrate for it")
    nodes = []
    quantized = {}
    for node in model.graph.node:
        if node.op_type == "MatMul" and node.input[1] in inits:
            x = node.input[0]
            if x not in quantized:
                q_nodes, x_q, x_scale = quantize_input(model, node.name, x, factors[x])
                nodes += q_nodes
                quantized[x] = (x_q, x_scale)
            weight = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
            nodes += int8_matmul(model, node, weight, factors[x], *quantized[x])
        elif node.op_type == "Gather" and node.input[0] in inits and len(inits[node.input[0]].dims) == 2 \
                and inits[node.input[0]].dims[0] > 10000:
            nodes += int8_gather(model, node, numpy_helper.to_array(inits[node.input[0]]).astype(np.float32))
        else:
            nodes.append(node)
    nodes = fold_context_smoothing(model, fuse_attention(drop_nan_guards(nodes), inits, manifest))
    nodes = fuse_gelu(nodes, inits, manifest)
    nodes = live(nodes, [o.name for o in model.graph.output])
    used = {i for n in nodes for i in n.input}
    kept = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    expose_layers(model, manifest)
    onnx.checker.check_model(model)
    onnx.save(model, out)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "build":
        build(*sys.argv[2:])
    elif len(sys.argv) == 7 and sys.argv[1] == "calibrate":
        calibrate(*sys.argv[2:])
    else:
        sys.exit(__doc__)
