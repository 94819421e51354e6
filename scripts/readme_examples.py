"""Re-runs the README's SQL examples and shows where their printed output no longer matches.

Every ```sql block that is directly followed by a plain ``` block is an example with its output.
Each runs in its own psql connection against the private cluster's database, after
`scripts/demo.sh` (the examples use the demo shop). Prints a diff per example that changed;
with --write, puts the new output into README.md (read the diff first: examples that depend on
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

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
EXAMPLE = re.compile(r"```sql\n(.*?)```\n```\n(.*?)```\n", re.S)
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


def main():
    write = "--write" in sys.argv[1:]
    text = open(README).read()
    changed, failed, pieces, last = 0, 0, [], 0
    for m in EXAMPLE.finditer(text):
        sql, printed = m.group(1), m.group(2)
        pieces.append(text[last:m.start(2)])
        last = m.end(2)
        if any(k in sql or k in printed for k in KEPT):
            pieces.append(printed)
            continue
        new, error = run(sql, printed)
        if error is not None:
            failed += 1
            print(f"--- README.md line {text.count(chr(10), 0, m.start()) + 1}: the example fails: {error}\n")
            pieces.append(printed)
            continue
        if new != printed:
            changed += 1
            print(f"--- README.md line {text.count(chr(10), 0, m.start()) + 1}")
            sys.stdout.writelines(difflib.unified_diff(printed.splitlines(True), new.splitlines(True), n=0))
            print()
        pieces.append(new)
    pieces.append(text[last:])
    print(f"{changed} examples changed, {failed} failed to run")
    if write and changed:
        open(README, "w").write("".join(pieces))
        print("README.md updated")


if __name__ == "__main__":
    main()
