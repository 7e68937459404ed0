#!/usr/bin/env python3
"""Picks the committed regression corpus from a fuzz target's working corpus.

    python3 fuzz/select_corpus.py scenario 237 tests/fuzz_corpus/scenario
    python3 fuzz/select_corpus.py csv_loaders 60 tests/fuzz_corpus/csv

Takes the inputs of fuzz/corpus/<target>/ of at most 64 KB, has the built target (cargo fuzz
build --sanitizer none --debug-assertions) list the coverage edges of each (libFuzzer's
-set_cover_merge control file, with -use_counters=0 so a feature is an edge), then picks greedily
the input with the most new edges per byte (plus 4 KB, so a large input is not shut out) until
COUNT inputs are picked, and copies them into OUT_DIR (files already there are kept: the crash
reproducers). Prints the edges covered.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_BYTES = 64 * 1024


def main():
    target, count, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    binary = ROOT / "fuzz/target/x86_64-unknown-linux-gnu/release" / target
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs, merged, control = tmp / "in", tmp / "merged", tmp / "control"
        inputs.mkdir()
        merged.mkdir()
        for p in (ROOT / "fuzz/corpus" / target).iterdir():
            if p.is_file() and p.stat().st_size <= MAX_BYTES:
                shutil.copy(p, inputs / p.name)
        subprocess.run(
            [binary, "-set_cover_merge=1", "-use_counters=0", "-max_len=262144", f"-merge_control_file={control}", merged, inputs],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        lines = control.read_text().split("\n")
        n = int(lines[0])
        files = lines[2 : 2 + n]
        edges = {}
        for line in lines[2 + n :]:
            if line.startswith("FT "):
                parts = line.split()
                edges[int(parts[1])] = set(map(int, parts[2:]))
        size = {i: os.path.getsize(files[i]) for i in edges}
        everything = set().union(*edges.values())
        got, chosen = set(), []
        while len(chosen) < count:
            best = max(edges, key=lambda i: (len(edges[i] - got) / (size[i] + 4096), -size[i]))
            if not edges[best] - got:
                break
            chosen.append(best)
            got |= edges[best]
        out.mkdir(parents=True, exist_ok=True)
        for i in chosen:
            shutil.copy(files[i], out / Path(files[i]).name)
        total = sum(size[i] for i in chosen)
        print(f"{target}: {len(chosen)} of {len(edges)} inputs, {total} bytes, cover {len(got)} of {len(everything)} edges")


if __name__ == "__main__":
    main()
