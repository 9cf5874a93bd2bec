#!/usr/bin/env python3
"""The peer of bench/chan_e2e.sh: czsc's full Chan analysis of a bar CSV file, as a czsc user
writes it (standard library csv, czsc's RawBar and CZSC; no pandas on the path).

    chan_peer.py FILE

FILE has the columns `quantdesk-bench data` writes for its minute file:
datetime,ts_code,open,high,low,close,volume. Prints one line with the bars read, czsc's counts
(strokes) and the seconds spent reading (CSV rows to RawBar) and analysing (`CZSC(bars)`), then
`seconds S`, the two together: what bench/chan_e2e.sh compares with quantdesk's whole process
(importing czsc, several seconds on its own, is left out in czsc's favour; the script's wall time
as a whole process is printed beside it).
"""

import csv
import sys
import time
from datetime import datetime

from czsc import CZSC, Freq, RawBar


def main() -> None:
    path = sys.argv[1]
    t0 = time.perf_counter()
    bars = []
    with open(path, newline="") as f:
        rows = csv.reader(f)
        next(rows)
        for i, (dt, code, o, h, low, c, v) in enumerate(rows):
            bars.append(
                RawBar(
                    symbol=code,
                    id=i,
                    dt=datetime.strptime(dt, "%Y-%m-%d %H:%M:%S"),
                    freq=Freq.F1,
                    open=float(o),
                    close=float(c),
                    high=float(h),
                    low=float(low),
                    vol=float(v),
                    amount=0.0,
                )
            )
    t1 = time.perf_counter()
    # max_bi_num: keep every stroke, as quantdesk does (czsc's default keeps the last 50).
    analysis = CZSC(bars, max_bi_num=len(bars))
    t2 = time.perf_counter()
    print(f"czsc: {len(bars)} bars, {len(analysis.bi_list)} strokes; read {t1 - t0:.3f} s, analysis {t2 - t1:.3f} s")
    print(f"seconds {t2 - t0:.3f}")


if __name__ == "__main__":
    main()
