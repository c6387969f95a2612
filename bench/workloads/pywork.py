# pywork.py -- an allocation-heavy python3 script for bench/preload.sh,
# run with PYTHONMALLOC=malloc so that every object comes from malloc(3):
#
#   python3 pywork.py SCALE
#
# Each round builds and drops dicts of small records, lists of small
# objects, strings joined piece by piece, a JSON round trip, sorts, and a
# churn of short-lived objects.  SCALE rounds; prints a digest that is the
# same on every allocator, and on the standard error "final-rss KB", the
# resident memory once the rounds' objects are collected.
import gc
import hashlib
import json
import os
import sys


class Point:
    __slots__ = ("x", "y", "tag")

    def __init__(self, x, y, tag):
        self.x = x
        self.y = y
        self.tag = tag


class Record:
    def __init__(self, i):
        self.id = i
        self.name = "rec-%d" % i
        self.values = [i, i * 2, i * 3]


def one_round(r, h):
    d = {}
    for i in range(5000):
        d["k%d-%d" % (r, i)] = {"n": i, "s": str(i), "l": [i] * (i % 5)}
    for i in range(0, 5000, 2):
        del d["k%d-%d" % (r, i)]
    h.update(str(sum(v["n"] for v in d.values())).encode())

    pts = [Point(i, -i, "p%d" % (i % 97)) for i in range(8000)]
    pts.sort(key=lambda p: (p.tag, p.y))
    h.update(("%d %d" % (pts[0].x, pts[-1].x)).encode())

    parts = []
    for i in range(5000):
        parts.append("%d:%s;" % (i, "x" * (i % 11)))
    s = "".join(parts)
    t = ""
    for i in range(800):
        t += parts[i]
    h.update(hashlib.sha256((s + t).encode()).digest())

    doc = {"items": [{"id": i, "name": "item-%d" % i, "tags": ["t%d" % (i % 13)] * (i % 4),
                      "price": i * 0.5} for i in range(2000)]}
    text = json.dumps(doc, sort_keys=True)
    back = json.loads(text)
    h.update(str((len(text), back == doc)).encode())

    words = sorted(s.split(";"), key=lambda w: (len(w), w), reverse=True)
    h.update(words[len(words) // 2].encode())

    keep = []
    for i in range(10000):
        rec = Record(i)
        if i % 10 == 0:
            keep.append(rec)
        tmp = (rec.name, tuple(rec.values), {rec.id: rec.name})
        del tmp
    h.update(str(sum(k.values[2] for k in keep)).encode())


def main():
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    h = hashlib.sha256()
    for r in range(scale):
        one_round(r, h)
    print("pywork", h.hexdigest()[:16])


def final_rss():
    gc.collect()
    with open("/proc/self/statm") as f:
        resident = int(f.read().split()[1])
    sys.stderr.write("final-rss %d\n" % (resident * os.sysconf("SC_PAGE_SIZE") // 1024))


main()
final_rss()
