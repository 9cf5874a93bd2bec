//! Chan-theory structures over HTTP: `/api/v1/chan/{symbol}`, the UDF marks and the
//! chanvis-compatible endpoints answer what `quantdesk_chan::analyze` finds in the stored bars.

mod common;

use std::fmt::Write as _;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{TestApp, app, fixtures};
use quantdesk_app::chan::{ChanProfile, iso, to_api};
use quantdesk_chan::{Analysis, Profile, analyze};
use quantdesk_core::{Adjustment, Bar, Resolution, Symbol};
use serde_json::Value;

const SYMBOL: &str = "600519.SH";

/// Weekdays from 2015-01-05 (a Monday), `days` of them.
fn dates(days: usize) -> Vec<chrono::NaiveDate> {
    let mut d = chrono::NaiveDate::from_ymd_opt(2015, 1, 5).unwrap();
    let mut out = Vec::with_capacity(days);
    while out.len() < days {
        use chrono::Datelike;
        if d.weekday().num_days_from_monday() < 5 {
            out.push(d);
        }
        d = d.succ_opt().unwrap();
    }
    out
}

/// A deterministic series of waves of several lengths, which has strokes, segments, pivots and
/// buy/sell points. Rows from index `perturb_from` on are moved (a different future).
fn waves_csv(days: usize, perturb_from: Option<usize>) -> String {
    let mut s = String::from("date,open,high,low,close,volume\n");
    let mut prev = 100.0_f64;
    for (i, date) in dates(days).into_iter().enumerate() {
        let x = i as f64;
        let mut close = 100.0 + 30.0 * (x / 70.0).sin() + 9.0 * (x / 9.0).sin() + 4.0 * (x / 3.1).sin();
        if perturb_from.is_some_and(|k| i >= k) {
            close += 15.0 + 5.0 * (x / 2.0).cos();
        }
        let open = prev;
        let high = open.max(close) + 0.3 + ((i * 7) % 5) as f64 * 0.2;
        let low = open.min(close) - 0.3 - ((i * 3) % 4) as f64 * 0.2;
        writeln!(s, "{date},{open:.2},{high:.2},{low:.2},{close:.2},{}", 1000 + i).unwrap();
        prev = close;
    }
    s
}

async fn import(t: &TestApp, csv: &str) {
    let (s, v) =
        t.upload("/api/v1/imports/bars", &[("symbol", SYMBOL), ("resolution", "1D")], "w.csv", csv.as_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

async fn stored(t: &TestApp) -> Vec<Bar> {
    t.store.bars(&Symbol::new(SYMBOL).unwrap(), Resolution::Day, i64::MIN, i64::MAX, None).await.unwrap()
}

fn expected(symbol: &str, res: Resolution, profile: ChanProfile, adj: Adjustment, bars: &[Bar]) -> (Analysis, Value) {
    let a = analyze(bars, &profile.engine().config()).unwrap();
    let v = serde_json::to_value(to_api(symbol, res, profile, adj, bars, &a)).unwrap();
    (a, v)
}

/// Every string in `v` that reads as an RFC 3339 instant, in Unix seconds.
fn instants(v: &Value, out: &mut Vec<i64>) {
    match v {
        Value::String(s) => {
            if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
                out.push(d.timestamp());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| instants(x, out)),
        Value::Object(m) => m.values().for_each(|x| instants(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_api_answers_what_the_engine_finds_in_the_stored_bars() {
    let t = app().await;
    import(&t, &waves_csv(1200, None)).await;
    let bars = stored(&t).await;
    assert_eq!(bars.len(), 1200);

    for profile in ["chanpy", "czsc"] {
        let (s, v) = t.get_json(&format!("/api/v1/chan/{SYMBOL}?resolution=1D&profile={profile}&adjustment=qfq")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let p = ChanProfile::parse(profile).unwrap();
        let (a, want) = expected(SYMBOL, Resolution::Day, p, Adjustment::Qfq, &bars);
        assert_eq!(v, want, "{profile}");
        assert!(!a.strokes.is_empty() && !a.segments.is_empty() && !a.pivots.is_empty() && !a.signals.is_empty());

        // The mapping itself, field by field, against the engine's model.
        assert_eq!(v["symbol"], SYMBOL);
        assert_eq!(v["resolution"], "1D");
        assert_eq!(v["profile"], profile);
        assert_eq!(v["bars"], 1200);
        assert_eq!(v["merged_bars"].as_array().unwrap().len(), a.merged_bars.len());
        assert_eq!(v["fractals"].as_array().unwrap().len(), a.fractals.len());
        assert_eq!(v["segments"].as_array().unwrap().len(), a.segments.len());
        assert_eq!(v["pivots"].as_array().unwrap().len(), a.pivots.len());
        let strokes = v["strokes"].as_array().unwrap();
        assert_eq!(strokes.len(), a.strokes.len());
        for (got, s) in strokes.iter().zip(&a.strokes) {
            let day = chrono::DateTime::from_timestamp(s.begin_time, 0).unwrap().date_naive();
            assert_eq!(got["begin_time"], format!("{day}T00:00:00Z"));
            assert_eq!(got["begin_price"].as_f64().unwrap(), s.begin_price);
            assert_eq!(got["end_price"].as_f64().unwrap(), s.end_price);
            assert_eq!(got["direction"], if s.direction == quantdesk_chan::Direction::Up { "up" } else { "down" });
            assert_eq!(got["confirmed"], s.confirmed);
        }
        let signals = v["signals"].as_array().unwrap();
        assert_eq!(signals.len(), a.signals.len());
        for (got, s) in signals.iter().zip(&a.signals) {
            let classes: Vec<&str> = s.classes.iter().map(|c| c.as_str()).collect();
            assert_eq!(got["classes"], serde_json::json!(classes));
            assert_eq!(got["rule"], s.rule.as_str());
            assert_eq!(got["time"], iso(s.time));
            assert_eq!(got["price"].as_f64().unwrap(), s.price);
            let side = if s.side == quantdesk_chan::Side::Buy { "B" } else { "S" };
            assert_eq!(got["label"], format!("{side}{}", &classes[0][..1]));
        }
    }
    // The defaults are 1D, chanpy and qfq.
    let (_, v) = t.get_json(&format!("/api/v1/chan/{SYMBOL}")).await;
    assert_eq!(v, expected(SYMBOL, Resolution::Day, ChanProfile::Chanpy, Adjustment::Qfq, &bars).1);
    // `from` starts the analysis later.
    let from = bars[300].time;
    let (_, v) = t.get_json(&format!("/api/v1/chan/{SYMBOL}?from={}", iso(from))).await;
    assert_eq!(v, expected(SYMBOL, Resolution::Day, ChanProfile::Chanpy, Adjustment::Qfq, &bars[300..]).1);
}

#[tokio::test]
async fn until_clips_the_bars_and_nothing_after_it_matters() {
    let t = app().await;
    import(&t, &waves_csv(1200, None)).await;
    let bars = stored(&t).await;
    for k in [37, 500, 801, 1199] {
        let until = bars[k].time;
        let (s, v) = t.get_json(&format!("/api/v1/chan/{SYMBOL}?until={}", iso(until))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(
            v,
            expected(SYMBOL, Resolution::Day, ChanProfile::Chanpy, Adjustment::Qfq, &bars[..k]).1,
            "until bar {k}"
        );
        let mut times = Vec::new();
        instants(&v, &mut times);
        assert!(times.len() > 10 && times.iter().all(|&x| x < until), "a time at or after until {k}");
        // Unix seconds and a date name the same instant.
        let (_, by_secs) = t.get_json(&format!("/api/v1/chan/{SYMBOL}?until={until}")).await;
        assert_eq!(by_secs, v);
    }

    // Weekly bars with the cursor on a Wednesday: the week in progress is built from the days
    // before the cursor only, so a different future changes nothing.
    let wednesday = dates(1200).into_iter().position(|d| d.format("%Y-%m-%d").to_string() == "2017-06-14").unwrap();
    let cursor = iso(bars[wednesday].time);
    let (s, before) = t.get_json(&format!("/api/v1/chan/{SYMBOL}?resolution=1W&until={cursor}")).await;
    assert_eq!(s, StatusCode::OK, "{before}");
    let (_, daily_before) = t.get_json(&format!("/api/v1/chan/{SYMBOL}?until={cursor}")).await;
    import(&t, &waves_csv(1200, Some(wednesday))).await;
    let changed = stored(&t).await;
    assert_ne!(changed[wednesday + 1].close, bars[wednesday + 1].close, "the future was rewritten");
    let (_, after) = t.get_json(&format!("/api/v1/chan/{SYMBOL}?resolution=1W&until={cursor}")).await;
    assert_eq!(before, after, "bars after the cursor changed a weekly answer");
    let (_, daily_after) = t.get_json(&format!("/api/v1/chan/{SYMBOL}?until={cursor}")).await;
    assert_eq!(daily_before, daily_after);
    // Without the cursor the new future shows.
    let (_, whole) = t.get_json(&format!("/api/v1/chan/{SYMBOL}?resolution=1W")).await;
    assert_ne!(whole["last_bar"], before["last_bar"]);
}

#[tokio::test]
async fn errors_are_json_with_stable_codes() {
    let t = app().await;
    import(&t, &waves_csv(300, None)).await;
    let cases = [
        (format!("/api/v1/chan/{SYMBOL}?profile=chan"), 400, "bad_request"),
        (format!("/api/v1/chan/{SYMBOL}?resolution=2H"), 400, "bad_request"),
        (format!("/api/v1/chan/{SYMBOL}?adjustment=fq"), 400, "bad_request"),
        ("/api/v1/chan/bad%20symbol".to_string(), 400, "bad_request"),
        (format!("/api/v1/chan/{SYMBOL}?until=yesterday"), 422, "bad_instant"),
        (format!("/api/v1/chan/{SYMBOL}?from=2016-01-01&until=2015-06-01"), 422, "bad_range"),
        ("/api/v1/chan/000001.SZ".to_string(), 404, "not_found"),
        (format!("/api/v1/chan/{SYMBOL}?until=2000-01-01"), 404, "not_found"),
        ("/api/bzxd_mark?symbol=600519.SH&tf=1D&mtype=ma5_dg".to_string(), 400, "bad_request"),
        ("/api/bzxd_mark?tf=1D".to_string(), 400, "bad_request"),
        ("/api/bzzs_mark?symbol=600519.SH&tf=240".to_string(), 400, "bad_request"),
        ("/api/get_bspoint?symbol=000001.SZ&resolution=1D".to_string(), 404, "not_found"),
        ("/api/get_upper_fx?symbol=600519.SH&resolution=1M".to_string(), 400, "bad_request"),
        ("/api/get_upper_fx?symbol=600519.SH&resolution=1D&fx_jibie=uncle".to_string(), 400, "bad_request"),
    ];
    for (uri, status, code) in cases {
        let (s, v) = t.get_json(&uri).await;
        assert_eq!(s.as_u16(), status, "{uri}: {v}");
        assert_eq!(v["error"]["code"], code, "{uri}: {v}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{uri}");
    }
}

#[tokio::test]
async fn every_chan_route_needs_credentials() {
    let t = app().await;
    import(&t, &waves_csv(100, None)).await;
    for uri in [
        "/api/v1/chan/600519.SH",
        "/api/bzxd_mark?symbol=600519.SH&tf=1D",
        "/api/bzzs_mark?symbol=600519.SH&tf=1D",
        "/api/get_bspoint?symbol=600519.SH&resolution=1D",
        "/api/get_upper_fx?symbol=600519.SH&resolution=1D",
        "/udf/marks?symbol=600519.SH&from=0&to=2000000000&resolution=1D",
    ] {
        let (s, _, body) = t.request_as_is(Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{uri}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "unauthenticated");
    }
    // A key with the read scope is enough.
    let reader =
        common::user_with_key(&t.state, "reader@test.example", quantdesk_store::auth::Role::Viewer, &["read"]).await;
    for uri in ["/api/v1/chan/600519.SH", "/api/bzxd_mark?symbol=600519.SH&tf=1D"] {
        let req = Request::get(uri).header("authorization", format!("Bearer {reader}")).body(Body::empty()).unwrap();
        let (s, _, _) = t.request_as_is(req).await;
        assert_eq!(s, StatusCode::OK, "{uri}");
    }
}

#[tokio::test]
async fn udf_marks_carry_one_mark_per_signal_in_range() {
    let t = app().await;
    import(&t, &waves_csv(1200, None)).await;
    let bars = stored(&t).await;
    let (_, cfg) = t.get_json("/udf/config").await;
    assert_eq!(cfg["supports_marks"], true);

    let (from, to) = (bars[400].time, bars[1000].time);
    let (s, v) = t.get_json(&format!("/udf/marks?symbol={SYMBOL}&from={from}&to={to}&resolution=1D")).await;
    assert_eq!(s, StatusCode::OK);
    // The UDF table form: one array per field, all of one length.
    let fields = ["id", "time", "color", "text", "label", "labelFontColor", "minSize"];
    let n = v["id"].as_array().unwrap().len();
    for f in fields {
        assert_eq!(v[f].as_array().map(Vec::len), Some(n), "{f}: {v}");
    }
    assert_eq!(v.as_object().unwrap().len(), fields.len());
    // The analysis sees the bars before `to` only; the marks are its signals in [from, to).
    let a = analyze(&bars[..1000], &Profile::Chanpy.config()).unwrap();
    let want: Vec<&quantdesk_chan::Signal> = a.signals.iter().filter(|s| s.time >= from && s.time < to).collect();
    assert!(want.len() >= 3, "the waves have buy/sell points in range: {}", want.len());
    let chan: Vec<usize> = (0..n).filter(|&i| v["id"][i].as_str().unwrap().starts_with("chan-")).collect();
    assert_eq!(chan.len(), want.len(), "one mark per signal: {v}");
    let mut ids = std::collections::BTreeSet::new();
    for (&i, s) in chan.iter().zip(&want) {
        assert!(ids.insert(v["id"][i].as_str().unwrap().to_string()), "ids are unique");
        assert_eq!(v["time"][i].as_i64(), Some(s.time));
        let buy = s.side == quantdesk_chan::Side::Buy;
        assert_eq!(v["color"][i], if buy { "red" } else { "green" });
        let label = v["label"][i].as_str().unwrap();
        assert_eq!(label, quantdesk_app::chan::signal_label(s));
        assert!(label.starts_with(if buy { 'B' } else { 'S' }));
        let text = v["text"][i].as_str().unwrap();
        assert!(text.contains(&s.rule) && text.contains(s.classes[0].as_str()), "{text}");
    }
    // The chart page's green-up setting swaps the colours.
    let (_, g) =
        t.get_json(&format!("/udf/marks?symbol={SYMBOL}&from={from}&to={to}&resolution=1D&colours=green-up")).await;
    for &i in &chan {
        let buy = g["id"][i].as_str().unwrap().contains("-buy-");
        assert_eq!(g["color"][i], if buy { "green" } else { "red" });
    }
    // Protocol errors stay in the protocol.
    // Each kind alone (issue 21, 4: the chart's limit-day overlay must not get Chan points and
    // call them limit-down days): `kinds=limit` has no Chan mark, `kinds=chan` no limit mark.
    let (_, limits) =
        t.get_json(&format!("/udf/marks?symbol={SYMBOL}&from={from}&to={to}&resolution=1D&kinds=limit")).await;
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["id"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect()
    };
    assert!(ids(&limits).iter().all(|i| i.starts_with("limit-")), "{limits}");
    let (_, chan_only) =
        t.get_json(&format!("/udf/marks?symbol={SYMBOL}&from={from}&to={to}&resolution=1D&kinds=chan")).await;
    assert_eq!(ids(&chan_only).len(), chan.len());
    assert!(ids(&chan_only).iter().all(|i| i.starts_with("chan-")), "{chan_only}");
    let (_, both) =
        t.get_json(&format!("/udf/marks?symbol={SYMBOL}&from={from}&to={to}&resolution=1D&kinds=limit,chan")).await;
    assert_eq!(both["id"], v["id"], "both kinds are the default");
    let (_, bad) =
        t.get_json(&format!("/udf/marks?symbol={SYMBOL}&from={from}&to={to}&resolution=1D&kinds=moon")).await;
    assert_eq!(bad["s"], "error", "{bad}");
    let (s, e) = t.get_json(&format!("/udf/marks?symbol={SYMBOL}&from={from}&to={to}&resolution=7H")).await;
    assert_eq!((s, e["s"].as_str()), (StatusCode::OK, Some("error")));
}

#[tokio::test]
async fn chanvis_endpoints_answer_chanvis_shapes() {
    let t = app().await;
    import(&t, &waves_csv(1200, None)).await;
    let bars = stored(&t).await;
    let a = analyze(&bars, &Profile::Chanpy.config()).unwrap();
    let data = |v: &Value| -> Vec<Value> {
        assert_eq!(v["status"], "ok", "{v}");
        v["data"].as_array().unwrap().clone()
    };
    let dt_ok = |s: &Value| chrono::NaiveDateTime::parse_from_str(s.as_str().unwrap(), "%Y-%m-%d %H:%M:%S").is_ok();

    // Default mtype zzk: the turning bar of every stroke.
    let (s, v) = t.get_json("/api/bzxd_mark?symbol=600519.SH&tf=1D").await;
    assert_eq!(s, StatusCode::OK);
    let zzk = data(&v);
    assert_eq!(zzk.len(), a.strokes.len());
    for (z, st) in zzk.iter().zip(&a.strokes) {
        assert!(dt_ok(&z["dt"]));
        assert_eq!(z["ts"].as_i64(), Some(st.end_time));
        assert_eq!(z["direction"], if st.direction == quantdesk_chan::Direction::Up { "down" } else { "up" });
        assert!(z["high"].as_f64().unwrap() >= z["low"].as_f64().unwrap());
    }
    // xd_dg: segment end points, alternating high and low.
    let (_, v) = t.get_json("/api/bzxd_mark?symbol=600519.SH&tf=1D&mtype=xd_dg").await;
    let xd = data(&v);
    assert_eq!(xd.len(), a.segments.len() + 1);
    for w in xd.windows(2) {
        assert_ne!(w[0]["vtype"], w[1]["vtype"]);
        assert!(w[0]["ts"].as_i64() < w[1]["ts"].as_i64());
    }
    assert!(xd.iter().all(|p| ["ok", "last"].contains(&p["status"].as_str().unwrap()) && dt_ok(&p["dt"])));
    // kline_dg: every fractal.
    let (_, v) = t.get_json("/api/bzxd_mark?symbol=600519.SH&tf=1D&mtype=kline_dg").await;
    assert_eq!(data(&v).len(), a.fractals.len());
    // xdzs and bzzs: stroke and segment pivots as boxes.
    let (_, v) = t.get_json("/api/bzxd_mark?symbol=600519.SH&tf=1D&mtype=xdzs").await;
    let boxes = data(&v);
    assert_eq!(boxes.len(), a.pivots.iter().filter(|p| p.level == quantdesk_chan::Level::Stroke).count());
    for b in &boxes {
        assert!(dt_ok(&b["start_dt"]) && dt_ok(&b["end_dt"]) && b["zstext"].is_string());
        assert!(b["lower"].as_f64().unwrap() <= b["upper"].as_f64().unwrap());
    }
    let (_, v) = t.get_json("/api/bzzs_mark?symbol=600519.SH&tf=1D&mtype=bzzs").await;
    assert_eq!(data(&v).len(), a.pivots.iter().filter(|p| p.level == quantdesk_chan::Level::Segment).count());
    // bspoint and get_bspoint: every signal; 3_buysell: the class-3 ones.
    let (_, v) = t.get_json("/api/bzxd_mark?symbol=600519.SH&tf=1D&mtype=bspoint").await;
    let points = data(&v);
    assert_eq!(points.len(), a.signals.len());
    assert!(points.iter().all(|p| ["long", "short"].contains(&p["bstype"].as_str().unwrap())));
    // jqdata's 600519.XSHG reads as 600519.SH.
    let (s, v) = t.get_json("/api/get_bspoint?symbol=600519.XSHG&resolution=1D").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let bsp = data(&v);
    assert_eq!(bsp.len(), a.signals.len());
    for (p, sig) in bsp.iter().zip(&a.signals) {
        assert!(dt_ok(&p["dt"]));
        assert_eq!(p["bs_type"], quantdesk_app::chan::signal_label(sig));
    }
    let (_, v) = t.get_json("/api/bzzs_mark?symbol=600519.SH&tf=1D&mtype=3_buysell").await;
    let third = data(&v);
    let want = a.signals.iter().filter(|s| s.classes.iter().any(|c| c.as_str().starts_with('3'))).count();
    assert_eq!(third.len(), want);
    assert!(third.iter().all(|p| ["buy", "sell"].contains(&p["3_buysell"].as_str().unwrap())));
    // czxd_dg: segments of segments.
    let (_, v) = t.get_json("/api/bzzs_mark?symbol=600519.SH&tf=1D").await;
    let cz = data(&v);
    assert_eq!(cz.len(), if a.segments_of_segments.is_empty() { 0 } else { a.segments_of_segments.len() + 1 });
    assert!(cz.iter().all(|p| p["is_valid_czxd"].is_boolean()));
    // get_upper_fx: the weekly fractals as zones on the daily chart.
    let (_, v) = t.get_json("/api/get_upper_fx?symbol=600519.SH&resolution=1D&fx_jibie=father").await;
    let zones = data(&v);
    let (_, weekly) = t.get_json("/api/v1/chan/600519.SH?resolution=1W&adjustment=none").await;
    let inner = weekly["fractals"].as_array().unwrap().len();
    assert!(!zones.is_empty() && zones.len() <= inner && zones.len() + 2 >= inner, "{} of {inner}", zones.len());
    for z in &zones {
        assert!(z["start_ts"].as_i64() < z["end_ts"].as_i64() && dt_ok(&z["start_dt"]));
        assert!(z["high"].as_f64().unwrap() >= z["low"].as_f64().unwrap());
        assert_eq!(z["resolution"], "1W");
    }
    // A replay cursor: nothing at or after it.
    let cursor = bars[700].time;
    let (_, v) = t.get_json(&format!("/api/bzxd_mark?symbol=600519.SH&tf=1D&mtype=bspoint&until={cursor}")).await;
    let early = data(&v);
    assert_eq!(early.len(), analyze(&bars[..700], &Profile::Chanpy.config()).unwrap().signals.len());
    assert!(early.iter().all(|p| p["ts"].as_i64().unwrap() < cursor));
}

#[tokio::test]
async fn real_index_history_matches_the_engine() {
    let Some(root) = fixtures() else { return };
    let t = app().await;
    let csv = std::fs::read(root.join("cn/sh000001_1d.csv")).unwrap();
    let (s, v) =
        t.upload("/api/v1/imports/bars", &[("symbol", "000001.SH"), ("resolution", "1D")], "sh.csv", &csv).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let opts = quantdesk_ingest::BarImportOptions {
        file_name: "sh.csv".into(),
        symbol: Some(Symbol::new("000001.SH").unwrap()),
        resolution: Resolution::Day,
        timezone: None,
        columns: quantdesk_ingest::ColumnMap::default(),
    };
    let parsed = quantdesk_ingest::parse_bars(&csv[..], &opts, &mut |_| {}).unwrap();
    let bars = parsed.series.into_values().next().unwrap().bars;
    assert!(bars.len() > 4000);

    let (s, v) = t.get_json("/api/v1/chan/000001.SH?adjustment=none").await;
    assert_eq!(s, StatusCode::OK);
    let (a, want) = expected("000001.SH", Resolution::Day, ChanProfile::Chanpy, Adjustment::None, &bars);
    assert_eq!(v, want);
    assert!(a.strokes.len() > 100 && !a.signals.is_empty());

    // The 2015 top, replayed: the analysis at 2015-07-01 sees nothing of the crash after it.
    let cursor = "2015-07-01T00:00:00Z";
    let cut = chrono::DateTime::parse_from_rfc3339(cursor).unwrap().timestamp();
    let k = bars.partition_point(|b| b.time < cut);
    let (_, v) = t.get_json(&format!("/api/v1/chan/000001.SH?adjustment=none&until={cursor}")).await;
    assert_eq!(v, expected("000001.SH", Resolution::Day, ChanProfile::Chanpy, Adjustment::None, &bars[..k]).1);
    let mut times = Vec::new();
    instants(&v, &mut times);
    assert!(times.iter().all(|&x| x < cut));
}

#[tokio::test]
async fn two_levels_nest_lower_strokes_inside_higher_structures() {
    let t = app().await;
    import(&t, &waves_csv(2400, None)).await;
    let q = "resolution=1D&higher=1W&adjustment=none&profile=chanpy";
    let (s, v) = t.get_json(&format!("/api/v1/chan/{SYMBOL}/nest?{q}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Both levels are exactly what the single-level endpoint answers.
    let (_, daily) = t.get_json(&format!("/api/v1/chan/{SYMBOL}?resolution=1D&adjustment=none")).await;
    let (_, weekly) = t.get_json(&format!("/api/v1/chan/{SYMBOL}?resolution=1W&adjustment=none")).await;
    assert_eq!(v["lower"], daily);
    assert_eq!(v["higher"], weekly);
    let time = |x: &Value| chrono::DateTime::parse_from_rfc3339(x.as_str().unwrap()).unwrap().timestamp();
    let lower: Vec<(i64, i64)> =
        daily["strokes"].as_array().unwrap().iter().map(|s| (time(&s["begin_time"]), time(&s["end_time"]))).collect();
    let nests = v["nests"].as_array().unwrap();
    let kinds = |k: &str| nests.iter().filter(|n| n["structure"] == k).count();
    assert_eq!(kinds("stroke"), weekly["strokes"].as_array().unwrap().len());
    assert_eq!(kinds("segment"), weekly["segments"].as_array().unwrap().len());
    assert_eq!(kinds("pivot"), weekly["pivots"].as_array().unwrap().len());
    assert!(kinds("stroke") > 2, "the weekly level has strokes: {weekly}");
    // Each nest lists exactly the daily strokes inside its span (the span's last week included).
    let mut nested = 0;
    for n in nests {
        let (begin, end) = (time(&n["begin_time"]), time(&n["end_time"]) + 7 * 86_400);
        let want: Vec<usize> =
            lower.iter().enumerate().filter(|(_, (b, e))| *b >= begin && *e < end).map(|(i, _)| i).collect();
        let got: Vec<usize> =
            n["lower_strokes"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
        assert_eq!(got, want, "{n}");
        nested += got.len();
    }
    assert!(nested > 0, "some daily strokes lie inside weekly structures");

    let (s, v) = t.get_json(&format!("/api/v1/chan/{SYMBOL}/nest?resolution=1W&higher=1D")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("bad_level")));
    let (s, v) = t.get_json(&format!("/api/v1/chan/{SYMBOL}/nest?resolution=1M")).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("bad_level")),
        "1M has no higher level"
    );
    let (s, _) = t.get_json(&format!("/api/v1/chan/{SYMBOL}/nest?higher=1")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = t.get_json("/api/v1/chan/000001.SZ/nest").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
