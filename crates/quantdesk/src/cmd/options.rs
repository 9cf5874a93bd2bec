//! The closed option sets of the command line, as clap `ValueEnum`s mapped onto the library types
//! (the pure crates stay free of clap). The accepted spellings are those the hand-written parsers
//! accepted before; the tests below pin them.

use std::ffi::OsStr;
use std::marker::PhantomData;

use clap::ValueEnum;
use clap::builder::{EnumValueParser, PossibleValue, TypedValueParser};

/// `--format` of the reporting commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

impl From<LogFormatArg> for quantdesk_app::config::LogFormat {
    fn from(f: LogFormatArg) -> Self {
        match f {
            LogFormatArg::Text => Self::Text,
            LogFormatArg::Json => Self::Json,
        }
    }
}

/// `--market`: the market rules of a backtest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MarketArg {
    Generic,
    #[value(name = "cn-a", alias = "cn_a")]
    CnA,
}

impl From<MarketArg> for quantdesk_backtest::Market {
    fn from(m: MarketArg) -> Self {
        match m {
            MarketArg::Generic => Self::Generic,
            MarketArg::CnA => Self::CnA(quantdesk_backtest::ChinaRules::default()),
        }
    }
}

/// `--fill`: when market orders fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FillArg {
    #[value(name = "next_open")]
    NextOpen,
    Close,
}

impl From<FillArg> for quantdesk_backtest::FillMode {
    fn from(f: FillArg) -> Self {
        match f {
            FillArg::NextOpen => Self::NextOpen,
            FillArg::Close => Self::Close,
        }
    }
}

/// `--profile` of `chan`: the rule set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChanProfileArg {
    Chanpy,
    Czsc,
}

impl From<ChanProfileArg> for quantdesk_app::chan::ChanProfile {
    fn from(p: ChanProfileArg) -> Self {
        match p {
            ChanProfileArg::Chanpy => Self::Chanpy,
            ChanProfileArg::Czsc => Self::Czsc,
        }
    }
}

/// `--adjustment` of stored bars. Read as `quantdesk_core::Adjustment::parse` reads it: ignoring
/// case and surrounding blanks, with its synonyms (see [`Lenient`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AdjustmentArg {
    #[value(alias = "raw", alias = "")]
    None,
    #[value(alias = "forward")]
    Qfq,
    #[value(alias = "backward")]
    Hfq,
}

impl From<AdjustmentArg> for quantdesk_core::Adjustment {
    fn from(a: AdjustmentArg) -> Self {
        match a {
            AdjustmentArg::None => Self::None,
            AdjustmentArg::Qfq => Self::Qfq,
            AdjustmentArg::Hfq => Self::Hfq,
        }
    }
}

/// `--metric` of `sweep`: what ranks the runs (the names `quantdesk_backtest::sweep::score` reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MetricArg {
    Sharpe,
    Sortino,
    Calmar,
    #[value(name = "total_return")]
    TotalReturn,
    Cagr,
    #[value(name = "max_drawdown")]
    MaxDrawdown,
    #[value(name = "win_rate")]
    WinRate,
    #[value(name = "profit_factor")]
    ProfitFactor,
}

impl MetricArg {
    /// The name the backtest library knows the metric by.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricArg::Sharpe => "sharpe",
            MetricArg::Sortino => "sortino",
            MetricArg::Calmar => "calmar",
            MetricArg::TotalReturn => "total_return",
            MetricArg::Cagr => "cagr",
            MetricArg::MaxDrawdown => "max_drawdown",
            MetricArg::WinRate => "win_rate",
            MetricArg::ProfitFactor => "profit_factor",
        }
    }
}

impl std::fmt::Display for MetricArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `--role` of `user create`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Admin,
    Analyst,
    Viewer,
}

impl From<RoleArg> for quantdesk_store::auth::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Admin => Self::Admin,
            RoleArg::Analyst => Self::Analyst,
            RoleArg::Viewer => Self::Viewer,
        }
    }
}

/// A `ValueEnum` read after trimming surrounding blanks; with the argument's `ignore_case`, in any
/// case. For options whose library parser was that forgiving (`--adjustment`). Help lists the
/// values as for a plain `ValueEnum`.
#[derive(Clone)]
pub struct Lenient<E>(PhantomData<E>);

impl<E> Lenient<E> {
    pub fn new() -> Self {
        Lenient(PhantomData)
    }
}

impl<E: ValueEnum + Clone + Send + Sync + 'static> TypedValueParser for Lenient<E> {
    type Value = E;

    fn parse_ref(&self, cmd: &clap::Command, arg: Option<&clap::Arg>, value: &OsStr) -> Result<E, clap::Error> {
        let trimmed = value.to_str().map(str::trim).map(OsStr::new).unwrap_or(value);
        EnumValueParser::<E>::new().parse_ref(cmd, arg, trimmed)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(E::value_variants().iter().filter_map(ValueEnum::to_possible_value)))
    }
}

/// `--resolution`: any resolution `quantdesk_core::Resolution::parse` reads (an open family of
/// minute counts, so not a `ValueEnum`).
pub fn parse_resolution(s: &str) -> Result<quantdesk_core::Resolution, String> {
    quantdesk_core::Resolution::parse(s).map_err(|e| e.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Every option as the commands declare it.
    #[derive(Parser, Debug)]
    struct Probe {
        #[arg(long, value_enum)]
        format: Option<OutputFormat>,
        #[arg(long, value_enum)]
        log_format: Option<LogFormatArg>,
        #[arg(long, value_enum)]
        market: Option<MarketArg>,
        #[arg(long, value_enum)]
        fill: Option<FillArg>,
        #[arg(long, value_enum)]
        profile: Option<ChanProfileArg>,
        #[arg(long, ignore_case = true, value_parser = Lenient::<AdjustmentArg>::new())]
        adjustment: Option<AdjustmentArg>,
        #[arg(long, value_enum)]
        metric: Option<MetricArg>,
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
        #[arg(long, value_parser = parse_resolution)]
        resolution: Option<quantdesk_core::Resolution>,
    }

    fn probe(flag: &str, value: &str) -> Result<Probe, clap::Error> {
        Probe::try_parse_from(["probe", &format!("--{flag}"), value])
    }

    fn accepts(flag: &str, value: &str) -> Probe {
        probe(flag, value).unwrap_or_else(|e| panic!("--{flag} {value:?} refused: {e}"))
    }

    fn refuses(flag: &str, value: &str) {
        assert!(probe(flag, value).is_err(), "--{flag} {value:?} accepted");
    }

    #[test]
    fn output_and_log_formats() {
        assert_eq!(accepts("format", "table").format, Some(OutputFormat::Table));
        assert_eq!(accepts("format", "json").format, Some(OutputFormat::Json));
        for bad in ["xml", "JSON", "Table", " json", ""] {
            refuses("format", bad);
        }
        use quantdesk_app::config::LogFormat;
        assert!(matches!(accepts("log-format", "text").log_format.map(LogFormat::from), Some(LogFormat::Text)));
        assert!(matches!(accepts("log-format", "json").log_format.map(LogFormat::from), Some(LogFormat::Json)));
        for bad in ["Text", "logfmt", ""] {
            refuses("log-format", bad);
        }
    }

    #[test]
    fn market_profiles() {
        use quantdesk_backtest::{ChinaRules, Market};
        assert_eq!(accepts("market", "generic").market.map(Market::from), Some(Market::Generic));
        for cn in ["cn-a", "cn_a"] {
            assert_eq!(accepts("market", cn).market.map(Market::from), Some(Market::CnA(ChinaRules::default())));
        }
        for bad in ["cn", "CN-A", "cna", "us", ""] {
            refuses("market", bad);
        }
    }

    #[test]
    fn fill_modes() {
        use quantdesk_backtest::FillMode;
        assert_eq!(accepts("fill", "next_open").fill.map(FillMode::from), Some(FillMode::NextOpen));
        assert_eq!(accepts("fill", "close").fill.map(FillMode::from), Some(FillMode::Close));
        for bad in ["next-open", "nextopen", "open", "Close", ""] {
            refuses("fill", bad);
        }
    }

    #[test]
    fn chan_profiles() {
        use quantdesk_app::chan::ChanProfile;
        for (s, p) in [("chanpy", ChanProfile::Chanpy), ("czsc", ChanProfile::Czsc)] {
            assert_eq!(accepts("profile", s).profile.map(ChanProfile::from), Some(p));
            // The same spellings as the API's `profile=`.
            assert_eq!(ChanProfile::parse(s), Some(p));
        }
        for bad in ["chanlun", "Chanpy", "CZSC", ""] {
            refuses("profile", bad);
            assert_eq!(ChanProfile::parse(bad), None);
        }
    }

    #[test]
    fn adjustments_read_as_the_core_reads_them() {
        use quantdesk_core::Adjustment;
        for s in [
            "none",
            "qfq",
            "hfq",
            "raw",
            "forward",
            "backward",
            "",
            "  ",
            "QFQ",
            "Hfq",
            " qfq ",
            "\tNone",
            "Forward",
            "BACKWARD ",
        ] {
            let want = Adjustment::parse(s).unwrap();
            assert_eq!(accepts("adjustment", s).adjustment.map(Adjustment::from), Some(want), "{s:?}");
        }
        for bad in ["fq", "q", "adjusted", "qfq2"] {
            assert!(Adjustment::parse(bad).is_err());
            refuses("adjustment", bad);
        }
    }

    #[test]
    fn sweep_metrics_are_the_library_s() {
        let m = quantdesk_backtest::Metrics::zeroed();
        for v in MetricArg::value_variants() {
            let name = v.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(name, v.as_str());
            assert_eq!(accepts("metric", &name).metric, Some(*v));
            assert!(quantdesk_backtest::sweep::score(&m, &name).is_ok(), "{name}");
        }
        for bad in ["total-return", "Sharpe", "sqn", ""] {
            refuses("metric", bad);
        }
    }

    #[test]
    fn roles() {
        use quantdesk_store::auth::Role;
        for s in ["admin", "analyst", "viewer"] {
            assert_eq!(accepts("role", s).role.map(Role::from), Role::parse(s));
        }
        for bad in ["Admin", "root", "owner", ""] {
            refuses("role", bad);
            assert_eq!(Role::parse(bad), None);
        }
    }

    #[test]
    fn resolutions_read_as_the_core_reads_them() {
        use quantdesk_core::Resolution;
        for s in ["1", "5", "15", "30", "60", "1D", "D", "1d", "1W", "w", "1M", "m", "5min", "240", " 1D "] {
            assert_eq!(accepts("resolution", s).resolution, Some(Resolution::parse(s).unwrap()), "{s:?}");
        }
        for bad in ["7", "0", "2H", "1Y", ""] {
            refuses("resolution", bad);
        }
    }
}
