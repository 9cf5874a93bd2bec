//! The stock screener: every symbol's latest stored `daily_basic` row (price, P/E, P/B, P/S,
//! dividend yield, market value) joined with its instrument (name, industry, actual controller),
//! filtered, sorted and paged. The filters are huliux/stock_vale's (`pe_min` … `market_cap_max`
//! in 亿元, `industry`, the controller's type) with quantdesk's additions.
//!
//! Differences from the reference, on purpose:
//! - `pe_min`/`pe_max` filter the static P/E (`pe`); the reference filters `pe_ttm` with them.
//!   `pe_ttm_min`/`pe_ttm_max` filter the TTM P/E.
//! - The reference always drops rows with `pe_ttm <= 0`; here nothing is dropped implicitly: a
//!   bound on a field drops the rows that lack it (TuShare leaves P/E empty for a loss), so
//!   `pe_ttm_min: 0` gives the reference's set.
//! - The controller's type is derived from the controller's name ([`controller_type`]), as the
//!   stored master has no type column.
//!
//! [`screen`] is pure: it is what the tests exercise; [`run`] reads the store (two queries).

use std::cmp::Ordering;

use chrono::NaiveDate;
use quantdesk_core::{Instrument, Statement, StatementRow};
use quantdesk_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppError;

/// 1 亿 = 10 000 万: `daily_basic.total_mv` is in 万元, market-cap bounds are in 亿元.
pub const WAN_PER_YI: f64 = 10_000.0;
/// The largest page size.
pub const MAX_PAGE_SIZE: u32 = 200;
/// The largest page number.
pub const MAX_PAGE: u32 = 100_000;

/// The type of a company's actual controller (实际控制人).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ControllerType {
    /// 央企: the State Council's SASAC, the Ministry of Finance, Central Huijin, …
    CentralSoe,
    /// 地方国企: a provincial or city SASAC or people's government.
    LocalSoe,
    /// 民企: a person, a family or a private company.
    Private,
    /// 集体企业: a collective, a villagers' committee, a union.
    Collective,
    /// 外资: a controller whose name has no Chinese characters.
    Foreign,
    /// 无实际控制人: the company declares none.
    None,
    /// No controller stored.
    Unknown,
}

/// A controller-type filter: one type, or `soe` for both kinds of state-owned enterprise.
/// Chinese labels are accepted too (`国企`, `央企`, `地方国企`, `民企`, `集体企业`, `外资`,
/// `无实控人`, `未知`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ControllerFilter {
    #[serde(alias = "国企")]
    Soe,
    #[serde(alias = "央企")]
    CentralSoe,
    #[serde(alias = "地方国企")]
    LocalSoe,
    #[serde(alias = "民企")]
    Private,
    #[serde(alias = "集体企业")]
    Collective,
    #[serde(alias = "外资")]
    Foreign,
    #[serde(alias = "无实控人")]
    None,
    #[serde(alias = "未知")]
    Unknown,
}

impl ControllerFilter {
    pub fn matches(self, t: ControllerType) -> bool {
        match self {
            ControllerFilter::Soe => matches!(t, ControllerType::CentralSoe | ControllerType::LocalSoe),
            ControllerFilter::CentralSoe => t == ControllerType::CentralSoe,
            ControllerFilter::LocalSoe => t == ControllerType::LocalSoe,
            ControllerFilter::Private => t == ControllerType::Private,
            ControllerFilter::Collective => t == ControllerType::Collective,
            ControllerFilter::Foreign => t == ControllerType::Foreign,
            ControllerFilter::None => t == ControllerType::None,
            ControllerFilter::Unknown => t == ControllerType::Unknown,
        }
    }
}

/// The type of a controller from its name, by these rules in order:
/// 1. empty → `unknown`;
/// 2. 无 / 无实际控制人 / 无控股股东 → `none`;
/// 3. 国务院, 中央, 财政部, 中华人民共和国, 中国人民银行, 全国社会保障基金 → `central_soe`;
/// 4. 国有资产, 国资, 人民政府, 政府, 财政厅, 财政局 → `local_soe`;
/// 5. 集体, 村民委员会, 合作社, 工会 → `collective`;
/// 6. no Chinese character at all → `foreign`;
/// 7. anything else (a person, a family, a private company) → `private`.
pub fn controller_type(name: &str) -> ControllerType {
    let n = name.trim();
    if n.is_empty() {
        return ControllerType::Unknown;
    }
    if matches!(n, "无" | "无实际控制人" | "无控股股东" | "无实控人") || n.starts_with("无实际控制人")
    {
        return ControllerType::None;
    }
    let any = |words: &[&str]| words.iter().any(|w| n.contains(w));
    if any(&["国务院", "中央", "财政部", "中华人民共和国", "中国人民银行", "全国社会保障基金"])
    {
        ControllerType::CentralSoe
    } else if any(&["国有资产", "国资", "人民政府", "政府", "财政厅", "财政局"]) {
        ControllerType::LocalSoe
    } else if any(&["集体", "村民委员会", "合作社", "工会"]) {
        ControllerType::Collective
    } else if !n.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) {
        ControllerType::Foreign
    } else {
        ControllerType::Private
    }
}

/// `industry`: one industry, or a list (any of them). `all` (or empty) filters nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum IndustryFilter {
    One(String),
    Any(Vec<String>),
}

impl IndustryFilter {
    fn names(&self) -> Vec<&str> {
        let all: Vec<&str> = match self {
            IndustryFilter::One(s) => vec![s.trim()],
            IndustryFilter::Any(v) => v.iter().map(|s| s.trim()).collect(),
        };
        all.into_iter().filter(|s| !s.is_empty() && *s != "all").collect()
    }
}

/// What the results are sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    Symbol,
    Name,
    Industry,
    Close,
    Pe,
    PeTtm,
    Pb,
    Ps,
    PsTtm,
    DvRatio,
    DvTtm,
    /// Total market value (the default).
    #[default]
    MarketCap,
    CircMarketCap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    Asc,
    /// The default.
    #[default]
    Desc,
}

/// A screener request (`POST /api/v1/screener/stocks`). Every bound is inclusive and optional; a
/// bound on a field drops the rows that lack that field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScreenerRequest {
    /// Static P/E (`pe`; the reference filters `pe_ttm` with these).
    pub pe_min: Option<f64>,
    pub pe_max: Option<f64>,
    pub pe_ttm_min: Option<f64>,
    pub pe_ttm_max: Option<f64>,
    pub pb_min: Option<f64>,
    pub pb_max: Option<f64>,
    pub ps_min: Option<f64>,
    pub ps_max: Option<f64>,
    pub ps_ttm_min: Option<f64>,
    pub ps_ttm_max: Option<f64>,
    /// Dividend yield (TTM, %).
    pub dv_ttm_min: Option<f64>,
    pub dv_ttm_max: Option<f64>,
    /// Total market value in 亿元 (100 million yuan).
    pub market_cap_min: Option<f64>,
    pub market_cap_max: Option<f64>,
    /// An industry or a list of them (exact names, e.g. `白酒`); `all` for any.
    pub industry: Option<IndustryFilter>,
    /// The actual controller's type (`act_ent_type` accepted).
    #[serde(alias = "act_ent_type")]
    pub controller_type: Option<ControllerFilter>,
    /// From 1 (default 1).
    #[schema(minimum = 1, maximum = 100000)]
    pub page: Option<u32>,
    /// 1 to 200 (default 20).
    #[schema(minimum = 1, maximum = 200)]
    pub page_size: Option<u32>,
    pub sort_by: Option<SortBy>,
    pub sort_order: Option<SortOrder>,
}

/// One stock of the screener's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScreenedStock {
    pub ts_code: String,
    pub name: String,
    pub industry: String,
    pub area: String,
    /// The actual controller's name.
    pub controller: String,
    pub controller_type: ControllerType,
    /// The trading date of the `daily_basic` row (YYYY-MM-DD).
    pub trade_date: String,
    /// `close` of that day.
    pub latest_price: Option<f64>,
    pub pe: Option<f64>,
    pub pe_ttm: Option<f64>,
    pub pb: Option<f64>,
    pub ps: Option<f64>,
    pub ps_ttm: Option<f64>,
    pub dv_ratio: Option<f64>,
    pub dv_ttm: Option<f64>,
    /// Total market value in 亿元.
    pub total_market_cap: Option<f64>,
    /// Free-float market value in 亿元.
    pub circ_market_cap: Option<f64>,
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScreenerPage {
    pub results: Vec<ScreenedStock>,
    /// Matches on every page.
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
    /// The latest trading date among the stored rows (YYYY-MM-DD), if any.
    pub last_data_update_time: Option<String>,
}

/// A stock as the screener sees it: its latest `daily_basic` row and its instrument, if known.
pub fn stock_of(row: &StatementRow, instrument: Option<&Instrument>) -> ScreenedStock {
    let n = |f: &str| row.number(f).filter(|v| v.is_finite());
    let controller = instrument.map(|i| i.controller.clone()).unwrap_or_default();
    ScreenedStock {
        ts_code: row.symbol.to_string(),
        name: instrument.map(|i| i.name.clone()).unwrap_or_default(),
        industry: instrument.map(|i| i.industry.clone()).unwrap_or_default(),
        area: instrument.map(|i| i.area.clone()).unwrap_or_default(),
        controller_type: controller_type(&controller),
        controller,
        trade_date: row.period.to_string(),
        latest_price: n("close"),
        pe: n("pe"),
        pe_ttm: n("pe_ttm"),
        pb: n("pb"),
        ps: n("ps"),
        ps_ttm: n("ps_ttm"),
        dv_ratio: n("dv_ratio"),
        dv_ttm: n("dv_ttm"),
        total_market_cap: n("total_mv").map(|v| v / WAN_PER_YI),
        circ_market_cap: n("circ_mv").map(|v| v / WAN_PER_YI),
    }
}

type Bound = (&'static str, Option<f64>, Option<f64>, fn(&ScreenedStock) -> Option<f64>);

fn bounds(r: &ScreenerRequest) -> [Bound; 7] {
    [
        ("pe", r.pe_min, r.pe_max, |s| s.pe),
        ("pe_ttm", r.pe_ttm_min, r.pe_ttm_max, |s| s.pe_ttm),
        ("pb", r.pb_min, r.pb_max, |s| s.pb),
        ("ps", r.ps_min, r.ps_max, |s| s.ps),
        ("ps_ttm", r.ps_ttm_min, r.ps_ttm_max, |s| s.ps_ttm),
        ("dv_ttm", r.dv_ttm_min, r.dv_ttm_max, |s| s.dv_ttm),
        ("market_cap", r.market_cap_min, r.market_cap_max, |s| s.total_market_cap),
    ]
}

impl ScreenerRequest {
    /// Checks the request: every bound finite, no minimum above its maximum, the page in range.
    pub fn validate(&self) -> Result<(), AppError> {
        for (name, lo, hi, _) in bounds(self) {
            for (side, v) in [("min", lo), ("max", hi)] {
                if v.is_some_and(|v| !v.is_finite()) {
                    return Err(AppError::malformed(format!("{name}_{side} must be a finite number")));
                }
            }
            if let (Some(lo), Some(hi)) = (lo, hi)
                && lo > hi
            {
                return Err(AppError::invalid(format!("{name}_min ({lo}) is above {name}_max ({hi})"))
                    .with_code("invalid_params"));
            }
        }
        if self.page.is_some_and(|p| !(1..=MAX_PAGE).contains(&p)) {
            return Err(AppError::malformed(format!("page must be between 1 and {MAX_PAGE}")));
        }
        if self.page_size.is_some_and(|p| !(1..=MAX_PAGE_SIZE).contains(&p)) {
            return Err(AppError::malformed(format!("page_size must be between 1 and {MAX_PAGE_SIZE}")));
        }
        Ok(())
    }

    /// Whether a stock passes every filter.
    pub fn keeps(&self, s: &ScreenedStock) -> bool {
        for (_, lo, hi, get) in bounds(self) {
            if lo.is_none() && hi.is_none() {
                continue;
            }
            let Some(v) = get(s) else { return false };
            if lo.is_some_and(|lo| v < lo) || hi.is_some_and(|hi| v > hi) {
                return false;
            }
        }
        if let Some(f) = &self.industry {
            let names = f.names();
            if !names.is_empty() && !names.contains(&s.industry.as_str()) {
                return false;
            }
        }
        if let Some(c) = self.controller_type
            && !c.matches(s.controller_type)
        {
            return false;
        }
        true
    }
}

fn sort_key(s: &ScreenedStock, by: SortBy) -> Result<Option<f64>, &str> {
    Ok(match by {
        SortBy::Symbol => return Err(&s.ts_code),
        SortBy::Name => return Err(&s.name),
        SortBy::Industry => return Err(&s.industry),
        SortBy::Close => s.latest_price,
        SortBy::Pe => s.pe,
        SortBy::PeTtm => s.pe_ttm,
        SortBy::Pb => s.pb,
        SortBy::Ps => s.ps,
        SortBy::PsTtm => s.ps_ttm,
        SortBy::DvRatio => s.dv_ratio,
        SortBy::DvTtm => s.dv_ttm,
        SortBy::MarketCap => s.total_market_cap,
        SortBy::CircMarketCap => s.circ_market_cap,
    })
}

/// Filters, sorts (missing values last in either order, ties by symbol) and pages. Pure.
pub fn screen(stocks: Vec<ScreenedStock>, request: &ScreenerRequest) -> Result<ScreenerPage, AppError> {
    request.validate()?;
    let last = stocks.iter().map(|s| s.trade_date.as_str()).max().map(str::to_string);
    let mut kept: Vec<ScreenedStock> = stocks.into_iter().filter(|s| request.keeps(s)).collect();
    let by = request.sort_by.unwrap_or_default();
    let desc = request.sort_order.unwrap_or_default() == SortOrder::Desc;
    kept.sort_by(|a, b| {
        let primary = match (sort_key(a, by), sort_key(b, by)) {
            (Err(x), Err(y)) => {
                // Empty text last, like a missing number.
                match (x.is_empty(), y.is_empty()) {
                    (true, false) => return Ordering::Greater,
                    (false, true) => return Ordering::Less,
                    _ => x.cmp(y),
                }
            }
            (Ok(x), Ok(y)) => match (x, y) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => return Ordering::Less,
                (None, Some(_)) => return Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
            _ => Ordering::Equal,
        };
        let primary = if desc { primary.reverse() } else { primary };
        primary.then_with(|| a.ts_code.cmp(&b.ts_code))
    });
    let page = request.page.unwrap_or(1);
    let page_size = request.page_size.unwrap_or(20);
    let total = kept.len() as u64;
    let start = (page as usize - 1).saturating_mul(page_size as usize);
    let results = kept.into_iter().skip(start).take(page_size as usize).collect();
    Ok(ScreenerPage { results, total, page, page_size, last_data_update_time: last })
}

/// Runs a screen over the store: the latest `daily_basic` row per symbol (one query) and the
/// stock instruments (one query). Delisted instruments are left out.
pub async fn run(store: &dyn Store, request: &ScreenerRequest) -> Result<ScreenerPage, AppError> {
    request.validate()?;
    let rows = store.latest_statement_per_symbol(Statement::DailyBasic).await?;
    let instruments =
        store.list_instruments(&quantdesk_store::InstrumentQuery { limit: u32::MAX / 2, ..Default::default() }).await?;
    let by_symbol: std::collections::HashMap<&str, &Instrument> =
        instruments.iter().map(|i| (i.symbol.as_str(), i)).collect();
    let today: NaiveDate = crate::clock::today_shanghai();
    let stocks = rows
        .iter()
        .filter_map(|row| {
            let inst = by_symbol.get(row.symbol.as_str()).copied();
            if inst.and_then(|i| i.delist_date).is_some_and(|d| d <= today) {
                return None;
            }
            Some(stock_of(row, inst))
        })
        .collect();
    screen(stocks, request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stock(code: &str, pe: Option<f64>, mv_yi: Option<f64>, industry: &str, controller: &str) -> ScreenedStock {
        ScreenedStock {
            ts_code: code.into(),
            name: code.into(),
            industry: industry.into(),
            area: String::new(),
            controller: controller.into(),
            controller_type: controller_type(controller),
            trade_date: "2025-05-19".into(),
            latest_price: Some(10.0),
            pe,
            pe_ttm: pe,
            pb: Some(1.0),
            ps: None,
            ps_ttm: None,
            dv_ratio: None,
            dv_ttm: None,
            total_market_cap: mv_yi,
            circ_market_cap: None,
        }
    }

    #[test]
    fn controller_types_follow_the_documented_rules() {
        assert_eq!(controller_type("国务院国有资产监督管理委员会"), ControllerType::CentralSoe);
        assert_eq!(controller_type("中华人民共和国财政部"), ControllerType::CentralSoe);
        assert_eq!(controller_type("贵州省人民政府国有资产监督管理委员会"), ControllerType::LocalSoe);
        assert_eq!(controller_type("深圳市国资委"), ControllerType::LocalSoe);
        assert_eq!(controller_type("何享健"), ControllerType::Private);
        assert_eq!(controller_type("华西村村民委员会"), ControllerType::Collective);
        assert_eq!(controller_type("Yum! Brands"), ControllerType::Foreign);
        assert_eq!(controller_type("无实际控制人"), ControllerType::None);
        assert_eq!(controller_type("  "), ControllerType::Unknown);
        assert!(ControllerFilter::Soe.matches(ControllerType::LocalSoe));
        assert!(!ControllerFilter::Soe.matches(ControllerType::Private));
        let f: ControllerFilter = serde_json::from_str("\"国企\"").unwrap();
        assert_eq!(f, ControllerFilter::Soe);
    }

    #[test]
    fn bounds_are_inclusive_and_drop_missing_values() {
        let all = vec![
            stock("A", Some(10.0), Some(100.0), "白酒", "何享健"),
            stock("B", Some(20.0), Some(2000.0), "银行", "中央汇金投资有限责任公司"),
            stock("C", None, Some(50.0), "白酒", ""),
        ];
        let r = ScreenerRequest { pe_min: Some(10.0), pe_max: Some(20.0), ..Default::default() };
        let p = screen(all.clone(), &r).unwrap();
        assert_eq!(p.total, 2, "C has no P/E");
        let r = ScreenerRequest { market_cap_min: Some(60.0), market_cap_max: Some(100.0), ..Default::default() };
        assert_eq!(screen(all.clone(), &r).unwrap().results[0].ts_code, "A");
        let r = ScreenerRequest {
            industry: Some(IndustryFilter::Any(vec!["白酒".into(), "证券".into()])),
            ..Default::default()
        };
        assert_eq!(screen(all.clone(), &r).unwrap().total, 2);
        let r = ScreenerRequest { industry: Some(IndustryFilter::One("all".into())), ..Default::default() };
        assert_eq!(screen(all.clone(), &r).unwrap().total, 3);
        let r = ScreenerRequest { controller_type: Some(ControllerFilter::CentralSoe), ..Default::default() };
        assert_eq!(screen(all.clone(), &r).unwrap().results[0].ts_code, "B");
    }

    #[test]
    fn sorting_puts_missing_values_last_and_pages() {
        let all = vec![
            stock("A", Some(10.0), Some(100.0), "x", ""),
            stock("B", Some(30.0), None, "x", ""),
            stock("C", Some(20.0), Some(50.0), "x", ""),
        ];
        let codes = |p: ScreenerPage| p.results.into_iter().map(|s| s.ts_code).collect::<Vec<_>>();
        assert_eq!(codes(screen(all.clone(), &ScreenerRequest::default()).unwrap()), ["A", "C", "B"]);
        let asc = ScreenerRequest { sort_order: Some(SortOrder::Asc), ..Default::default() };
        assert_eq!(codes(screen(all.clone(), &asc).unwrap()), ["C", "A", "B"]);
        let pe = ScreenerRequest {
            sort_by: Some(SortBy::Pe),
            sort_order: Some(SortOrder::Asc),
            page: Some(2),
            page_size: Some(2),
            ..Default::default()
        };
        let p = screen(all.clone(), &pe).unwrap();
        assert_eq!((p.total, p.page, p.page_size), (3, 2, 2));
        assert_eq!(codes(p), ["B"]);
    }

    #[test]
    fn a_minimum_above_its_maximum_is_refused() {
        let r = ScreenerRequest { pb_min: Some(3.0), pb_max: Some(1.0), ..Default::default() };
        let e = screen(Vec::new(), &r).unwrap_err();
        assert_eq!(
            (e.kind(), e.code()),
            (crate::ErrorKind::Invalid, "invalid_params"),
            "a rule beyond the schema: 422"
        );
        assert!(e.to_string().contains("pb_min"));
        assert!(ScreenerRequest { page_size: Some(0), ..Default::default() }.validate().is_err());
        assert!(ScreenerRequest { pe_min: Some(f64::NAN), ..Default::default() }.validate().is_err());
    }
}
