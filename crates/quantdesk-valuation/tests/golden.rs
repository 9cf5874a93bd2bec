//! Golden conformance: the `reference` profile against the reference's own outputs.

mod common;

use std::collections::BTreeMap;

use quantdesk_valuation::{Profile, Request, valuate_report};
use serde_json::Value;

fn rel(a: f64, b: f64) -> f64 {
    if a == b { 0.0 } else { (a - b).abs() / a.abs().max(b.abs()).max(1e-300) }
}

#[derive(Default)]
struct Table(BTreeMap<String, (f64, usize, String)>);

impl Table {
    /// Compares two JSON values (numbers or nulls); records the error; returns whether they agree.
    fn cmp(&mut self, field: &str, file: &str, want: &Value, got: &Value) -> bool {
        let e = self.0.entry(field.to_string()).or_insert((0.0, 0, String::new()));
        e.1 += 1;
        match (want.as_f64(), got.as_f64()) {
            (Some(a), Some(b)) => {
                let r = rel(a, b);
                if r > e.0 {
                    e.0 = r;
                    e.2 = file.to_string();
                }
                r <= 1e-6
            }
            (None, None) => want.is_null() == got.is_null() || want == got,
            _ => {
                e.0 = f64::INFINITY;
                e.2 = format!("{file}: want {want}, got {got}");
                false
            }
        }
    }
}

#[test]
fn golden_files_agree_with_the_reference_profile() {
    let Some(fx) = common::fixtures() else { return };
    let dir = fx.join("golden/valuation");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no golden files in {}", dir.display());
    let mut t = Table::default();
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let golden: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let ts_code = golden["ts_code"].as_str().unwrap();
        let st = common::statements(&fx, ts_code);
        let mut req: Request = serde_json::from_value(golden["request_dict_used"].clone())
            .unwrap_or_else(|e| panic!("{name}: request_dict_used does not deserialise: {e}"));
        req.profile = Profile::Reference;
        // The v3-only keys of request_params (Q32) are ignored by the reference profile too.
        let mut params: Request = serde_json::from_value(golden["request_params"].clone()).unwrap();
        params.profile = Profile::Reference;
        let v = valuate_report(&st, &req);
        let got = serde_json::to_value(&v).unwrap();

        if !golden["error"].is_null() {
            if v.error.is_none() {
                failures.push(format!("{name}: the reference refused ({}), we did not", golden["error"]));
            }
            continue;
        }
        if let Some(e) = &v.error {
            failures.push(format!("{name}: refused: {e}"));
            continue;
        }
        let mut ok = true;
        for f in [
            "enterprise_value",
            "equity_value",
            "value_per_share",
            "wacc_used",
            "terminal_value",
            "net_debt",
            "pv_forecast_ufcf",
            "pv_terminal_value",
            "cost_of_equity_used",
            "dcf_implied_diluted_pe",
            "base_ev_ebitda",
            "implied_perpetual_growth_rate",
            "exit_multiple_used",
            "perpetual_growth_rate_used",
        ] {
            ok &= t.cmp(&format!("dcf.{f}"), &name, &golden["dcf"][f], &got["dcf"][f]);
        }
        for (k, want) in golden["historical_ratios"].as_object().unwrap() {
            ok &= t.cmp(&format!("historical_ratios.{k}"), &name, want, &got["historical_ratios"][k]);
        }
        for (k, want) in golden["inputs"].as_object().unwrap() {
            if want.is_number() || want.is_null() {
                ok &= t.cmp(&format!("inputs.{k}"), &name, want, &got["inputs"][k]);
            } else if want != &got["inputs"][k] {
                ok = false;
                failures.push(format!("{name}: inputs.{k}: want {want}, got {}", got["inputs"][k]));
            }
        }
        let gf = golden["forecast"].as_array().unwrap();
        assert_eq!(gf.len(), v.forecast.len(), "{name}: forecast years");
        for (y, want) in gf.iter().enumerate() {
            for (k, wv) in want.as_object().unwrap() {
                ok &= t.cmp(&format!("forecast.{k}"), &name, wv, &got["forecast"][y][k]);
            }
        }
        if golden["special_industry_warning"].is_null() != got["special_industry_warning"].is_null() {
            ok = false;
            failures.push(format!("{name}: special_industry_warning differs"));
        }
        if golden["sensitivity"].is_object() {
            let (gs, s) = (&golden["sensitivity"], &got["sensitivity"]);
            for k in ["row_values", "column_values"] {
                for (i, wv) in gs[k].as_array().unwrap().iter().enumerate() {
                    ok &= t.cmp(&format!("sensitivity.{k}"), &name, wv, &s[k][i]);
                }
            }
            for (tk, table) in gs["result_tables"].as_object().unwrap() {
                for (i, row) in table.as_array().unwrap().iter().enumerate() {
                    for (j, wv) in row.as_array().unwrap().iter().enumerate() {
                        ok &= t.cmp(&format!("sensitivity.{tk}"), &name, wv, &s["result_tables"][tk][i][j]);
                    }
                }
            }
        } else if !got["sensitivity"].is_null() {
            ok = false;
            failures.push(format!("{name}: a grid where the reference has none"));
        }
        let mut want_ignored: Vec<String> = serde_json::from_value(golden["ignored_request_keys"].clone()).unwrap();
        want_ignored.sort();
        if params.ignored_keys() != want_ignored {
            failures.push(format!("{name}: ignored keys {:?} vs {want_ignored:?}", params.ignored_keys()));
        }
        if !ok {
            failures.push(format!("{name}: numbers differ beyond 1e-6"));
        }
    }
    println!("{:<60} {:>12} {:>6}  worst file", "field", "max rel err", "n");
    for (k, (e, n, f)) in &t.0 {
        println!("{k:<60} {e:>12.3e} {n:>6}  {f}");
    }
    println!("{} golden files", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
