#!/usr/bin/env python3
"""The peer of `quantdesk-bench sync`: what a Python TuShare user writes to keep daily bars in SQLite.

For each symbol it POSTs TuShare Pro's JSON request for `daily` and `adj_factor` (the very body
quantdesk's client sends, over one keep-alive `requests.Session`), `json.loads` the answer, builds
rows converting lots to shares and thousands of CNY to CNY, and inserts them with
`sqlite3.executemany` into a table keyed by (ts_code, trade_date), one transaction per symbol,
keeping the factors' change points in a second table (as quantdesk does). `--mode pandas` goes
through a DataFrame the way `tushare.pro_api()` answers (`pd.DataFrame(items, columns=fields)`),
converts the units on the columns and inserts `df.itertuples()`.

Prints one JSON line: {"name", "rows", "seconds", ...}. The clock runs from the first request to
the last commit (the interpreter's start, imports and creating the tables are not counted, as
quantdesk's figure leaves out opening the store).

    python3 bench/sync_peer.py --url http://127.0.0.1:PORT --token T --symbols 600000.SH,600001.SH \
        --start 20050101 --end 20241231 --db /tmp/peer.db [--mode plain|pandas]
"""

import argparse
import json
import sqlite3
import sys
import time

import requests

DAILY_FIELDS = "ts_code,trade_date,open,high,low,close,vol,amount"
FACTOR_FIELDS = "ts_code,trade_date,adj_factor"


def query(session, url, token, api, params, fields):
    body = {"api_name": api, "token": token, "params": params, "fields": fields}
    res = session.post(url, json=body, timeout=30)
    result = json.loads(res.text)
    if result["code"] != 0:
        raise RuntimeError(f"{api}: code {result['code']}: {result['msg']}")
    return result["data"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--symbols", required=True)
    ap.add_argument("--start", required=True)
    ap.add_argument("--end", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--mode", choices=["plain", "pandas"], default="plain")
    a = ap.parse_args()
    symbols = a.symbols.split(",")

    if a.mode == "pandas":
        import pandas as pd
    con = sqlite3.connect(a.db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(
        "CREATE TABLE IF NOT EXISTS daily (ts_code TEXT NOT NULL, trade_date TEXT NOT NULL, open REAL, high REAL,"
        " low REAL, close REAL, vol REAL, amount REAL, PRIMARY KEY (ts_code, trade_date)) WITHOUT ROWID"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS adj_factor (ts_code TEXT NOT NULL, trade_date TEXT NOT NULL, adj_factor REAL,"
        " PRIMARY KEY (ts_code, trade_date)) WITHOUT ROWID"
    )
    insert_bar = "INSERT OR REPLACE INTO daily VALUES (?,?,?,?,?,?,?,?)"
    insert_factor = "INSERT OR REPLACE INTO adj_factor VALUES (?,?,?)"
    session = requests.Session()
    rows = factors = 0
    t0 = time.perf_counter()
    for code in symbols:
        params = {"ts_code": code, "start_date": a.start, "end_date": a.end}
        d = query(session, a.url, a.token, "daily", params, DAILY_FIELDS)
        f = query(session, a.url, a.token, "adj_factor", params, FACTOR_FIELDS)
        if a.mode == "pandas":
            df = pd.DataFrame(d["items"], columns=d["fields"])
            df["vol"] = (df["vol"] * 100).round(2)
            df["amount"] = (df["amount"] * 1000).round(3)
            df = df.sort_values("trade_date")
            af = pd.DataFrame(f["items"], columns=f["fields"]).sort_values("trade_date")
            af = af[af["adj_factor"] != af["adj_factor"].shift()]
            con.execute("BEGIN")
            con.executemany(insert_bar, df[DAILY_FIELDS.split(",")].itertuples(index=False, name=None))
            con.executemany(insert_factor, af[FACTOR_FIELDS.split(",")].itertuples(index=False, name=None))
            con.execute("COMMIT")
            rows += len(df)
            factors += len(af)
        else:
            ix = {name: i for i, name in enumerate(d["fields"])}
            c, t, o, h, lo, cl, v, am = (ix[k] for k in DAILY_FIELDS.split(","))
            bars = [
                (r[c], r[t], r[o], r[h], r[lo], r[cl], round(r[v] * 100, 2), round(r[am] * 1000, 3))
                for r in d["items"]
            ]
            bars.sort(key=lambda b: b[1])
            fx = {name: i for i, name in enumerate(f["fields"])}
            points, last = [], None
            for r in sorted(f["items"], key=lambda r: r[fx["trade_date"]]):
                if r[fx["adj_factor"]] != last:
                    last = r[fx["adj_factor"]]
                    points.append((r[fx["ts_code"]], r[fx["trade_date"]], last))
            con.execute("BEGIN")
            con.executemany(insert_bar, bars)
            con.executemany(insert_factor, points)
            con.execute("COMMIT")
            rows += len(bars)
            factors += len(points)
    seconds = time.perf_counter() - t0
    stored = con.execute("SELECT count(*) FROM daily").fetchone()[0]
    con.close()
    name = "Python requests + pandas + sqlite3" if a.mode == "pandas" else "Python requests + json + sqlite3"
    print(json.dumps({"name": name, "rows": rows, "stored": stored, "factor_points": factors, "seconds": seconds,
                      "python": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
