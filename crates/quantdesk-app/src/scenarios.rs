//! Saved valuation scenarios: per user, a named preset (optional) and an overlay of
//! `dotted.path=value` edits, the vocabulary of `quantdesk valuate --set` and the presets. The
//! HTTP API, the valuation page and the command line call these; the overlay is checked with the
//! very parser `--set` uses (`quantdesk_valuation::presets::{parse_value, set_path}`), so a
//! scenario that saves also applies.

use quantdesk_store::Store;
use quantdesk_store::valuations::{SavedScenario, ScenarioWrite};
use quantdesk_valuation::presets::{self, Change};
use quantdesk_valuation::{PRESETS, Request};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppError;

/// Scenarios one user may keep.
pub const MAX_SCENARIOS: u64 = 100;
/// A name's length in characters (the schema's `maxLength`).
pub const NAME_MAX: usize = 80;
/// A preset name's length in characters.
pub const PRESET_MAX: usize = 40;
/// Edits in one overlay (the schema's `maxItems`).
pub const MAX_EDITS: usize = 50;
/// One edit's length in characters.
pub const EDIT_MAX: usize = 2000;

/// Request fields a scenario may not set: the company and the date come from the request it is
/// applied to.
const NOT_IN_SCENARIOS: &[&str] = &["ts_code", "stock_code", "valuation_date"];

/// A scenario to save: a name, an optional preset and the edits written over it, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"name": "careful bear", "preset": "bear", "overlay": ["beta=1.3", "terminal_value_method=perpetual_growth"]}))]
pub struct ScenarioInput {
    /// Unique among the caller's scenarios; 1 to 80 characters, not blank, no control characters.
    #[schema(min_length = 1, max_length = 80)]
    pub name: String,
    /// A preset applied first: base, bull, bear, conservative, high-growth, mature-stable,
    /// consumer-staples, utilities, tech-growth. Empty or absent for none.
    #[serde(default)]
    #[schema(max_length = 40)]
    pub preset: Option<String>,
    /// `dotted.path=value` edits applied after the preset, in order (as `quantdesk valuate
    /// --set`): the value is JSON when it parses (`0.08`, `true`, `{"…": …}`), else text
    /// (`perpetual_growth`). `ts_code` and `valuation_date` cannot be set.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub overlay: Vec<String>,
}

/// A saved scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Scenario {
    pub id: i64,
    pub name: String,
    /// The preset's canonical name, or null.
    pub preset: Option<String>,
    /// The edits, in the order they apply.
    pub overlay: Vec<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

fn bad(message: impl Into<String>) -> AppError {
    AppError::invalid(message).with_code("invalid_scenario")
}

fn missing(id: i64) -> AppError {
    AppError::not_found(format!("no scenario {id}")).with_code("scenario_not_found")
}

/// The preset's canonical name (`Mature_Stable` → `mature-stable`).
pub fn canonical_preset(name: &str) -> Option<&'static str> {
    let n = name.trim().to_ascii_lowercase().replace('_', "-");
    PRESETS.iter().copied().find(|p| *p == n)
}

/// One `PATH=VALUE` edit, parsed as `--set` parses it.
pub fn parse_edit(text: &str) -> Result<(String, serde_json::Value), AppError> {
    let (path, value) =
        text.split_once('=').ok_or_else(|| bad(format!("overlay edit {text:?}: use PATH=VALUE, e.g. beta=1.1")))?;
    let path = path.trim();
    let first = path.split('.').next().unwrap_or("").trim();
    if NOT_IN_SCENARIOS.contains(&first) {
        return Err(bad(format!(
            "overlay edit {text:?}: a scenario holds assumptions; the symbol and the valuation date come from the request"
        )));
    }
    Ok((path.to_string(), presets::parse_value(value)))
}

/// Writes the edits over `request` in order, refusing a path the model does not know (a typo
/// would otherwise be silently ignored). Returns what changed.
pub fn apply_edits(request: &mut Request, edits: &[String]) -> Result<Vec<Change>, AppError> {
    let mut changes = Vec::with_capacity(edits.len());
    for text in edits {
        let (path, value) = parse_edit(text)?;
        let mut next = request.clone();
        let change =
            presets::set_path(&mut next, &path, value).map_err(|e| bad(format!("overlay edit {text:?}: {}", e.0)))?;
        if let Some(k) = next.unknown.keys().find(|k| !request.unknown.contains_key(*k)) {
            return Err(bad(format!("overlay edit {text:?}: {k} is not a field of the valuation request")));
        }
        *request = next;
        changes.push(change);
    }
    Ok(changes)
}

/// `request` with the scenario written over it: its preset, then its edits. Returns the request
/// and what changed (the parameter diffs that define the scenario on this request).
pub fn apply(request: &Request, preset: Option<&str>, overlay: &[String]) -> Result<(Request, Vec<Change>), AppError> {
    let (mut req, mut changes) = match preset {
        Some(p) => presets::apply_preset(request, p).map_err(|e| bad(e.0))?,
        None => (request.clone(), Vec::new()),
    };
    changes.extend(apply_edits(&mut req, overlay)?);
    Ok((req, changes))
}

/// Checks an input: the schema's limits (400, malformed) and the rules beyond it (422,
/// `invalid_scenario`): a blank name or one with control characters, an unknown preset, an edit
/// that is not `PATH=VALUE`, names a field the model lacks or gives it a value of the wrong type.
pub fn validate(input: &ScenarioInput) -> Result<ScenarioWrite, AppError> {
    let n = input.name.chars().count();
    if n == 0 || n > NAME_MAX {
        return Err(AppError::malformed(format!("name must have 1 to {NAME_MAX} characters")));
    }
    if input.preset.as_deref().is_some_and(|p| p.chars().count() > PRESET_MAX) {
        return Err(AppError::malformed(format!("preset has at most {PRESET_MAX} characters")));
    }
    if input.overlay.len() > MAX_EDITS {
        return Err(AppError::malformed(format!("overlay has at most {MAX_EDITS} edits")));
    }
    let name = input.name.trim();
    if name.is_empty() {
        return Err(bad("name is blank"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("name contains control characters"));
    }
    let preset = match input.preset.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => Some(
            canonical_preset(p).ok_or_else(|| bad(format!("unknown preset {p:?}: one of {}", PRESETS.join(", "))))?,
        ),
    };
    let mut overlay = Vec::with_capacity(input.overlay.len());
    for e in &input.overlay {
        if e.chars().count() > EDIT_MAX {
            return Err(bad(format!("an overlay edit has at most {EDIT_MAX} characters")));
        }
        if e.contains('\0') {
            return Err(bad("an overlay edit contains a NUL character"));
        }
        overlay.push(e.trim().to_string());
    }
    // The same parser as `--set`, on a request with the preset applied: what saves also applies.
    apply(&Request::default(), preset, &overlay)?;
    Ok(ScenarioWrite {
        name: name.to_string(),
        preset: preset.unwrap_or("").to_string(),
        overlay: serde_json::to_string(&overlay).map_err(AppError::internal)?,
        at: crate::clock::now_ms(),
    })
}

fn from_row(r: SavedScenario) -> Result<Scenario, AppError> {
    let overlay: Vec<String> =
        serde_json::from_str(&r.overlay).map_err(|e| AppError::internal(format!("scenario {}: overlay: {e}", r.id)))?;
    Ok(Scenario {
        id: r.id,
        name: r.name,
        preset: Some(r.preset).filter(|p| !p.is_empty()),
        overlay,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

fn name_taken(name: &str) -> AppError {
    AppError::conflict(format!("you already have a scenario named {name:?}")).with_code("scenario_exists")
}

/// `owner`'s scenarios, by name.
pub async fn list(store: &dyn Store, owner: &str) -> Result<Vec<Scenario>, AppError> {
    store.list_scenarios(owner).await?.into_iter().map(from_row).collect()
}

/// `owner`'s scenario `id`; anyone else's (or a missing one) is not found.
pub async fn get(store: &dyn Store, owner: &str, id: i64) -> Result<Scenario, AppError> {
    from_row(store.scenario(owner, id).await?.ok_or_else(|| missing(id))?)
}

/// `owner`'s scenario named `name`.
pub async fn by_name(store: &dyn Store, owner: &str, name: &str) -> Result<Scenario, AppError> {
    let row = store.scenario_by_name(owner, name.trim()).await?.ok_or_else(|| {
        AppError::not_found(format!("no scenario named {:?}", name.trim())).with_code("scenario_not_found")
    })?;
    from_row(row)
}

/// Saves a new scenario for `owner` (at most [`MAX_SCENARIOS`]; a name in use is a conflict).
pub async fn create(store: &dyn Store, owner: &str, input: &ScenarioInput) -> Result<Scenario, AppError> {
    let w = validate(input)?;
    if store.count_scenarios(owner).await? >= MAX_SCENARIOS {
        return Err(bad(format!("you have {MAX_SCENARIOS} scenarios, the most one user keeps: delete one first"))
            .with_code("too_many_scenarios"));
    }
    let id = store
        .create_scenario(owner, &w)
        .await
        .map_err(|e| if e.is_conflict() { name_taken(&w.name) } else { e.into() })?;
    get(store, owner, id).await
}

/// Replaces `owner`'s scenario `id` with `input`.
pub async fn update(store: &dyn Store, owner: &str, id: i64, input: &ScenarioInput) -> Result<Scenario, AppError> {
    let w = validate(input)?;
    let found = store
        .update_scenario(owner, id, &w)
        .await
        .map_err(|e| if e.is_conflict() { name_taken(&w.name) } else { e.into() })?;
    if !found {
        return Err(missing(id));
    }
    get(store, owner, id).await
}

/// Deletes `owner`'s scenario `id`.
pub async fn delete(store: &dyn Store, owner: &str, id: i64) -> Result<(), AppError> {
    if store.delete_scenario(owner, id).await? { Ok(()) } else { Err(missing(id)) }
}

/// `request` with `owner`'s scenario `id` written over it (see [`apply`]).
pub async fn apply_saved(
    store: &dyn Store,
    owner: &str,
    id: i64,
    request: &Request,
) -> Result<(Request, Vec<Change>), AppError> {
    let s = get(store, owner, id).await?;
    apply(request, s.preset.as_deref(), &s.overlay)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, preset: Option<&str>, overlay: &[&str]) -> ScenarioInput {
        ScenarioInput {
            name: name.into(),
            preset: preset.map(str::to_string),
            overlay: overlay.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn validation_uses_the_set_parser_and_names_the_edit() {
        let w =
            validate(&input(" bear+ ", Some("Mature_Stable"), &["beta=1.3", "terminal_value_method=perpetual_growth"]))
                .unwrap();
        assert_eq!((w.name.as_str(), w.preset.as_str()), ("bear+", "mature-stable"));
        assert_eq!(w.overlay, r#"["beta=1.3","terminal_value_method=perpetual_growth"]"#);
        for (i, code) in [
            (input("x", None, &["beta"]), "invalid_scenario"),
            (input("x", None, &["beta=high"]), "invalid_scenario"),
            (input("x", None, &["no_such_field=1"]), "invalid_scenario"),
            (input("x", None, &["beta.x=1"]), "invalid_scenario"),
            (input("x", None, &["ts_code=000001.SZ"]), "invalid_scenario"),
            (input("x", Some("moonshot"), &[]), "invalid_scenario"),
            (input("   ", None, &[]), "invalid_scenario"),
            (input("a\u{7}b", None, &[]), "invalid_scenario"),
            (input("", None, &[]), "bad_request"),
            (input(&"x".repeat(81), None, &[]), "bad_request"),
        ] {
            let e = validate(&i).unwrap_err();
            assert_eq!(e.code(), code, "{i:?}: {}", e.message());
        }
        let e = validate(&input("x", None, &["beta=1", "beta=high"])).unwrap_err();
        assert!(e.message().contains("beta=high"), "{}", e.message());
    }

    #[test]
    fn apply_writes_the_preset_then_the_edits() {
        let base = Request { ts_code: Some("600519.SH".into()), beta: Some(1.5), ..Request::default() };
        let (r, changes) = apply(&base, Some("bull"), &["beta=1.05".into(), "forecast_years=7".into()]).unwrap();
        assert_eq!((r.beta, r.forecast_years, r.exit_multiple), (Some(1.05), Some(7), Some(10.0)));
        assert_eq!(r.ts_code.as_deref(), Some("600519.SH"));
        assert!(changes.iter().any(|c| c.0 == "beta" && c.2 == serde_json::json!(1.05)));
        assert!(changes.iter().any(|c| c.0 == "exit_multiple"));
    }
}
