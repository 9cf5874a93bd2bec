//! Conformance with chan.py (commit 429d6ed, default config, one level, raw prices) on the golden
//! files in `$QUANTDESK_FIXTURES/golden/chan`. Prints the agreement per structure type.

mod common;

use common::{date, fixtures, load};
use quantdesk_chan::{Analysis, ChanConfig, analyze};
use serde_json::{Value, json};

fn ours(a: &Analysis) -> Value {
    let dir = |d: quantdesk_chan::Direction| serde_json::to_value(d).unwrap();
    json!({
        "merged_bars": a.merged_bars.iter().map(|m| json!({
            "begin": date(m.begin_time), "end": date(m.end_time), "high": m.high, "low": m.low,
        })).collect::<Vec<_>>(),
        "fractals": a.fractals.iter().map(|f| json!({
            "time": date(f.time), "kind": serde_json::to_value(f.kind).unwrap(), "price": f.price,
        })).collect::<Vec<_>>(),
        "strokes": a.strokes.iter().map(|s| json!({
            "begin": date(s.begin_time), "end": date(s.end_time), "begin_price": s.begin_price,
            "end_price": s.end_price, "direction": dir(s.direction), "confirmed": s.confirmed,
        })).collect::<Vec<_>>(),
        "segments": a.segments.iter().map(|s| json!({
            "begin": date(s.begin_time), "end": date(s.end_time), "begin_price": s.begin_price,
            "end_price": s.end_price, "direction": dir(s.direction), "confirmed": s.confirmed,
        })).collect::<Vec<_>>(),
        "pivots": a.pivots.iter().map(|p| json!({
            "begin": date(p.begin_time), "end": date(p.end_time), "zg": p.zg, "zd": p.zd,
            "level": serde_json::to_value(p.level).unwrap(),
        })).collect::<Vec<_>>(),
        "signals": a.signals.iter().map(|s| json!({
            "time": date(s.time), "price": s.price, "side": serde_json::to_value(s.side).unwrap(),
            "types": serde_json::to_value(&s.classes).unwrap(), "level": serde_json::to_value(s.level).unwrap(),
        })).collect::<Vec<_>>(),
    })
}

/// Items equal at the same position, and the larger of the two counts.
fn positional(want: &[Value], got: &[Value]) -> (usize, usize) {
    let eq = want.iter().zip(got).filter(|(w, g)| w == g).count();
    (eq, want.len().max(got.len()))
}

/// Items matched one to one regardless of order, and the larger of the two counts.
fn matched(want: &[Value], got: &[Value]) -> (usize, usize) {
    let mut used = vec![false; got.len()];
    let mut eq = 0;
    for w in want {
        if let Some(i) = (0..got.len()).find(|&i| !used[i] && &got[i] == w) {
            used[i] = true;
            eq += 1;
        }
    }
    (eq, want.len().max(got.len()))
}

fn check(csv: &str, symbol: &str, golden: &str) {
    let Some(root) = fixtures() else { return };
    let bars = load(&root, csv, symbol);
    let want: Value = serde_json::from_str(&std::fs::read_to_string(root.join(golden)).unwrap()).unwrap();
    assert_eq!(bars.len() as u64, want["bars"].as_u64().unwrap(), "bar count");
    let got = ours(&analyze(&bars, &ChanConfig::default()).unwrap());
    let mut report = Vec::new();
    let mut first_diff = Vec::new();
    for key in ["merged_bars", "fractals", "strokes", "segments", "pivots", "signals"] {
        let (w, g) = (want[key].as_array().unwrap(), got[key].as_array().unwrap());
        let (eq, total) = if matches!(key, "pivots" | "signals") { matched(w, g) } else { positional(w, g) };
        report.push((key, eq, total));
        if matches!(key, "pivots" | "signals") {
            for x in g.iter().filter(|x| !w.contains(x)).take(12) {
                first_diff.push(format!("{key}: only ours {x}"));
            }
            for x in w.iter().filter(|x| !g.contains(x)).take(12) {
                first_diff.push(format!("{key}: only chan.py {x}"));
            }
        }
        if let Some(i) = (0..w.len().max(g.len())).find(|&i| w.get(i) != g.get(i)) {
            first_diff.push(format!("{key}[{i}]: chan.py {:?} / ours {:?}", w.get(i), g.get(i)));
        }
    }
    eprintln!("agreement on {csv}:");
    for (key, eq, total) in &report {
        eprintln!("  {key:<12} {eq} / {total}");
    }
    for d in &first_diff {
        eprintln!("  first difference: {d}");
    }
    for (key, eq, total) in report {
        let need = match key {
            "merged_bars" | "fractals" | "strokes" | "segments" => total,
            _ => (total * 99).div_ceil(100),
        };
        assert!(eq >= need, "{key}: {eq} of {total} agree, need {need}");
    }
}

#[test]
fn sh000001_matches_chan_py() {
    check("cn/sh000001_1d.csv", "000001.SH", "golden/chan/sh000001_1d.chanpy.json");
}

#[test]
fn btc_matches_chan_py() {
    check("crypto/btc_1d.csv", "BTC", "golden/chan/btc_1d.chanpy.json");
}
