//! The UDF datafeed, checked field by field against the protocol TradingView's UDF adapter speaks.

mod common;

use common::{app, day};
use quantdesk_core::{AdjFactor, Bar, Instrument, InstrumentKind, Resolution, Symbol};
use quantdesk_store::BarSeriesWrite;
use serde_json::{Value, json};

fn bar(t: i64, c: f64) -> Bar {
    Bar { time: t, open: c - 0.5, high: c + 1.0, low: c - 1.0, close: c, volume: 1000.0, amount: 1000.0 * c }
}

/// 600519.SH with ten daily bars 2024-01-01 .. 2024-01-10 (closes 100..109) and a factor step on the 6th.
async fn seeded() -> common::TestApp {
    let t = app().await;
    let mut inst = Instrument::with_defaults(Symbol::new("600519.SH").unwrap(), "贵州茅台", InstrumentKind::Stock);
    inst.abbrev = "GZMT".into();
    t.store.upsert_instruments(&[inst]).await.unwrap();
    let bars: Vec<Bar> = (0..10).map(|i| bar(day("2024-01-01") + i * 86_400, 100.0 + i as f64)).collect();
    let factors = [
        AdjFactor { date: "2024-01-01".parse().unwrap(), factor: 1.0 },
        AdjFactor { date: "2024-01-06".parse().unwrap(), factor: 1.25 },
    ];
    let sym = Symbol::new("600519.SH").unwrap();
    t.store
        .import_bars(
            Resolution::Day,
            &[BarSeriesWrite { symbol: &sym, bars: &bars, factors: &factors, calendar: Some("SSE") }],
            &|_| {},
        )
        .await
        .unwrap();
    t
}

#[tokio::test]
async fn config_declares_search_mode_and_resolutions() {
    let t = app().await;
    let (s, v) = t.get_json("/udf/config").await;
    assert_eq!(s, 200);
    assert_eq!(v["supports_search"], true);
    assert_eq!(v["supports_group_request"], false);
    assert_eq!(v["supports_time"], true);
    assert_eq!(v["supports_marks"], true);
    assert_eq!(v["supports_timescale_marks"], true);
    assert_eq!(v["supported_resolutions"], json!(["1", "5", "15", "30", "60", "1D", "1W", "1M"]));
    assert!(v["exchanges"].as_array().unwrap().iter().any(|e| e["value"] == "SSE"));
    assert!(v["symbols_types"].as_array().unwrap().iter().any(|e| e["value"] == "stock"));
}

#[tokio::test]
async fn symbol_info_for_an_a_share() {
    let t = seeded().await;
    for q in ["600519.SH", "SSE:600519.SH", "600519.sh"] {
        let (s, v) = t.get_json(&format!("/udf/symbols?symbol={q}")).await;
        assert_eq!(s, 200);
        assert_eq!(v["name"], "600519.SH", "{q}");
        assert_eq!(v["ticker"], "600519.SH");
        assert_eq!(v["description"], "贵州茅台");
        assert_eq!(v["type"], "stock");
        assert_eq!(v["session"], "0930-1130,1300-1500");
        assert_eq!(v["timezone"], "Asia/Shanghai");
        assert_eq!(v["exchange"], "SSE");
        assert_eq!(v["listed_exchange"], "SSE");
        assert_eq!(v["minmov"], 1);
        assert_eq!(v["pricescale"], 100);
        assert_eq!(v["format"], "price");
        assert_eq!(v["has_intraday"], false, "only daily bars are stored");
        assert_eq!(v["has_daily"], true);
        assert_eq!(v["has_weekly_and_monthly"], true);
        assert_eq!(v["supported_resolutions"], json!(["1D", "1W", "1M"]));
        assert_eq!(v["currency_code"], "CNY");
    }
}

#[tokio::test]
async fn unknown_symbol_and_missing_symbol() {
    let t = seeded().await;
    let (s, v) = t.get_json("/udf/symbols?symbol=600000.SH").await;
    assert_eq!(s, 200);
    assert_eq!(v, json!({"s": "error", "errmsg": "unknown_symbol"}));
    let (_, v) = t.get_json("/udf/symbols").await;
    assert_eq!(v["s"], "error");
    let (_, v) = t.get_json("/udf/history?symbol=NOPE&resolution=1D&from=0&to=2000000000").await;
    assert_eq!(v, json!({"s": "error", "errmsg": "unknown_symbol"}));
}

#[tokio::test]
async fn search_matches_code_name_and_pinyin() {
    let t = seeded().await;
    for q in ["600519", "茅台", "gzmt", "GZ"] {
        let (s, v) = t.get_json(&format!("/udf/search?query={}&limit=10", urlencode(q))).await;
        assert_eq!(s, 200);
        let items = v.as_array().unwrap();
        assert_eq!(items.len(), 1, "{q}: {v}");
        let item = &items[0];
        assert_eq!(item["symbol"], "600519.SH");
        assert_eq!(item["full_name"], "SSE:600519.SH");
        assert_eq!(item["description"], "贵州茅台");
        assert_eq!(item["exchange"], "SSE");
        assert_eq!(item["ticker"], "600519.SH");
        assert_eq!(item["type"], "stock");
    }
    let (_, v) = t.get_json("/udf/search?query=zzzz&limit=10").await;
    assert_eq!(v, json!([]));
    let (_, v) = t.get_json("/udf/search?query=600519&type=index").await;
    assert_eq!(v, json!([]), "type filter applies");
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn times(v: &Value) -> Vec<i64> {
    v["t"].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect()
}

#[tokio::test]
async fn history_range_is_from_inclusive_to_exclusive() {
    let t = seeded().await;
    let (s, v) = t
        .get_json(&format!(
            "/udf/history?symbol=600519.SH&resolution=1D&from={}&to={}",
            day("2024-01-03"),
            day("2024-01-06")
        ))
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["s"], "ok");
    assert_eq!(times(&v), vec![day("2024-01-03"), day("2024-01-04"), day("2024-01-05")]);
    assert_eq!(v["c"], json!([102.0, 103.0, 104.0]));
    assert_eq!(v["o"], json!([101.5, 102.5, 103.5]));
    assert_eq!(v["h"], json!([103.0, 104.0, 105.0]));
    assert_eq!(v["l"], json!([101.0, 102.0, 103.0]));
    assert_eq!(v["v"], json!([1000.0, 1000.0, 1000.0]));
    for key in ["t", "o", "h", "l", "c", "v"] {
        assert_eq!(v[key].as_array().unwrap().len(), 3, "{key}");
    }
    // D spelling and daily stamps at 00:00 UTC
    let (_, v) = t
        .get_json(&format!(
            "/udf/history?symbol=600519.SH&resolution=D&from={}&to={}",
            day("2024-01-01"),
            day("2024-01-02")
        ))
        .await;
    assert_eq!(times(&v), vec![day("2024-01-01")]);
    assert_eq!(times(&v)[0] % 86_400, 0);
}

#[tokio::test]
async fn history_countback_wins_over_from() {
    let t = seeded().await;
    // the chart polls with countback=2; from is far too late to hold two bars
    let (_, v) = t
        .get_json(&format!(
            "/udf/history?symbol=600519.SH&resolution=1D&from={}&to={}&countback=2",
            day("2024-01-09"),
            day("2024-01-10")
        ))
        .await;
    assert_eq!(v["s"], "ok");
    assert_eq!(times(&v), vec![day("2024-01-08"), day("2024-01-09")]);
    let (_, v) = t
        .get_json(&format!("/udf/history?symbol=600519.SH&resolution=1D&to={}&countback=300", day("2030-01-01")))
        .await;
    let ts = times(&v);
    assert_eq!(ts.len(), 10);
    assert!(ts.windows(2).all(|w| w[0] < w[1]), "strictly ascending");
}

#[tokio::test]
async fn history_no_data_and_next_time() {
    let t = seeded().await;
    // after the data: nextTime is the latest bar before `from`, in seconds
    let (_, v) = t
        .get_json(&format!(
            "/udf/history?symbol=600519.SH&resolution=1D&from={}&to={}",
            day("2024-02-01"),
            day("2024-03-01")
        ))
        .await;
    assert_eq!(v, json!({"s": "no_data", "nextTime": day("2024-01-10")}));
    // before the data: nothing earlier exists
    let (_, v) = t
        .get_json(&format!(
            "/udf/history?symbol=600519.SH&resolution=1D&from={}&to={}",
            day("2023-01-01"),
            day("2023-06-01")
        ))
        .await;
    assert_eq!(v, json!({"s": "no_data"}));
    // countback before the data
    let (_, v) = t
        .get_json(&format!("/udf/history?symbol=600519.SH&resolution=1D&from=0&to={}&countback=5", day("2023-06-01")))
        .await;
    assert_eq!(v, json!({"s": "no_data"}));
    // intraday asked of a daily-only symbol: nothing can build it
    let (_, v) =
        t.get_json(&format!("/udf/history?symbol=600519.SH&resolution=5&from=0&to={}", day("2030-01-01"))).await;
    assert_eq!(v, json!({"s": "no_data"}));
}

#[tokio::test]
async fn history_rejects_bad_requests() {
    let t = seeded().await;
    for q in [
        "symbol=600519.SH&resolution=7&from=0&to=1",
        "symbol=600519.SH&resolution=1Y&from=0&to=1",
        "symbol=600519.SH&from=0&to=1",
        "symbol=600519.SH&resolution=1D&from=abc&to=1",
        "symbol=600519.SH&resolution=1D&from=0",
        "symbol=600519.SH&resolution=1D&to=100",
        "symbol=600519.SH&resolution=1D&from=10&to=1",
        "symbol=600519.SH&resolution=1D&to=1&countback=0",
        "symbol=600519.SH&resolution=1D&from=0&to=1&adjustment=sideways",
    ] {
        let (s, v) = t.get_json(&format!("/udf/history?{q}")).await;
        assert_eq!(s, 200, "{q}");
        assert_eq!(v["s"], "error", "{q}: {v}");
        assert!(!v["errmsg"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn history_weekly_monthly_and_adjustment() {
    let t = seeded().await;
    let to = day("2030-01-01");
    // 2024-01-01 is a Monday: week 1 = 01..07, week 2 = 08..10
    let (_, v) = t.get_json(&format!("/udf/history?symbol=600519.SH&resolution=W&from=0&to={to}")).await;
    assert_eq!(times(&v), vec![day("2024-01-01"), day("2024-01-08")]);
    assert_eq!(v["o"], json!([99.5, 106.5]));
    assert_eq!(v["c"], json!([106.0, 109.0]));
    assert_eq!(v["h"], json!([107.0, 110.0]));
    assert_eq!(v["v"], json!([7000.0, 3000.0]));
    let (_, v) = t.get_json(&format!("/udf/history?symbol=600519.SH&resolution=1M&from=0&to={to}")).await;
    assert_eq!(times(&v), vec![day("2024-01-01")]);
    // hfq = P × adj(t): closes before the 6th × 1, from the 6th × 1.25
    let (_, v) =
        t.get_json(&format!("/udf/history?symbol=600519.SH&resolution=1D&from=0&to={to}&adjustment=hfq")).await;
    assert_eq!(v["c"][4], json!(104.0));
    assert_eq!(v["c"][5], json!(131.25));
    // qfq = P × adj(t) / adj(latest in range)
    let (_, v) =
        t.get_json(&format!("/udf/history?symbol=600519.SH&resolution=1D&from=0&to={to}&adjustment=qfq")).await;
    assert_eq!(v["c"][4], json!(83.2));
    assert_eq!(v["c"][9], json!(109.0));
    // a range that ends before the step: latest in range has factor 1, nothing changes
    let (_, v) = t
        .get_json(&format!(
            "/udf/history?symbol=600519.SH&resolution=1D&from=0&to={}&adjustment=qfq",
            day("2024-01-06")
        ))
        .await;
    assert_eq!(v["c"][4], json!(104.0));
}

#[tokio::test]
async fn time_marks_timescale_marks_quotes() {
    let t = seeded().await;
    let (s, body) = t.get("/udf/time").await;
    assert_eq!(s, 200);
    let now: i64 = String::from_utf8(body).unwrap().parse().unwrap();
    assert!(now > 1_700_000_000);

    let (_, v) = t
        .get_json(&format!("/udf/timescale_marks?symbol=600519.SH&from=0&to={}&resolution=1D", day("2030-01-01")))
        .await;
    let marks = v.as_array().unwrap();
    assert_eq!(marks.len(), 1);
    assert_eq!(marks[0]["time"], day("2024-01-06"));
    for k in ["id", "color", "label", "tooltip"] {
        assert!(!marks[0][k].is_null(), "{k}");
    }

    let (_, v) =
        t.get_json(&format!("/udf/marks?symbol=600519.SH&from=0&to={}&resolution=1D", day("2030-01-01"))).await;
    for k in ["id", "time", "color", "text", "label", "labelFontColor", "minSize"] {
        assert!(v[k].is_array(), "{k}: {v}");
    }
    // the 01-06 step is +25 % raw but +1 % adjusted: not a limit-up day
    assert_eq!(v["time"], json!([]));

    let (_, v) = t.get_json("/udf/quotes?symbols=600519.SH,NOPE").await;
    assert_eq!(v["s"], "ok");
    let d = v["d"].as_array().unwrap();
    assert_eq!(d[0]["s"], "ok");
    assert_eq!(d[0]["n"], "600519.SH");
    assert_eq!(d[0]["v"]["lp"], 109.0);
    assert_eq!(d[0]["v"]["prev_close_price"], 108.0);
    assert_eq!(d[0]["v"]["ch"], 1.0);
    assert_eq!(d[0]["v"]["chp"], 0.93);
    assert_eq!(d[1]["s"], "error");
}

#[tokio::test]
async fn limit_up_and_down_days_are_marked() {
    let t = app().await;
    let sym = Symbol::new("600000.SH").unwrap();
    let mk = |d: &str, o: f64, h: f64, l: f64, c: f64| Bar {
        time: day(d),
        open: o,
        high: h,
        low: l,
        close: c,
        volume: 1.0,
        amount: 1.0,
    };
    let bars = [
        mk("2024-01-02", 10.0, 10.0, 10.0, 10.0),
        mk("2024-01-03", 10.2, 11.0, 10.1, 11.0), // +10 % at the high: limit up
        mk("2024-01-04", 11.0, 11.2, 9.9, 9.9),   // −10 % at the low: limit down
        mk("2024-01-05", 9.9, 10.5, 9.8, 10.4),   // ordinary
    ];
    t.store
        .import_bars(
            Resolution::Day,
            &[BarSeriesWrite { symbol: &sym, bars: &bars, factors: &[], calendar: None }],
            &|_| {},
        )
        .await
        .unwrap();
    let (_, v) =
        t.get_json(&format!("/udf/marks?symbol=600000.SH&from=0&to={}&resolution=1D", day("2030-01-01"))).await;
    assert_eq!(v["time"], json!([day("2024-01-03"), day("2024-01-04")]));
    assert_eq!(v["color"], json!(["red", "green"]));
}

#[tokio::test]
async fn intraday_resampling_through_the_datafeed() {
    let t = app().await;
    let sym = Symbol::new("600036.SH").unwrap();
    let session = quantdesk_core::Session::a_share();
    // One day of 1-minute bars: 240 minutes, close = minute index.
    let base = day("2024-03-01") - 8 * 3600; // 00:00 Shanghai in UTC
    let bars: Vec<Bar> = (0..240u32)
        .map(|i| {
            let m = session.minute_of_day(i).unwrap();
            let t = base + i64::from(m) * 60;
            let p = 10.0 + f64::from(i);
            Bar { time: t, open: p, high: p + 0.5, low: p - 0.5, close: p + 0.25, volume: 1.0, amount: 1.0 }
        })
        .collect();
    t.store
        .import_bars(
            Resolution::Minutes(1),
            &[BarSeriesWrite { symbol: &sym, bars: &bars, factors: &[], calendar: None }],
            &|_| {},
        )
        .await
        .unwrap();
    let (_, info) = t.get_json("/udf/symbols?symbol=600036.SH").await;
    assert_eq!(info["has_intraday"], true);
    assert_eq!(info["intraday_multipliers"], json!(["1", "5", "15", "30", "60"]));
    let to = day("2030-01-01");
    let (_, v) = t.get_json(&format!("/udf/history?symbol=600036.SH&resolution=60&from=0&to={to}")).await;
    let h0930 = base + 570 * 60;
    assert_eq!(times(&v), vec![h0930, h0930 + 3600, base + 780 * 60, base + 840 * 60]);
    assert_eq!(v["o"], json!([10.0, 70.0, 130.0, 190.0]));
    assert_eq!(v["c"], json!([69.25, 129.25, 189.25, 249.25]));
    assert_eq!(v["v"], json!([60.0, 60.0, 60.0, 60.0]));
    // countback on a derived resolution
    let (_, v) = t.get_json(&format!("/udf/history?symbol=600036.SH&resolution=30&to={to}&countback=3")).await;
    assert_eq!(times(&v), vec![base + 810 * 60, base + 840 * 60, base + 870 * 60]);
    // the partial bar containing `to` is left out: to is exclusive on bar opening times
    let (_, v) = t.get_json(&format!("/udf/history?symbol=600036.SH&resolution=60&from=0&to={}", h0930 + 3600)).await;
    assert_eq!(times(&v), vec![h0930]);
    assert_eq!(v["c"], json!([69.25]), "the whole first hour, not cut at `to`");
    // daily from minutes
    let (_, v) = t.get_json(&format!("/udf/history?symbol=600036.SH&resolution=1D&from=0&to={to}")).await;
    assert_eq!(times(&v), vec![day("2024-03-01")]);
    assert_eq!(v["h"], json!([249.5]));
    // nextTime in the target resolution
    let (_, v) = t
        .get_json(&format!(
            "/udf/history?symbol=600036.SH&resolution=60&from={}&to={}",
            day("2024-04-01"),
            day("2024-05-01")
        ))
        .await;
    assert_eq!(v, json!({"s": "no_data", "nextTime": base + 840 * 60}));
}
