"""Encode throughput of the tokenizers library over whole text files, single-threaded
(the counterpart of bench/tokenize_files.cpp). usage: tokenize_files.py TOKENIZER_DIR FILE..."""
import json
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
from tokenizers import Tokenizer  # noqa: E402

tok = Tokenizer.from_file(os.path.join(sys.argv[1], "tokenizer.json"))
for path in sys.argv[2:]:
    text = open(path, encoding="utf-8").read()
    nbytes = len(text.encode("utf-8"))
    best, n = 1e30, 0
    for _ in range(3):
        t0 = time.perf_counter()
        ids = tok.encode(text, add_special_tokens=False).ids
        best = min(best, time.perf_counter() - t0)
        n = len(ids)
    print(json.dumps({"impl": "tokenizers", "file": path, "bytes": nbytes, "tokens": n,
                      "seconds": round(best, 4), "MB_s": round(nbytes / best / 1e6, 2)}))
