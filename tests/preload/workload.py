# The python3 workload of preload_python3: dicts, a JSON round trip,
# regular expressions and sqlite3 in memory, printing digests that are the
# same on every allocator.
import hashlib
import json
import re
import sqlite3

d = {}
for i in range(50000):
    d["key%d" % i] = {"n": i, "sq": i * i, "s": str(i) * (i % 7)}
for i in range(0, 50000, 3):
    del d["key%d" % i]
print("dict", len(d), sum(v["sq"] for v in d.values()) % 1000003)

doc = {"items": [{"id": i, "name": "item-%d" % i, "tags": ["t%d" % (i % 13)] * (i % 5),
                  "price": i * 0.25} for i in range(20000)]}
text = json.dumps(doc, sort_keys=True)
back = json.loads(text)
print("json", len(text), back == doc, hashlib.sha256(text.encode()).hexdigest()[:16])

words = re.findall(r"[a-z]+-\d*7\b", text)
print("re", len(words), words[:3])
pat = re.compile(r'"name": "item-(\d+)"')
print("re sum", sum(int(m.group(1)) for m in pat.finditer(text)) % 1000003)
print("re sub", hashlib.sha256(re.sub(r"\d", "#", text[:100000]).encode()).hexdigest()[:16])

db = sqlite3.connect(":memory:")
db.execute("create table t (id integer primary key, name text, price real)")
db.executemany("insert into t values (?, ?, ?)",
               ((it["id"], it["name"], it["price"]) for it in doc["items"]))
db.execute("create index t_price on t (price)")
print("sqlite", db.execute("select count(*), sum(price) from t where price > 100").fetchone())
print("sqlite", db.execute("select name from t order by price desc limit 3").fetchall())
db.close()
