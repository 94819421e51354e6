#!/usr/bin/env python3
"""custprofile benchmark: the Python onnxruntime baseline and the extension, side by side in one run.

Run through bench/run.sh, which installs everything and starts the private cluster. Measures, on
the same review texts, the same tokenizer and one intra-op thread:
  A  Python onnxruntime + tokenizers, one text per run, mean pooling, on the plain graph of the
     encoder (--encoder): all-MiniLM-L6-v2's published model.onnx, multilingual-e5-small's
     dequantised fp32 graph (scripts/e5_to_onnx.py), with the encoder's input prefix
  B  the same with length-sorted batches (the fastest size of 4, 8, 16, 32)
  A_int8  A on the extension's model.int8.onnx (not a target: tells the model's share of a ratio)
  C  SELECT custprofile.embed_text(body) FROM reviews
  D  custprofile.embed_texts over the whole column
  E  custprofile.sentiment over the column; profile_agg grouped by customer
  F  E with two parallel workers doing the work (parallel_leader_participation off)
  G  CALL custprofile.refresh_profiles() from scratch, then after 1% of the texts changed, then
     from scratch again by two sessions at once (batches claimed with SKIP LOCKED)
E, F and G need the encoder's built-in sentiment head and are left out for an encoder without one.
A to F run in interleaved rounds (--rounds, 5 by default), each on a share of the customers, so
that the machine's drifting speed is spread over all of them. Then G, and
a backend's resident memory before and after the model loads, the memory of 20 concurrent
connections using the model, and the first-call latency in a new connection. Prints texts per second and every ratio to A; writes bench/results/latest.json.
"""
import argparse
import csv
import json
import os
import platform
import random
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DB = "custprofile_bench"


def psql(sql, db=DB, timing=False):
    """Runs SQL in a fresh connection; with timing, returns the milliseconds of the last statement."""
    script = sql if not timing else "SELECT custprofile.warmup();\n\\timing on\n" + sql
    out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", db],
                         input=script, check=True, capture_output=True, text=True).stdout
    if timing:
        return float(re.findall(r"Time: ([0-9.]+) ms", out)[-1])
    return out


def load_texts(data_dir, n, seed):
    """Real reviews with their real length spread: the Amazon multi-domain reviews (long) and
    the airline tweets (short), shuffled with a fixed seed."""
    texts = []
    for cat in ("books", "dvd", "electronics", "kitchen"):
        for split in ("train", "dev"):
            with open(os.path.join(data_dir, "reviews/amazon_multidomain", cat, f"{split}.tsv"), newline="") as f:
                for row in csv.DictReader(f, delimiter="\t"):
                    texts.append(row["sentence"])
    with open(os.path.join(data_dir, "sentiment/airline_tweets/Tweets.csv"), newline="") as f:
        for row in csv.DictReader(f):
            texts.append(row["text"])
    rng = random.Random(seed)
    rng.shuffle(texts)
    while len(texts) < n:
        texts += texts[: n - len(texts)]
    return texts[:n]


def baseline(texts, model_dir, batch, model="model.onnx", prefix=""):
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(model if os.path.isabs(model) else os.path.join(model_dir, model), opts,
                                   providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)
    names = [i.name for i in session.get_inputs()]

    def run(encodings):
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(None, feeds)[0]
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(1) / m.sum(1)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    start = time.perf_counter()
    if batch == 1:
        for t in texts:
            run([tok.encode(prefix + t)])
    else:
        encodings = tok.encode_batch([prefix + t for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for s in range(0, len(order), batch):
            run([encodings[i] for i in order[s : s + batch]])
    return time.perf_counter() - start


MEMORY_SQL = "SELECT pg_read_file('/proc/self/status') || pg_read_file('/proc/self/smaps_rollup');"


def rss_kb(status):
    """VmRSS, VmHWM (from /proc/self/status), Pss and Private (Private_Clean + Private_Dirty, the
    pages no other process shares) from smaps_rollup, when given, in kB."""
    m = {k: int(v.split()[0]) for k, v in re.findall(r"^(VmRSS|VmHWM|Pss|Private_Clean|Private_Dirty):\s+(.*)$", status, re.M)}
    if "Private_Clean" in m:
        m["Private"] = m.pop("Private_Clean") + m.pop("Private_Dirty")
    return m


def postmaster_status():
    """The postmaster's smaps_rollup (the benchmark runs on the server's machine)."""
    data = psql("SHOW data_directory").strip()
    with open(os.path.join(data, "postmaster.pid")) as f:
        pid = f.readline().strip()
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return f.read()


def restart_server(preload, encoder):
    """Restarts the private cluster with custprofile in shared_preload_libraries (preloading the
    benchmark's encoder) or without."""
    env = dict(os.environ, CUSTPROFILE_PRELOAD="on" if preload else "off",
               CUSTPROFILE_SERVER_OPTIONS=f"-c custprofile.encoder={encoder}")
    for action in ("stop", "start"):
        subprocess.run(["bash", os.path.join(ROOT, "scripts/cluster.sh"), action], check=True, env=env,
                       stdout=subprocess.DEVNULL)


def memory_and_first_call(mode):
    """A backend's memory before and after its first model call and after 500 embeddings, 20
    concurrent connections using the model, and the first call's latency in new connections."""
    loaded = psql("SELECT loaded FROM custprofile.models WHERE task = 'embedding' AND active;").strip()
    if loaded != ("t" if mode == "preloaded" else "f"):
        raise RuntimeError(f"{mode}: a new connection reports the encoder loaded = {loaded}")
    before = rss_kb(psql(MEMORY_SQL))
    after = rss_kb(psql("SELECT custprofile.warmup(); " + MEMORY_SQL).split("\n", 1)[1])
    used = rss_kb(psql("SELECT count(custprofile.embed_text(body)) FROM (SELECT body FROM reviews ORDER BY id LIMIT 500) s; "
                       + MEMORY_SQL).split("\n", 1)[1])

    def first_call_ms():
        out = subprocess.run(["psql", "-X", "-q", "-At", "-d", DB],
                             input="\\timing on\nSELECT custprofile.embed_text('first call') IS NOT NULL;",
                             check=True, capture_output=True, text=True).stdout
        return float(re.findall(r"Time: ([0-9.]+) ms", out)[-1])

    first_call = [first_call_ms() for _ in range(3)]
    # a connection that runs no model call: the cost of forking from a postmaster that holds the
    # encoder, and of the exit (nothing of the cache is freed at exit)
    t0 = time.perf_counter()
    for _ in range(20):
        psql("SELECT 1;")
    connection_ms = (time.perf_counter() - t0) / 20 * 1000
    concurrent = concurrent_memory(20)
    memory = {"before_load": before, "after_load": after, "after_500_embeddings": used,
              "added_by_load": after["VmRSS"] - before["VmRSS"],
              "private_added_after_500": used["Private"] - before["Private"], "concurrent": concurrent}
    print(f"  {mode}: RSS {before['VmRSS'] // 1024} MB in a new connection, {after['VmRSS'] // 1024} MB after the "
          f"first model call (+{(after['VmRSS'] - before['VmRSS']) // 1024} MB; peak {after['VmHWM'] // 1024} MB), "
          f"{used['VmRSS'] // 1024} MB after 500 embeddings; private (unshared) pages +"
          f"{(used['Private'] - before['Private']) // 1024} MB")
    print(f"  {mode}: {concurrent['connections']} concurrent connections using the model: RSS {concurrent['rss_min'] // 1024}-"
          f"{concurrent['rss_max'] // 1024} MB each, private {concurrent['private_min'] // 1024}-"
          f"{concurrent['private_max'] // 1024} MB each, proportional set size (shared pages split) "
          f"{concurrent['pss_total'] // 1024} MB in all, {concurrent['pss_total'] // concurrent['connections'] // 1024} MB each; "
          f"an idle connection: RSS {concurrent['idle_rss'] // 1024} MB, PSS {concurrent['idle_pss'] // 1024} MB; "
          f"postmaster PSS {concurrent['postmaster_pss'] // 1024} MB")
    print(f"  {mode}: first call in a new connection: {', '.join(f'{x:.0f}' for x in first_call)} ms; "
          f"a connection running SELECT 1 (psql start to exit, 20 in a row): {connection_ms:.0f} ms each", flush=True)
    return memory, {"first_embed_text_in_new_connection_ms": first_call, "select_1_connection_ms": round(connection_ms, 1)}


def concurrent_memory(n):
    """n connections at once, each loading the model and embedding 20 texts, then reporting its own
    memory while all are still open (each waits until every one has embedded)."""
    psql("DROP TABLE IF EXISTS mem_ready; CREATE UNLOGGED TABLE mem_ready (pid int)")
    script = ("SELECT count(custprofile.embed_text(body)) FROM (SELECT body FROM reviews ORDER BY id LIMIT 20) s;\n"
              "INSERT INTO mem_ready VALUES (pg_backend_pid());\n"
              f"DO $$ BEGIN WHILE (SELECT count(*) FROM mem_ready) < {n} LOOP PERFORM pg_sleep(0.2); END LOOP; END $$;\n"
              f"{MEMORY_SQL}\n"
              "SELECT pg_sleep(1);\n")
    procs = [subprocess.Popen(["psql", "-X", "-q", "-At", "-d", DB], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(n)]
    for p in procs:  # every connection gets its script before any is waited for
        p.stdin.write(script)
        p.stdin.close()
    outs = [p.stdout.read() for p in procs]
    for p in procs:
        p.wait()
    used = [rss_kb(o) for o in outs]
    idle = rss_kb(psql(MEMORY_SQL))
    postmaster = rss_kb(postmaster_status())
    psql("DROP TABLE mem_ready")
    return {"connections": n, "rss_min": min(u["VmRSS"] for u in used), "rss_max": max(u["VmRSS"] for u in used),
            "private_min": min(u["Private"] for u in used), "private_max": max(u["Private"] for u in used),
            "pss_total": sum(u["Pss"] for u in used), "idle_rss": idle["VmRSS"], "idle_pss": idle["Pss"],
            "postmaster_pss": postmaster["Pss"]}


def refresh(customers, n_texts):
    """G: refresh_profiles from scratch, then after 1% of the texts changed."""
    psql(f"""CREATE TABLE customers AS SELECT g AS id FROM generate_series(0, {customers - 1}) g;
             SELECT custprofile.register_source('customers', 'customers', '{{"key": "id"}}');
             SELECT custprofile.register_source('texts', 'reviews', '{{"customer": "customer_id", "text": "body"}}');""")
    t0 = time.perf_counter()
    psql("SET client_min_messages = warning; CALL custprofile.refresh_profiles(batch_size => 200);")
    full = time.perf_counter() - t0
    psql("UPDATE reviews SET body = body || ' (edited)' WHERE id % 100 = 7;")
    t0 = time.perf_counter()
    psql("SET client_min_messages = warning; CALL custprofile.refresh_profiles(batch_size => 200);")
    incremental = time.perf_counter() - t0
    # from scratch again, by two sessions at once: they share the queue, each batch claimed by one
    psql("DELETE FROM custprofile.profiles;")
    print(f"  G: full {full:.1f} s, incremental {incremental:.1f} s ({full / incremental:.1f}x)", flush=True)
    # two -c: one -c with both would be one transaction block, where CALL cannot COMMIT
    call = ["-c", "SET client_min_messages = warning", "-c", "CALL custprofile.refresh_profiles(batch_size => 200)"]
    t0 = time.perf_counter()
    sessions = [subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", DB] + call) for _ in range(2)]
    if any(p.wait() != 0 for p in sessions):
        raise RuntimeError("a concurrent refresh_profiles session failed")
    two = time.perf_counter() - t0
    built = int(psql("SELECT count(*) FROM custprofile.profiles;").strip())
    if built != customers:
        raise RuntimeError(f"two sessions built {built} profiles, expected {customers}")
    print(f"  G: full by two sessions at once {two:.1f} s ({full / two:.2f}x one session)", flush=True)
    return {"what": f"refresh_profiles, {customers} customers, {n_texts} texts: full, then after 1% of the texts changed, "
                    "then full again by two sessions at once",
            "full_seconds": round(full, 2), "incremental_seconds": round(incremental, 2), "ratio": round(full / incremental, 1),
            "two_sessions_full_seconds": round(two, 2), "two_sessions_ratio": round(full / two, 2)}


def write_results(a, texts, results, name):
    out = {"machine": {"cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
                       "cores": os.cpu_count(), "python": platform.python_version()},
           "encoder": a.encoder, "texts": len(texts), "distinct_texts": len(set(texts)), "customers": a.customers, "threads": 1,
           "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "results": results}
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench/results", name), "w") as f:
        json.dump(out, f, indent=2)
    print(f"\nwritten to bench/results/{name}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=20000)
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--data", required=True)
    ap.add_argument("--model-dir", required=True, help="the encoder's installed folder")
    ap.add_argument("--encoder", default="all-MiniLM-L6-v2", help="custprofile.encoder for the whole run")
    ap.add_argument("--plain-model", default="model.onnx", help="A's graph: a file of --model-dir or an absolute path")
    ap.add_argument("--skip-refresh", action="store_true")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds the measurements are split into")
    ap.add_argument("--results", default="latest.json", help="file name under bench/results (the figures of docs/benchmark.md are latest.json)")
    ap.add_argument("--memory-only", action="store_true",
                    help="only memory and first call, with and without the preload, into bench/results/memory.json")
    ap.add_argument("--refresh-only", action="store_true",
                    help="only G (for the issue's 10,000 customers / 100,000 texts), into bench/results/refresh-N.json")
    a = ap.parse_args()

    texts = load_texts(a.data, a.texts, 42)
    words = sorted(len(t.split()) for t in texts)
    print(f"{len(texts)} texts, words per text: median {words[len(words) // 2]}, 90th percentile {words[int(len(words) * 0.9)]}")

    # the data set in a fresh database
    psql(f"DROP DATABASE IF EXISTS {DB}", db="postgres")
    psql(f"CREATE DATABASE {DB}", db="postgres")
    psql(f"ALTER DATABASE {DB} SET custprofile.encoder = '{a.encoder}'", db="postgres")
    psql("CREATE EXTENSION custprofile; CREATE TABLE reviews (id int PRIMARY KEY, customer_id int, body text);")
    manifest = json.load(open(os.path.join(a.model_dir, "manifest.json")))
    prefix = manifest.get("input_prefix", "")
    has_sentiment = "sentiment" in manifest.get("heads", {})
    print(f"encoder {a.encoder}: prefix {prefix!r}, built-in sentiment head: {has_sentiment}")
    data = "\n".join(f"{i}\t{i % a.customers}\t" + t.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ").replace("\r", " ")
                     for i, t in enumerate(texts))
    subprocess.run(["psql", "-X", "-q", "-d", DB, "-c", "\\copy reviews FROM STDIN"], input=data + "\n", check=True, text=True)
    psql("ANALYZE reviews")

    results = {}

    def record(key, seconds, what):
        results[key] = {"what": what, "seconds": round(seconds, 2), "texts_per_second": round(len(texts) / seconds, 1)}
        print(f"  {key}: {what}: {seconds:.1f} s, {len(texts) / seconds:.1f} texts/s", flush=True)

    if a.memory_only:
        results["memory_kb"], results["first_call_ms"] = {}, {}
        for mode in ("per_backend", "preloaded"):
            restart_server(mode == "preloaded", a.encoder)
            results["memory_kb"][mode], results["first_call_ms"][mode] = memory_and_first_call(mode)
        write_results(a, texts, results, a.results if a.results != "latest.json" else "memory.json")
        return
    if a.refresh_only:
        results["G"] = refresh(a.customers, len(texts))
        write_results(a, texts, results, f"refresh-{a.customers}.json")
        return
    print(f"measuring (one thread each, in {a.rounds} interleaved rounds; this takes a while)", flush=True)
    # B: the batch size that is fastest on a sample, then the whole set with it
    sample = texts[: min(500, len(texts))]
    trials = {b: baseline(sample, a.model_dir, b, a.plain_model, prefix) for b in (4, 8, 16, 32)}
    best = min(trials, key=trials.get)
    print(f"  B: batch sizes on {len(sample)} texts: " + ", ".join(f"{b}: {t:.1f} s" for b, t in trials.items()), flush=True)

    # Every variant runs on each share of the rows in turn (round r: the texts of the customers
    # whose id % rounds is r, so a customer's texts stay together), in forward order in even
    # rounds and backward in odd ones: this machine's speed drifts by tens of percent over
    # minutes, and interleaving spreads the drift over all variants instead of charging it to
    # whichever ran during a slow spell.
    serial = "SET max_parallel_workers_per_gather = 0;\n"
    # F: two workers do the work and the leader only gathers, two processes for two cores. With
    # the leader taking part, a grouped profile_agg runs no faster than serially: its plan sorts
    # by customer below the partial aggregate, and the leader's sort reads all of its input
    # before the workers have started, so they get no rows (docs/benchmark.md).
    parallel = ("SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;"
                " SET min_parallel_table_scan_size = 0; SET parallel_leader_participation = off;\n")
    share = [[t for i, t in enumerate(texts) if i % a.customers % a.rounds == r] for r in range(a.rounds)]
    agg = "SELECT count(p) FROM (SELECT custprofile.profile_agg(body) AS p FROM reviews WHERE {w} GROUP BY customer_id) s;"
    variants = [
        ("A", "Python onnxruntime, one text per run", lambda r: baseline(share[r], a.model_dir, 1, a.plain_model, prefix)),
        ("B", f"Python onnxruntime, length-sorted batches of {best} (the fastest of 4, 8, 16, 32)",
         lambda r: baseline(share[r], a.model_dir, best, a.plain_model, prefix)),
        # not a target: the baseline on the extension's own int8 encoder, to tell the model's
        # share of each ratio from the extension's
        ("A_int8", "A on the extension's model.int8.onnx", lambda r: baseline(share[r], a.model_dir, 1, "model.int8.onnx", prefix)),
        ("C", "SELECT custprofile.embed_text(body) FROM reviews",
         "SELECT count(custprofile.embed_text(body)) FROM reviews WHERE {w};"),
        ("D", "custprofile.embed_texts over the column",
         "SELECT count(*) FROM custprofile.embed_texts(ARRAY(SELECT body FROM reviews WHERE {w} ORDER BY id));"),
        ("E_sentiment", "SELECT custprofile.sentiment(body) FROM reviews",
         "SELECT count(custprofile.sentiment(body)) FROM reviews WHERE {w};"),
        ("E_profile_agg", "profile_agg(body) grouped by customer", agg),
        ("F_sentiment", "E sentiment with two parallel workers",
         parallel + "SELECT count(custprofile.sentiment(body)) FROM reviews WHERE {w};"),
        ("F_profile_agg", "E profile_agg with two parallel workers", parallel + agg),
    ]
    if not has_sentiment:
        variants = [v for v in variants if v[0][0] not in "EF"]
    seconds = {key: 0.0 for key, _, _ in variants}
    for r in range(a.rounds):
        for key, _, run in (variants if r % 2 == 0 else variants[::-1]):
            if callable(run):
                seconds[key] += run(r)
            else:
                sql = run.format(w=f"customer_id % {a.rounds} = {r}")
                seconds[key] += psql(sql if sql.startswith("SET") else serial + sql, timing=True) / 1000
        print(f"  round {r + 1} of {a.rounds}: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()), flush=True)
    for key, what, _ in variants:
        record(key, seconds[key], what)

    if not a.skip_refresh and has_sentiment:
        results["G"] = refresh(a.customers, len(texts))

    # memory and first call in new connections, with the encoder preloaded by the postmaster (the
    # private cluster's shared_preload_libraries) and without (each backend loads it on first use)
    results["memory_kb"], results["first_call_ms"] = {}, {}
    for mode in ("per_backend", "preloaded"):
        restart_server(mode == "preloaded", a.encoder)
        results["memory_kb"][mode], results["first_call_ms"][mode] = memory_and_first_call(mode)

    a_rate = results["A"]["texts_per_second"]
    print("\nratios to A (texts per second):")
    for k, v in results.items():
        if "texts_per_second" in v:
            v["ratio_to_A"] = round(v["texts_per_second"] / a_rate, 2)
            print(f"  {k:14s} {v['texts_per_second']:8.1f} texts/s  {v['ratio_to_A']:5.2f}x  {v['what']}")
    for e, f in (("E_sentiment", "F_sentiment"), ("E_profile_agg", "F_profile_agg")):
        if f not in results:
            continue
        results[f]["ratio_to_E"] = round(results[f]["texts_per_second"] / results[e]["texts_per_second"], 2)
        print(f"  {f} / {e}: {results[f]['ratio_to_E']}x")

    write_results(a, texts, results, a.results)


if __name__ == "__main__":
    sys.exit(main())
