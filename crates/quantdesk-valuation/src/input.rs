//! What the model reads: the three statements as rows, the latest market snapshot, and a few
//! overrides. The caller (the application layer) loads them; the crate does no I/O.

use quantdesk_core::StatementRow;
use serde::{Deserialize, Serialize};

/// The statement set of one company.
///
/// Rows are TuShare rows ([`StatementRow`]: `period` = `end_date`, `fields` = every column by
/// TuShare's field name). Pass the annual reports the valuation should see (the reference used
/// the December reports of the last `max(N + 3, 5)` years); rows need not be sorted and may
/// repeat a period (the last one in period order wins for the ratios, rule Q1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Statements {
    /// TuShare `income`.
    pub income: Vec<StatementRow>,
    /// TuShare `balancesheet`.
    pub balance_sheet: Vec<StatementRow>,
    /// TuShare `cashflow`.
    pub cash_flow: Vec<StatementRow>,
    /// The latest TuShare `daily_basic` row: `close`, `pe`, `pb`, `total_share` (万股), ….
    #[serde(default)]
    pub daily_basic: Option<StatementRow>,
    /// Overrides: a share count (default `daily_basic.total_share` × 10 000, rule H3).
    #[serde(default)]
    pub total_shares: Option<f64>,
    /// Overrides: the latest price (default `daily_basic.close`).
    #[serde(default)]
    pub latest_price: Option<f64>,
    /// Overrides: TuShare `comp_type` (1 general, 2 bank, 3 insurance, 4 securities; default the
    /// latest balance-sheet row's).
    #[serde(default)]
    pub comp_type: Option<String>,
    /// TuShare `dividend` rows; not used by the model (rule H5), accepted for completeness.
    #[serde(default)]
    pub dividends: Vec<StatementRow>,
    /// Quarterly reports (TuShare's year-to-date rows: end_date 03-31, 06-30, 09-30, and 12-31),
    /// read only by the LTM baseline (`ltm_baseline_enabled`, quantdesk profile): the latest
    /// quarter, the same quarter a year earlier and the previous annual report make the last
    /// twelve months (see [`crate`]'s README). Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarterly_income: Vec<StatementRow>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarterly_balance_sheet: Vec<StatementRow>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarterly_cash_flow: Vec<StatementRow>,
}
