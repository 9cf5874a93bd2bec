//! Named scenarios: overlays of request parameters, and `--set dotted.path=value` edits.
//!
//! A preset is a JSON object of [`Request`] fields (the reference's names). [`apply_preset`]
//! writes every field of the overlay over the request (a preset wins over what the request had;
//! later `--set`s win over the preset) and returns the diff. The values:
//!
//! | preset | fields |
//! |---|---|
//! | `base` | nothing: the profile's defaults (β 1, Rf 3 %, MRP 5 %, 5 years, decay 10 %, exit 8×, g 2.5 %) |
//! | `bull` | cagr_decay_rate 0.05, beta 0.9, market_risk_premium 0.045, exit_multiple 10, perpetual_growth_rate 0.03 |
//! | `bear` | cagr_decay_rate 0.2, beta 1.2, market_risk_premium 0.06, exit_multiple 6, perpetual_growth_rate 0.015 |
//! | `conservative` | terminal_value_method perpetual_growth, perpetual_growth_rate 0.02, cagr_decay_rate 0.15, beta 1.1, size_premium 0.01, exit_multiple 7 |
//! | `high-growth` | forecast_years 10, cagr_decay_rate 0.15, exit_multiple 15, perpetual_growth_rate 0.03 |
//! | `mature-stable` | forecast_years 5, cagr_decay_rate 0.2, terminal_value_method perpetual_growth, perpetual_growth_rate 0.02, beta 0.8 |
//! | `consumer-staples` | beta 0.7, forecast_years 7, exit_multiple 12, perpetual_growth_rate 0.03, target_debt_ratio 0.2 |
//! | `utilities` | beta 0.6, forecast_years 5, exit_multiple 8, perpetual_growth_rate 0.02, target_debt_ratio 0.55, cost_of_debt 0.045 |
//! | `tech-growth` | beta 1.3, forecast_years 10, cagr_decay_rate 0.12, exit_multiple 18, perpetual_growth_rate 0.03, gdp_nominal_cap 0.05, target_debt_ratio 0.1 |
//!
//! (`gdp_nominal_cap` is the quantdesk profile's growth cap; the reference profile ignores it and
//! lists it under `ignored_request_keys`.)
//!
//! Nested fields take dotted paths: `--set sensitivity_analysis.row_axis.step=0.005`, and the
//! dividend discount model's growth assumptions `--set ddm.high_growth=0.08`,
//! `--set ddm.high_growth_years=7`, `--set ddm.terminal_growth=0.02` (see [`crate::ddm`]).

use serde_json::{Map, Value, json};

use crate::Request;

/// One field a preset or `--set` changed: (dotted path, old value, new value).
pub type Change = (String, Value, Value);

/// A preset or `--set` that cannot apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PresetError(pub String);

/// The presets' names, in the order of the table above.
pub const PRESETS: &[&str] = &[
    "base",
    "bull",
    "bear",
    "conservative",
    "high-growth",
    "mature-stable",
    "consumer-staples",
    "utilities",
    "tech-growth",
];

/// The overlay of preset `name` (a JSON object of request fields), or `None` for an unknown name.
pub fn preset(name: &str) -> Option<Value> {
    let v = match name.trim().to_ascii_lowercase().replace('_', "-").as_str() {
        "base" => json!({}),
        "bull" => json!({
            "cagr_decay_rate": 0.05, "beta": 0.9, "market_risk_premium": 0.045,
            "exit_multiple": 10.0, "perpetual_growth_rate": 0.03
        }),
        "bear" => json!({
            "cagr_decay_rate": 0.2, "beta": 1.2, "market_risk_premium": 0.06,
            "exit_multiple": 6.0, "perpetual_growth_rate": 0.015
        }),
        "conservative" => json!({
            "terminal_value_method": "perpetual_growth", "perpetual_growth_rate": 0.02,
            "cagr_decay_rate": 0.15, "beta": 1.1, "size_premium": 0.01, "exit_multiple": 7.0
        }),
        "high-growth" => json!({
            "forecast_years": 10, "cagr_decay_rate": 0.15, "exit_multiple": 15.0, "perpetual_growth_rate": 0.03
        }),
        "mature-stable" => json!({
            "forecast_years": 5, "cagr_decay_rate": 0.2, "terminal_value_method": "perpetual_growth",
            "perpetual_growth_rate": 0.02, "beta": 0.8
        }),
        "consumer-staples" => json!({
            "beta": 0.7, "forecast_years": 7, "exit_multiple": 12.0, "perpetual_growth_rate": 0.03,
            "target_debt_ratio": 0.2
        }),
        "utilities" => json!({
            "beta": 0.6, "forecast_years": 5, "exit_multiple": 8.0, "perpetual_growth_rate": 0.02,
            "target_debt_ratio": 0.55, "cost_of_debt": 0.045
        }),
        "tech-growth" => json!({
            "beta": 1.3, "forecast_years": 10, "cagr_decay_rate": 0.12, "exit_multiple": 18.0,
            "perpetual_growth_rate": 0.03, "gdp_nominal_cap": 0.05, "target_debt_ratio": 0.1
        }),
        _ => return None,
    };
    Some(v)
}

fn to_json(request: &Request) -> Result<Map<String, Value>, PresetError> {
    match serde_json::to_value(request) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(PresetError("the request does not serialise to an object".into())),
        Err(e) => Err(PresetError(format!("the request does not serialise: {e}"))),
    }
}

fn from_json(m: Map<String, Value>) -> Result<Request, PresetError> {
    serde_json::from_value(Value::Object(m)).map_err(|e| PresetError(format!("invalid request: {e}")))
}

/// The request with preset `name` written over it, and what changed (fields whose value was
/// already the preset's are not listed).
pub fn apply_preset(request: &Request, name: &str) -> Result<(Request, Vec<Change>), PresetError> {
    let Some(Value::Object(overlay)) = preset(name) else {
        return Err(PresetError(format!("unknown preset {name:?}: one of {}", PRESETS.join(", "))));
    };
    let mut m = to_json(request)?;
    let mut changes = Vec::new();
    for (k, new) in overlay {
        let old = m.get(&k).cloned().unwrap_or(Value::Null);
        if !same(&old, &new) {
            changes.push((k.clone(), old, new.clone()));
        }
        m.insert(k, new);
    }
    Ok((from_json(m)?, changes))
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Parses the text of a `--set` value: JSON when it parses (`0.08`, `true`, `null`, `"x"`,
/// `{"…": …}`), else the bare text as a string (`perpetual_growth`).
pub fn parse_value(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|_| Value::String(text.trim().to_string()))
}

/// Sets the field at `path` (`beta`, `sensitivity_analysis.row_axis.step`; the request's JSON
/// names, aliases included) to `value`, creating intermediate objects. Returns the change. The
/// edited request must still deserialise (a wrong type is an error and leaves it unchanged).
pub fn set_path(request: &mut Request, path: &str, value: Value) -> Result<Change, PresetError> {
    let parts: Vec<&str> = path.split('.').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(PresetError(format!("invalid path {path:?}: use dotted field names, e.g. beta or a.b")));
    }
    let canonical = |k: &str| -> String {
        match k {
            "stock_code" => "ts_code".into(),
            "prediction_years" => "forecast_years".into(),
            _ => k.to_string(),
        }
    };
    let mut root = Value::Object(to_json(request)?);
    let mut cur = &mut root;
    for (i, part) in parts.iter().enumerate() {
        let key = if i == 0 { canonical(part) } else { part.to_string() };
        let obj = match cur {
            Value::Object(o) => o,
            other => {
                if other.is_null() {
                    *other = Value::Object(Map::new());
                    other.as_object_mut().ok_or_else(|| PresetError("unreachable".into()))?
                } else {
                    return Err(PresetError(format!("{path}: {} is not an object", parts[..i].join("."))));
                }
            }
        };
        if i + 1 == parts.len() {
            let old = obj.insert(key, value.clone()).unwrap_or(Value::Null);
            let Value::Object(m) = root else { unreachable!("the root is an object") };
            *request = from_json(m).map_err(|e| PresetError(format!("--set {path}: {}", e.0)))?;
            return Ok((path.to_string(), old, value));
        }
        cur = obj.entry(key).or_insert(Value::Null);
    }
    Err(PresetError(format!("invalid path {path:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Profile, TerminalMethod};

    #[test]
    fn every_preset_applies_and_deserialises() {
        for name in PRESETS {
            let (r, changes) = apply_preset(&Request::with_profile(Profile::Reference), name).unwrap();
            assert_eq!(r.profile, Profile::Reference, "{name} keeps the profile");
            if *name == "base" {
                assert!(changes.is_empty());
            } else {
                assert!(!changes.is_empty(), "{name}");
                assert!(r.unknown.is_empty(), "{name}");
            }
        }
        assert!(apply_preset(&Request::default(), "nope").unwrap_err().0.contains("bull"));
    }

    #[test]
    fn bull_overrides_and_reports_the_diff() {
        let req = Request { beta: Some(1.5), exit_multiple: Some(10.0), ..Request::default() };
        let (r, changes) = apply_preset(&req, "bull").unwrap();
        assert_eq!(r.beta, Some(0.9));
        assert!(changes.contains(&("beta".into(), json!(1.5), json!(0.9))));
        assert!(!changes.iter().any(|c| c.0 == "exit_multiple"), "unchanged fields are not listed");
        assert!(changes.contains(&("cagr_decay_rate".into(), Value::Null, json!(0.05))));
        let (r, _) = apply_preset(&req, "Mature_Stable").unwrap();
        assert_eq!(r.terminal_value_method, Some(TerminalMethod::PerpetualGrowth));
        assert_eq!(r.forecast_years, Some(5));
    }

    #[test]
    fn set_path_edits_nested_fields_and_refuses_wrong_types() {
        let mut r = Request::default();
        let c = set_path(&mut r, "beta", parse_value("1.25")).unwrap();
        assert_eq!((r.beta, c.1), (Some(1.25), Value::Null));
        set_path(&mut r, "terminal_value_method", parse_value("perpetual_growth")).unwrap();
        assert_eq!(r.terminal_value_method, Some(TerminalMethod::PerpetualGrowth));
        set_path(&mut r, "prediction_years", parse_value("7")).unwrap();
        assert_eq!(r.forecast_years, Some(7));
        assert!(
            set_path(&mut r, "sensitivity_analysis.row_axis.parameter_name", parse_value("wacc")).is_err(),
            "a grid needs both axes"
        );
        let axes = r#"{"row_axis": {"parameter_name": "wacc"}, "column_axis": {"parameter_name": "exit_multiple"}}"#;
        set_path(&mut r, "sensitivity_analysis", parse_value(axes)).unwrap();
        set_path(&mut r, "sensitivity_analysis.row_axis.values", parse_value("[0.07, 0.08]")).unwrap();
        let s = r.sensitivity_analysis.clone().unwrap();
        assert_eq!((s.row_axis.parameter_name.as_str(), s.row_axis.values.len()), ("wacc", 2));
        let before = r.clone();
        assert!(set_path(&mut r, "beta", parse_value("high")).is_err());
        assert_eq!(r, before, "a failed --set leaves the request unchanged");
        assert!(set_path(&mut r, "beta.x", json!(1)).is_err());
        assert!(set_path(&mut r, "a..b", json!(1)).is_err());
        set_path(&mut r, "custom_key", json!(3)).unwrap();
        assert_eq!(r.unknown.get("custom_key"), Some(&json!(3)));
    }
}
