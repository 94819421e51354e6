"""Re-runs the SQL examples of README.md and docs/*.md and shows where their printed output no
longer matches.

Every ```sql block that is directly followed by a plain ``` block is an example with its output.
Each runs in its own psql connection against the private cluster's database, after
`scripts/demo.sh` (the examples use the demo shop). Prints a diff per example that changed;
with --write, puts the new output into the files (read the diff first: examples that depend on
the time of day or on earlier examples change too). Examples that print NOTICEs (timings) are
left alone, and so are the source-registration examples: they show the three-source set-up a
reader starts with, while the demo database has more sources registered by later sections.

    PGHOST=... PGPORT=... PGUSER=postgres PGDATABASE=custprofile python3 scripts/readme_examples.py [--write]
"""
import difflib
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCUMENTS = ["README.md"] + sorted(os.path.join("docs", f) for f in os.listdir(os.path.join(ROOT, "docs")) if f.endswith(".md"))
# a block never spans a fence: a ```sql block without output is not an example
EXAMPLE = re.compile(r"```sql\n((?:(?!```).)*?)```\n```\n((?:(?!```).)*?)```\n", re.S)
# examples kept by hand (see above)
KEPT = ("NOTICE:", "your_database", "register_source(", "custprofile.sources", "check_sources()")


def run(sql, printed):
    """psql's output in the printed example's format: aligned with a header, aligned values
    only, or bare values."""
    lines = printed.splitlines()
    if len(lines) > 1 and re.match(r"^-+(\+-+)*$", lines[1]):
        form = []
    else:
        form = ["-t"] if printed.startswith(" ") else ["-At"]
    out = subprocess.run(["psql", "-X", "-q", "-P", "footer=off", "-v", "ON_ERROR_STOP=1"] + form,
                         input=sql, capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr.strip()
    return out.stdout.rstrip("\n") + "\n", None


def rerun(name, write):
    """The examples of one file: (changed, failed)."""
    path = os.path.join(ROOT, name)
    text = open(path).read()
    changed, failed, pieces, last = 0, 0, [], 0
    for m in EXAMPLE.finditer(text):
        sql, printed = m.group(1), m.group(2)
        pieces.append(text[last:m.start(2)])
        last = m.end(2)
        if any(k in sql or k in printed for k in KEPT):
            pieces.append(printed)
            continue
        new, error = run(sql, printed)
        line = text.count(chr(10), 0, m.start()) + 1
        if error is not None:
            failed += 1
            print(f"--- {name} line {line}: the example fails: {error}\n")
            pieces.append(printed)
            continue
        if new != printed:
            changed += 1
            print(f"--- {name} line {line}")
            sys.stdout.writelines(difflib.unified_diff(printed.splitlines(True), new.splitlines(True), n=0))
            print()
        pieces.append(new)
    pieces.append(text[last:])
    if write and changed:
        open(path, "w").write("".join(pieces))
        print(f"{name} updated")
    return changed, failed


def main():
    write = "--write" in sys.argv[1:]
    changed = failed = 0
    for name in DOCUMENTS:
        c, f = rerun(name, write)
        changed, failed = changed + c, failed + f
    print(f"{changed} examples changed, {failed} failed to run")


if __name__ == "__main__":
    main()
