//! Financial statements as TuShare publishes them, and the rule that picks, per report period,
//! the row a reader should see at a point in time.
//!
//! A statement row keeps every field the source gave (TuShare's own field names, as JSON values),
//! beside the keys that decide which revision counts: the report period (`end_date`, or
//! `trade_date` for `daily_basic`), `ann_date` (announced), `f_ann_date` (actually announced:
//! the date a revision became public), `report_type`, `end_type` and `update_flag` (`1` marks the
//! row TuShare considers current for its period).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{InvalidValue, Symbol};

/// The statements and tables quantdesk stores, named after TuShare's APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Statement {
    Income,
    #[serde(rename = "balancesheet")]
    BalanceSheet,
    #[serde(rename = "cashflow")]
    CashFlow,
    FinaIndicator,
    Dividend,
    DailyBasic,
}

impl Statement {
    pub const ALL: [Statement; 6] = [
        Statement::Income,
        Statement::BalanceSheet,
        Statement::CashFlow,
        Statement::FinaIndicator,
        Statement::Dividend,
        Statement::DailyBasic,
    ];

    /// TuShare's API name, which is also the stored name and the CSV file stem.
    pub fn as_str(self) -> &'static str {
        match self {
            Statement::Income => "income",
            Statement::BalanceSheet => "balancesheet",
            Statement::CashFlow => "cashflow",
            Statement::FinaIndicator => "fina_indicator",
            Statement::Dividend => "dividend",
            Statement::DailyBasic => "daily_basic",
        }
    }

    /// Parses an API name (`balance_sheet` and `cash_flow` are accepted too).
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let s = raw.trim().to_ascii_lowercase();
        let found = match s.as_str() {
            "balance_sheet" => Some(Statement::BalanceSheet),
            "cash_flow" => Some(Statement::CashFlow),
            _ => Statement::ALL.into_iter().find(|st| st.as_str() == s),
        };
        found.ok_or_else(|| {
            InvalidValue(format!(
                "unknown statement {raw:?}: expected one of {}",
                Statement::ALL.map(|s| s.as_str()).join(", ")
            ))
        })
    }

    /// The field that names a row's period: `end_date`, or `trade_date` for `daily_basic`.
    pub fn period_field(self) -> &'static str {
        match self {
            Statement::DailyBasic => "trade_date",
            _ => "end_date",
        }
    }

    /// True for the three accounting statements and the indicators: reported per period, revised.
    pub fn is_periodic_report(self) -> bool {
        matches!(self, Statement::Income | Statement::BalanceSheet | Statement::CashFlow | Statement::FinaIndicator)
    }
}

impl std::fmt::Display for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of a statement, one revision of one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementRow {
    pub symbol: Symbol,
    pub statement: Statement,
    /// `end_date` (or `trade_date` for `daily_basic`).
    pub period: NaiveDate,
    pub ann_date: Option<NaiveDate>,
    pub f_ann_date: Option<NaiveDate>,
    /// TuShare's `report_type` (`1` consolidated); empty where the table has none.
    pub report_type: String,
    /// TuShare's `end_type` (`1`..`4` for Q1..annual); empty where the table has none.
    pub end_type: String,
    /// `1` for the row TuShare marks current; empty where the table has none.
    pub update_flag: String,
    /// Every field the source gave, by TuShare's field name (numbers as numbers, the rest as text).
    pub fields: BTreeMap<String, FieldValue>,
}

/// A field's value: a number, a text, or nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    Number(f64),
    Text(String),
    Null,
}

impl FieldValue {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            FieldValue::Number(n) if n.is_finite() => Some(*n),
            FieldValue::Text(t) => t.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
            _ => None,
        }
    }
}

impl StatementRow {
    /// The day this row became public: `f_ann_date`, else `ann_date`, else the period itself
    /// (tables such as `daily_basic` are known on their trading day).
    pub fn known_on(&self) -> NaiveDate {
        self.f_ann_date.or(self.ann_date).unwrap_or(self.period)
    }

    /// A numeric field, `None` when absent, empty or not a finite number.
    pub fn number(&self, field: &str) -> Option<f64> {
        self.fields.get(field).and_then(FieldValue::as_f64)
    }

    /// A text field, `None` when absent or null.
    pub fn text(&self, field: &str) -> Option<String> {
        match self.fields.get(field)? {
            FieldValue::Text(t) => Some(t.clone()),
            FieldValue::Number(n) => Some(n.to_string()),
            FieldValue::Null => None,
        }
    }
}

/// Per report period, the row a reader sees `as_of` a date (everything when `None`): only rows
/// known by then count ([`StatementRow::known_on`]), and among those the one with
/// `update_flag = "1"` wins, else the latest `ann_date` (then `f_ann_date`, then the later row in
/// input order). A restatement announced after `as_of` is therefore invisible. Rows of one
/// `report_type` only should be passed; the result is ascending by period.
pub fn resolve(rows: &[StatementRow], as_of: Option<NaiveDate>) -> Vec<StatementRow> {
    let mut best: BTreeMap<NaiveDate, &StatementRow> = BTreeMap::new();
    for row in rows {
        if as_of.is_some_and(|d| row.known_on() > d) {
            continue;
        }
        match best.get(&row.period) {
            Some(current) if rank(current) > rank(row) => {}
            _ => {
                best.insert(row.period, row);
            }
        }
    }
    best.into_values().cloned().collect()
}

fn rank(row: &StatementRow) -> (bool, Option<NaiveDate>, Option<NaiveDate>) {
    (row.update_flag == "1", row.ann_date, row.f_ann_date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y%m%d").unwrap()
    }

    fn row(period: &str, ann: &str, f_ann: &str, flag: &str, revenue: f64) -> StatementRow {
        StatementRow {
            symbol: Symbol::new("600519.SH").unwrap(),
            statement: Statement::Income,
            period: d(period),
            ann_date: Some(d(ann)),
            f_ann_date: Some(d(f_ann)),
            report_type: "1".into(),
            end_type: "4".into(),
            update_flag: flag.into(),
            fields: BTreeMap::from([("revenue".to_string(), FieldValue::Number(revenue))]),
        }
    }

    #[test]
    fn the_flagged_row_wins_else_the_latest_announcement() {
        let rows = vec![
            row("20211231", "20220330", "20220330", "0", 1.0),
            row("20211231", "20220330", "20220330", "1", 2.0),
            row("20221231", "20230330", "20230330", "0", 3.0),
            row("20221231", "20230420", "20230420", "0", 4.0),
        ];
        let seen = resolve(&rows, None);
        assert_eq!(seen.iter().map(|r| r.number("revenue").unwrap()).collect::<Vec<_>>(), vec![2.0, 4.0]);
    }

    #[test]
    fn a_later_restatement_is_invisible_before_its_date() {
        let rows =
            vec![row("20211231", "20220330", "20220330", "0", 1.0), row("20211231", "20220330", "20230415", "1", 9.0)];
        assert_eq!(resolve(&rows, Some(d("20230101")))[0].number("revenue"), Some(1.0));
        assert_eq!(resolve(&rows, Some(d("20230415")))[0].number("revenue"), Some(9.0));
        assert!(resolve(&rows, Some(d("20220329"))).is_empty());
    }

    #[test]
    fn statements_parse_by_their_api_names() {
        for s in Statement::ALL {
            assert_eq!(Statement::parse(s.as_str()).unwrap(), s);
        }
        assert_eq!(Statement::parse("Balance_Sheet").unwrap(), Statement::BalanceSheet);
        assert!(Statement::parse("profit").unwrap_err().0.contains("income"));
        assert_eq!(FieldValue::Text(" 1.5 ".into()).as_f64(), Some(1.5));
        assert_eq!(FieldValue::Number(f64::NAN).as_f64(), None);
    }
}
