#!/usr/bin/env python3
"""Times the reference DCF engine (huliux/stock_vale @ 0e8c3f7, packages/fastapi-backend) on the
600519.SH fixture statements: one valuation and a 21×21 grid (WACC step 0.25 pp × g step 0.1 pp,
perpetual growth), the same work as `cargo bench -p quantdesk-valuation --bench valuation`.

The reference's own pipeline of `calculate_valuation_endpoint_v2` (api/main.py) minus its I/O:
DataProcessor → market-cap estimate → WaccCalculator → ValuationService.run_single_valuation
(→ run_sensitivity_analysis for the grid). The statements come from the fixture CSVs instead of
PostgreSQL; the December rows, newest first, with end_date as datetimes, as its data fetcher
returns them. No LLM call.

Usage (see docs/benchmarks.md): REF=<dir with the reference's fastapi-backend files>
  FIXTURES=/work/shared/fixtures python bench/valuation_peer.py
"""
import contextlib
import io
import logging
import os
import statistics
import sys
import time

import pandas as pd

REF = os.environ["REF"]
sys.path.insert(0, REF)
logging.disable(logging.CRITICAL)

from data_processor import DataProcessor  # noqa: E402
from wacc_calculator import WaccCalculator  # noqa: E402
from services.valuation_service import ValuationService  # noqa: E402
from api.models import StockValuationRequest  # noqa: E402

FIX = os.path.join(os.environ.get("FIXTURES", "/work/shared/fixtures"), "cn/financials/600519.SH")


def annual(name):
    df = pd.read_csv(os.path.join(FIX, name), dtype={"end_date": str, "ann_date": str, "f_ann_date": str,
                                                      "comp_type": str, "report_type": str, "end_type": str,
                                                      "update_flag": str})
    df = df[df["end_date"].str[4:8] == "1231"].copy()
    df["end_date"] = pd.to_datetime(df["end_date"])
    df = df.sort_values("end_date", ascending=False).reset_index(drop=True)
    # SQL NULLs arrive as None in object columns (row._asdict()), not as NaN.
    return df.astype(object).where(df.notna(), None)


basic = pd.read_csv(os.path.join(FIX, "daily_basic.csv")).iloc[-1]
stock = pd.read_csv(os.path.join(FIX, "stock_basic.csv")).iloc[0]
raw = {"balance_sheet": annual("balancesheet.csv"), "income_statement": annual("income.csv"),
       "cash_flow": annual("cashflow.csv")}
price = float(basic["close"])
total_shares_actual = float(basic["total_share"]) / 1e4 * 1e8  # 万股 → 亿股 → shares


def pipeline(request):
    all_data = {"stock_basic": {"ts_code": stock["ts_code"], "name": stock["name"], "industry": stock["industry"]},
                **{k: v.copy() for k, v in raw.items()}}
    dp = DataProcessor(all_data, latest_pe_pb={"pe": float(basic["pe"]), "pb": float(basic["pb"])},
                       ttm_dividends_df=None, latest_price=price)
    _ = dp.get_latest_actual_ebitda()
    metrics = dp.get_latest_metrics()
    metrics["latest_price"] = price
    mc = None
    inc = dp.processed_data["income_statement"]
    if metrics.get("pe") and "n_income" in inc.columns:
        last = inc["n_income"].iloc[-1]
        if pd.notna(last) and last > 0:
            mc = float(metrics["pe"]) * float(last) / 1e8
    svc = ValuationService(dp, WaccCalculator(financials_dict=dp.processed_data, market_cap=mc))
    d = request.model_dump()
    dcf, _, _ = svc.run_single_valuation(request_dict=d, total_shares_actual=total_shares_actual)
    assert dcf is not None
    if request.sensitivity_analysis:
        res, _ = svc.run_sensitivity_analysis(sa_request_model=request.sensitivity_analysis, base_dcf_details=dcf,
                                              base_request_dict=d, total_shares_actual=total_shares_actual,
                                              base_latest_metrics=metrics)
        assert res is not None and len(res.row_values) == 21 and len(res.column_values) == 21
    return dcf


def timed(label, request, runs):
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            dcf = pipeline(request)
        out.append(time.perf_counter() - t)
    print(f"{label}: median {statistics.median(out) * 1e3:.2f} ms, min {min(out) * 1e3:.2f} ms over {runs} runs; "
          f"value per share {dcf.value_per_share}")


base = StockValuationRequest(stock_code="600519.SH")
wacc = [0.06 + 0.0025 * i for i in range(21)]
grow = [0.015 + 0.001 * i for i in range(21)]
grid = StockValuationRequest(stock_code="600519.SH", terminal_value_method="perpetual_growth",
                             perpetual_growth_rate=0.025,
                             sensitivity_analysis={"row_axis": {"parameter_name": "wacc", "values": wacc,
                                                                "step": 0.0025, "points": 21},
                                                   "column_axis": {"parameter_name": "perpetual_growth_rate",
                                                                   "values": grow}})
timed("one valuation", base, int(os.environ.get("RUNS", "50")))
timed("21x21 grid", grid, int(os.environ.get("GRID_RUNS", "5")))
