//! Imports and reads on the real market data in `../shared/fixtures` (`QUANTDESK_FIXTURES`).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::Datelike;
use common::{app, fixtures};
use quantdesk_app::market::write_bars;
use quantdesk_core::{Resolution, Symbol};
use quantdesk_ingest::{BarImportOptions, ColumnMap};

struct Case {
    file: &'static str,
    symbol: Option<&'static str>,
    resolution: &'static str,
    timezone: Option<&'static str>,
    symbols: usize,
}

const CASES: &[Case] = &[
    Case { file: "cn/sh000001_1d.csv", symbol: Some("000001.SH"), resolution: "1D", timezone: None, symbols: 1 },
    Case { file: "cn/sse50_60m.csv", symbol: None, resolution: "60", timezone: None, symbols: 26 },
    Case { file: "cn/futures_5m.csv", symbol: None, resolution: "5", timezone: Some("Asia/Shanghai"), symbols: 20 },
    Case { file: "us/goog_1d.csv", symbol: Some("GOOG"), resolution: "1D", timezone: None, symbols: 1 },
    Case { file: "us/dji_1d.csv", symbol: Some("^DJI"), resolution: "1D", timezone: None, symbols: 1 },
    Case { file: "us/dj30_1d.csv", symbol: None, resolution: "1D", timezone: None, symbols: 29 },
    Case { file: "crypto/btc_1d.csv", symbol: Some("BTC-USD"), resolution: "1D", timezone: None, symbols: 1 },
    Case {
        file: "golden/regimes/btc_3dyn_minlen12_quantile.csv",
        symbol: Some("BTC-REGIME"),
        resolution: "1D",
        timezone: None,
        symbols: 1,
    },
];

fn data_rows(path: &Path) -> u64 {
    std::fs::read_to_string(path).unwrap().lines().skip(1).filter(|l| !l.trim().is_empty()).count() as u64
}

#[tokio::test]
async fn every_fixture_file_imports_whole() {
    let Some(root) = fixtures() else { return };
    let t = app().await;
    let mut expected_bars = 0;
    let mut symbols = std::collections::BTreeSet::new();
    for c in CASES {
        let path = root.join(c.file);
        let opts = BarImportOptions {
            file_name: c.file.into(),
            symbol: c.symbol.map(|s| Symbol::new(s).unwrap()),
            resolution: Resolution::parse(c.resolution).unwrap(),
            timezone: c.timezone.map(|z| z.parse().unwrap()),
            columns: ColumnMap::default(),
        };
        let parsed = quantdesk_ingest::parse_bars(std::fs::File::open(&path).unwrap(), &opts, &mut |_| {})
            .unwrap_or_else(|e| panic!("{e}"));
        symbols.extend(parsed.series.keys().map(|s| s.to_string()));
        let report = write_bars(&*t.store, &parsed, &|_| {}).await.unwrap();
        let rows = data_rows(&path);
        assert_eq!(report.rows, rows, "{}", c.file);
        assert_eq!(report.bars, rows, "{}: every row is a bar", c.file);
        assert_eq!(report.symbols as usize, c.symbols, "{}", c.file);
        expected_bars += rows;
    }
    assert_eq!(t.store.bar_count().await.unwrap(), expected_bars);
    // adj_close columns became adjustment factors
    let aapl = t.store.adj_factors(&Symbol::new("AAPL").unwrap()).await.unwrap();
    assert!(aapl.len() > 400 && aapl.iter().all(|f| f.factor > 0.9 && f.factor < 1.01), "{}", aapl.len());

    let master = root.join("cn/instruments.csv");
    let n = quantdesk_app::market::import_instruments_bytes(
        t.store.clone(),
        std::fs::read(&master).unwrap(),
        "instruments.csv".into(),
    )
    .await
    .unwrap();
    assert_eq!(n, data_rows(&master));
    let maotai = t.store.instrument(&Symbol::new("600519.SH").unwrap()).await.unwrap().unwrap();
    assert_eq!((maotai.name.as_str(), maotai.abbrev.as_str(), maotai.board.as_str()), ("贵州茅台", "GZMT", "main"));
    // re-importing changes nothing
    let again = quantdesk_app::market::import_instruments_bytes(
        t.store.clone(),
        std::fs::read(&master).unwrap(),
        "instruments.csv".into(),
    )
    .await
    .unwrap();
    assert_eq!(again, n);
    let text = std::fs::read_to_string(&master).unwrap();
    symbols.extend(text.lines().skip(1).map(|l| l.split(',').next().unwrap().to_string()));
    assert_eq!(t.store.count_instruments(&Default::default()).await.unwrap(), symbols.len() as u64);
}

/// A daily row: time and (o, h, l, c, v).
type DailyRow = (i64, [f64; 5]);

/// Rows of a daily file, read independently of the importer.
fn read_daily(path: &Path) -> Vec<DailyRow> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let t = common::day(f[0]);
            let n = |i: usize| f[i].parse::<f64>().unwrap();
            (t, [n(1), n(2), n(3), n(4), n(5)])
        })
        .collect()
}

async fn import_index(t: &common::TestApp, root: &Path) {
    let (s, v) = t
        .upload(
            "/api/v1/imports/bars",
            &[("symbol", "000001.SH"), ("resolution", "1D")],
            "sh000001_1d.csv",
            &std::fs::read(root.join("cn/sh000001_1d.csv")).unwrap(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn sse_composite_comes_back_through_udf_bar_for_bar() {
    let Some(root) = fixtures() else { return };
    let t = app().await;
    import_index(&t, &root).await;
    let rows = read_daily(&root.join("cn/sh000001_1d.csv"));
    let (_, v) = t.get_json("/udf/history?symbol=000001.SH&resolution=1D&from=0&to=4102444800").await;
    assert_eq!(v["s"], "ok");
    let col = |k: &str| v[k].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect::<Vec<_>>();
    let (t_, o, h, l, c, vol) = (col("t"), col("o"), col("h"), col("l"), col("c"), col("v"));
    assert_eq!(t_.len(), rows.len());
    for (i, (time, [ro, rh, rl, rc, rv])) in rows.iter().enumerate() {
        assert_eq!(t_[i] as i64, *time, "row {i}");
        assert_eq!((o[i], h[i], l[i], c[i], vol[i]), (*ro, *rh, *rl, *rc, *rv), "row {i}");
    }
}

#[tokio::test]
async fn weekly_and_monthly_index_bars_match_an_independent_aggregation() {
    let Some(root) = fixtures() else { return };
    let t = app().await;
    import_index(&t, &root).await;
    let rows = read_daily(&root.join("cn/sh000001_1d.csv"));
    for (res, key) in [("1W", 0u8), ("1M", 1u8)] {
        let mut groups: BTreeMap<(i32, u32), Vec<&DailyRow>> = BTreeMap::new();
        for r in &rows {
            let d = chrono::DateTime::from_timestamp(r.0, 0).unwrap().date_naive();
            let k = if key == 0 { (d.iso_week().year(), d.iso_week().week()) } else { (d.year(), d.month()) };
            groups.entry(k).or_default().push(r);
        }
        let (_, v) = t.get_json(&format!("/udf/history?symbol=000001.SH&resolution={res}&from=0&to=4102444800")).await;
        let ts = v["t"].as_array().unwrap();
        assert_eq!(ts.len(), groups.len(), "{res}");
        for (i, g) in groups.values().enumerate() {
            let high = g.iter().map(|r| r.1[1]).fold(f64::MIN, f64::max);
            let low = g.iter().map(|r| r.1[2]).fold(f64::MAX, f64::min);
            let vol: f64 = g.iter().map(|r| r.1[4]).sum();
            assert_eq!(ts[i].as_i64().unwrap(), g[0].0, "{res} #{i} stamped with its first trading day");
            assert_eq!(v["o"][i].as_f64().unwrap(), g[0].1[0]);
            assert_eq!(v["h"][i].as_f64().unwrap(), high);
            assert_eq!(v["l"][i].as_f64().unwrap(), low);
            assert_eq!(v["c"][i].as_f64().unwrap(), g[g.len() - 1].1[3]);
            assert!((v["v"][i].as_f64().unwrap() - vol).abs() <= vol * 1e-12);
        }
    }
}

#[tokio::test]
async fn hourly_stock_bars_build_daily_bars() {
    let Some(root) = fixtures() else { return };
    let t = app().await;
    let (s, v) = t
        .upload(
            "/api/v1/imports/bars",
            &[("resolution", "60"), ("symbol_column", "ts_code")],
            "sse50_60m.csv",
            &std::fs::read(root.join("cn/sse50_60m.csv")).unwrap(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    // independent aggregation of 600000.SH by local date
    let text = std::fs::read_to_string(root.join("cn/sse50_60m.csv")).unwrap();
    let mut days: BTreeMap<String, Vec<[f64; 4]>> = BTreeMap::new();
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if f[1] == "600000.SH" {
            let n = |i: usize| f[i].parse::<f64>().unwrap();
            days.entry(f[0][..10].to_string()).or_default().push([n(2), n(3), n(4), n(5)]);
        }
    }
    let (_, v) = t.get_json("/udf/history?symbol=600000.SH&resolution=1D&from=0&to=4102444800").await;
    let ts = v["t"].as_array().unwrap();
    assert_eq!(ts.len(), days.len());
    for (i, (date, bars)) in days.iter().enumerate() {
        assert_eq!(ts[i].as_i64().unwrap(), common::day(date));
        assert_eq!(v["o"][i].as_f64().unwrap(), bars[0][0], "{date}");
        assert_eq!(v["h"][i].as_f64().unwrap(), bars.iter().map(|b| b[1]).fold(f64::MIN, f64::max), "{date}");
        assert_eq!(v["l"][i].as_f64().unwrap(), bars.iter().map(|b| b[2]).fold(f64::MAX, f64::min), "{date}");
        assert_eq!(v["c"][i].as_f64().unwrap(), bars[bars.len() - 1][3], "{date}");
    }
    // hourly bars come back as stored: 10:30 Shanghai is 02:30 UTC
    let (_, v) = t.get_json("/udf/history?symbol=600000.SH&resolution=60&from=0&to=4102444800&countback=5").await;
    assert_eq!(v["t"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn dow_constituent_adjustment_reproduces_adj_close() {
    let Some(root) = fixtures() else { return };
    let t = app().await;
    let (s, _) = t
        .upload(
            "/api/v1/imports/bars",
            &[("resolution", "1D")],
            "dj30_1d.csv",
            &std::fs::read(root.join("us/dj30_1d.csv")).unwrap(),
        )
        .await;
    assert_eq!(s, 200);
    // hfq = close × (adj_close / close) = adj_close
    let text = std::fs::read_to_string(root.join("us/dj30_1d.csv")).unwrap();
    let adj: Vec<f64> = text
        .lines()
        .skip(1)
        .filter(|l| l.contains(",AAPL,"))
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    let (_, v) = t.get_json("/udf/history?symbol=AAPL&resolution=1D&from=0&to=4102444800&adjustment=hfq").await;
    let c = v["c"].as_array().unwrap();
    assert_eq!(c.len(), adj.len());
    for (got, want) in c.iter().zip(&adj) {
        assert!((got.as_f64().unwrap() - want).abs() < 1e-5, "{got} vs {want}");
    }
}
