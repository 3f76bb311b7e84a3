# SPDX-License-Identifier: MIT
# A deterministic Python workload for tests/sh/preload_real_programs.sh:
# dicts, lists, strings, regexes, JSON, sorting, big integers, objects with
# cycles for the GC, a thread pool. Prints digests that must not depend on
# the malloc underneath.
import gc
import hashlib
import json
import random
import re
import threading

rng = random.Random(42)
h = hashlib.sha256()

words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 12)))
         for _ in range(25000)]
counts = {}
for w in words:
    counts[w] = counts.get(w, 0) + 1
h.update(json.dumps(sorted(counts.items())[:2000]).encode())

text = " ".join(words)
h.update(str(len(re.findall(r"\b[aeiou]\w{3,}\b", text))).encode())
h.update(re.sub(r"(\w)(\w*)", lambda m: m.group(2) + m.group(1), text[:100000]).encode())

big = 1
for i in range(1, 3000):
    big *= i
h.update(str(big % (10 ** 50)).encode())


class Node:
    def __init__(self, v):
        self.v = v
        self.peer = None


nodes = [Node(i) for i in range(50000)]
for i, n in enumerate(nodes):
    n.peer = nodes[(i * 7919) % len(nodes)]
h.update(str(sum(n.peer.v for n in nodes)).encode())
del nodes
gc.collect()

docs = [{"id": i, "tags": [words[(i * j) % len(words)] for j in range(5)], "score": rng.random()}
        for i in range(10000)]
blob = json.dumps(docs)
back = json.loads(blob)
back.sort(key=lambda d: (d["tags"][0], d["id"]))
h.update(json.dumps(back[:500]).encode())

results = [None] * 4


def work(k):
    local = {}
    for i in range(20000):
        key = (k, i % 1000)
        local.setdefault(key, []).append(str(i) * (i % 7))
    results[k] = sum(len(v) for v in local.values())


threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
h.update(str(results).encode())
print(h.hexdigest())
