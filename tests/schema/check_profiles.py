#!/usr/bin/env python3
"""Validates real profiles against schema/profile.schema.json.

Builds every profile of the demo shop through SQL in a scratch database of the private cluster
(PGHOST/PGPORT/PGUSER from scripts/cluster.sh env), plus profiles of a uuid-keyed customers
source without orders or texts, and checks each document against the JSON Schema. It also
checks that the schema rejects broken documents, so that a schema that accepts anything fails,
and that the schema and the field list of sql/profile_document.sql
(custprofile.profile_document_fields()) name the same fields with the same JSON types.
Run by scripts/test.sh.
"""
import copy
import json
import os
import subprocess
import sys

import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DB = "custprofile_schema"


def psql(*args, db=DB):
    cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", db, *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout


def schema_fields(schema):
    """{path: set of JSON types} of every field the schema describes (array items as "[]")."""
    defs = schema.get("$defs", {})

    def resolve(node):
        return defs[node["$ref"].split("/")[-1]] if "$ref" in node else node

    def alternatives(node):
        node = resolve(node)
        yield node
        for key in ("anyOf", "oneOf"):
            for sub in node.get(key, []):
                yield from alternatives(sub)

    def types(node):
        out = set()
        for alt in alternatives(node):
            t = alt.get("type")
            out |= set(t) if isinstance(t, list) else {t} if t else set()
            if "enum" in alt:
                out |= {"string" if isinstance(v, str) else "null" if v is None else "number" for v in alt["enum"]}
        return out

    fields = {}

    def walk(node, path):
        if path:
            fields[path] = types(node)
        for alt in alternatives(node):
            for key, sub in alt.get("properties", {}).items():
                walk(sub, f"{path}.{key}" if path else key)
            if isinstance(alt.get("items"), dict) and any(a.get("properties") for a in alternatives(alt["items"])):
                for item_alt in alternatives(alt["items"]):
                    for key, sub in item_alt.get("properties", {}).items():
                        walk(sub, f"{path}[].{key}")

    walk(schema, "")
    return fields


def check_field_list(schema):
    listed = {}
    for line in psql("-c", "SELECT field || '\t' || json_type FROM custprofile.profile_document_fields()").splitlines():
        field, json_type = line.split("\t")
        assert field not in listed, f"profile_document_fields() lists {field} twice"
        listed[field] = set(json_type.split("|"))
    described = schema_fields(schema)
    only_listed = sorted(set(listed) - set(described))
    only_described = sorted(set(described) - set(listed))
    assert not only_listed, f"fields listed in sql/profile_document.sql but not in the schema: {only_listed}"
    assert not only_described, f"fields in the schema but not listed in sql/profile_document.sql: {only_described}"
    wrong = sorted(f for f in listed if listed[f] != described[f])
    assert not wrong, "JSON types differ: " + "; ".join(f"{f}: listed {sorted(listed[f])}, schema {sorted(described[f])}" for f in wrong)
    return len(listed)


def main():
    psql("-c", f"DROP DATABASE IF EXISTS {DB}", "-c", f"CREATE DATABASE {DB}", db="postgres")
    psql("-c", "CREATE EXTENSION custprofile", "-f", "demo/shop.sql", "-f", "demo/shop_zh.sql")
    psql("-c", """
        SELECT custprofile.register_source('customers', 'shop.customers',
                 '{"key": "customer_id", "attributes": ["age", "city", "country", "signup_date", "segment"]}');
        SELECT custprofile.register_source('orders', 'shop.orders',
                 '{"customer": "customer_id", "time": "ordered_at", "amount": "total", "category": "category"}');
        SELECT custprofile.register_source('texts', 'shop.reviews',
                 '{"customer": "customer_id", "text": "body", "time": "written_at", "rating": "stars"}');
    """)
    docs = [json.loads(line) for line in psql("-c", """
        SELECT profile FROM custprofile.build_profiles(ARRAY(SELECT customer_id::text FROM shop.customers))
    """).splitlines()]
    assert len(docs) == 42, f"expected 42 demo profiles (36 + 6 of demo/shop_zh.sql), got {len(docs)}"
    # stored profiles are the same documents
    psql("-c", "CALL custprofile.refresh_profiles()")
    docs += [json.loads(line) for line in psql("-c", "SELECT profile FROM custprofile.profiles").splitlines()]
    # a uuid key, no orders source, no texts
    psql("-c", """
        CREATE TABLE shop.members (member uuid PRIMARY KEY, tier text);
        INSERT INTO shop.members VALUES ('7f3c2a4e-0a0b-4c1d-9e2f-3a4b5c6d7e8f', 'gold');
        SELECT custprofile.unregister_source(kind, relation) FROM custprofile.sources;
        SELECT custprofile.register_source('customers', 'shop.members', '{"key": "member", "attributes": ["tier"]}');
    """)
    bare = json.loads(psql("-c", "SELECT custprofile.build_profile('7f3c2a4e-0a0b-4c1d-9e2f-3a4b5c6d7e8f'::uuid)"))
    assert bare["purchases"] is None and bare["texts"] is None, bare
    docs.append(bare)

    with open(os.path.join(ROOT, "schema/profile.schema.json")) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    fields = check_field_list(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for doc in docs:
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            for e in errors[:5]:
                print(f"customer {doc.get('customer_id')}: {'/'.join(map(str, e.path))}: {e.message}", file=sys.stderr)
            sys.exit(1)

    # the schema is not a rubber stamp
    full = next(d for d in docs if d["purchases"] and d["purchases"]["rfm"] and d["texts"])
    broken = []
    for path, value in [(("purchases", "rfm", "recency"), 6), (("texts", "sentiment", "mean"), "high"),
                        (("texts", "interest_vector"), [0.1] * 10), (("unexpected",), 1),
                        (("churn", "risk"), 1.5), (("purchases", "orders_by_category"), {"books": 0})]:
        d = copy.deepcopy(full)
        target = d
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        broken.append(d)
    for field in ("generated_at", "version"):
        d = copy.deepcopy(full)
        del d[field]
        broken.append(d)
    for d in broken:
        assert not validator.is_valid(d), "the schema accepted a broken document"

    psql("-c", f"DROP DATABASE {DB}", db="postgres")
    print(f"profile schema: {fields} fields as sql/profile_document.sql lists them, "
          f"{len(docs)} documents valid, {len(broken)} broken ones rejected")


if __name__ == "__main__":
    main()
