//! Every string people read, once per language. Pages pick a language from the `lang` cookie,
//! else from `Accept-Language`; English is the fallback.

/// A supported language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    ZhCn,
}

impl Lang {
    /// The BCP 47 tag used in `<html lang>` and the `lang` cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// Parses a tag as found in cookies and links.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let t = tag.trim().to_ascii_lowercase();
        if t.starts_with("zh") {
            Some(Lang::ZhCn)
        } else if t.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The best language for an `Accept-Language` header, honouring q-values.
    pub fn negotiate(accept_language: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in accept_language.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim();
            let q = it.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
            if let Some(lang) = Lang::from_tag(tag)
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::En)
    }

    /// The other language, for the switch link.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::ZhCn,
            Lang::ZhCn => Lang::En,
        }
    }

    pub fn strings(self) -> &'static Strings {
        match self {
            Lang::En => &EN,
            Lang::ZhCn => &ZH_CN,
        }
    }
}

/// The strings of one language.
#[derive(Debug)]
pub struct Strings {
    pub app_name: &'static str,
    pub language_name: &'static str,
    pub switch_language: &'static str,
    pub nav_charts: &'static str,
    pub nav_instruments: &'static str,
    pub nav_import: &'static str,
    pub nav_backtests: &'static str,
    pub nav_jobs: &'static str,
    pub nav_reports: &'static str,
    pub nav_settings: &'static str,
    pub not_yet: &'static str,
    pub search_placeholder: &'static str,
    pub resolution: &'static str,
    pub adjustment: &'static str,
    pub adj_none: &'static str,
    pub adj_qfq: &'static str,
    pub adj_hfq: &'static str,
    pub moving_averages: &'static str,
    pub theme: &'static str,
    pub theme_light: &'static str,
    pub theme_dark: &'static str,
    pub colours: &'static str,
    pub colours_red_up: &'static str,
    pub colours_green_up: &'static str,
    pub open: &'static str,
    pub high: &'static str,
    pub low: &'static str,
    pub close: &'static str,
    pub change: &'static str,
    pub volume: &'static str,
    pub shortcuts_hint: &'static str,
    pub loading: &'static str,
    pub no_data: &'static str,
    pub instruments_title: &'static str,
    pub filter: &'static str,
    pub all: &'static str,
    pub kind: &'static str,
    pub exchange: &'static str,
    pub board: &'static str,
    pub listed: &'static str,
    pub symbol: &'static str,
    pub name: &'static str,
    pub previous: &'static str,
    pub next: &'static str,
    pub page_of: &'static str,
    pub results: &'static str,
    pub import_title: &'static str,
    pub import_intro: &'static str,
    pub choose_file: &'static str,
    pub preview: &'static str,
    pub mapping: &'static str,
    pub column_none: &'static str,
    pub symbol_for_file: &'static str,
    pub symbol_column: &'static str,
    pub start_import: &'static str,
    pub import_done: &'static str,
    pub import_failed: &'static str,
    pub rows: &'static str,
    pub bars: &'static str,
    pub not_found_title: &'static str,
    pub not_found_text: &'static str,
    pub unknown_symbol: &'static str,
    pub error_title: &'static str,
    pub error_text: &'static str,
    pub back_home: &'static str,
    pub chart_attribution: &'static str,
    pub limit_up: &'static str,
    pub limit_down: &'static str,
    pub listed_from: &'static str,
    pub listed_to: &'static str,
    pub jobs_title: &'static str,
    pub job: &'static str,
    pub state: &'static str,
    pub progress: &'static str,
    pub created: &'static str,
    pub actions: &'static str,
    pub cancel: &'static str,
    pub retry: &'static str,
    pub log: &'static str,
    pub artifacts: &'static str,
    pub result: &'static str,
    pub error: &'static str,
    pub no_jobs: &'static str,
    pub job_not_found: &'static str,
    pub schedules_title: &'static str,
    pub schedule_cron: &'static str,
    pub schedule_enabled: &'static str,
    pub schedule_last: &'static str,
    pub delete: &'static str,
    pub schedules_hint: &'static str,
}

pub static EN: Strings = Strings {
    app_name: "quantdesk",
    language_name: "English",
    switch_language: "中文",
    nav_charts: "Charts",
    nav_instruments: "Instruments",
    nav_import: "Import",
    nav_backtests: "Backtests",
    nav_jobs: "Jobs",
    nav_reports: "Reports",
    nav_settings: "Settings",
    not_yet: "not yet available",
    search_placeholder: "Code, name or pinyin (/)",
    resolution: "Resolution",
    adjustment: "Adjustment",
    adj_none: "Raw",
    adj_qfq: "Forward (qfq)",
    adj_hfq: "Backward (hfq)",
    moving_averages: "MA periods",
    theme: "Theme",
    theme_light: "Light",
    theme_dark: "Dark",
    colours: "Colours",
    colours_red_up: "Red up",
    colours_green_up: "Green up",
    open: "O",
    high: "H",
    low: "L",
    close: "C",
    change: "Chg",
    volume: "Vol",
    shortcuts_hint: "Keys: 1 5 F(15) T(30) H(60) D W M switch resolution, / search, Esc close",
    loading: "Loading…",
    no_data: "No bars for this symbol and resolution.",
    instruments_title: "Instruments",
    filter: "Filter",
    all: "All",
    kind: "Type",
    exchange: "Exchange",
    board: "Board",
    listed: "Listed",
    symbol: "Symbol",
    name: "Name",
    previous: "Previous",
    next: "Next",
    page_of: "Page",
    results: "results",
    import_title: "Import bars",
    import_intro: "Upload a CSV file with a header row. Columns are detected from the header; check the mapping before importing. A file with an error is refused whole and nothing is written.",
    choose_file: "CSV file",
    preview: "Preview",
    mapping: "Column mapping",
    column_none: "(none)",
    symbol_for_file: "Symbol for every row",
    symbol_column: "or symbol column",
    start_import: "Import",
    import_done: "Imported",
    import_failed: "The file was not imported",
    rows: "rows",
    bars: "bars",
    not_found_title: "Not found",
    not_found_text: "There is no page at this address.",
    unknown_symbol: "quantdesk has no instrument with this symbol. Search for another one, or import its bars first.",
    error_title: "Something went wrong",
    error_text: "The page could not be shown. The problem has been logged; please try again.",
    back_home: "Back to charts",
    chart_attribution: "Charts by TradingView Lightweight Charts™",
    limit_up: "Limit up",
    limit_down: "Limit down",
    listed_from: "Listed from",
    listed_to: "to",
    jobs_title: "Jobs",
    job: "Job",
    state: "State",
    progress: "Progress",
    created: "Created",
    actions: "Actions",
    cancel: "Cancel",
    retry: "Retry",
    log: "Log",
    artifacts: "Files",
    result: "Result",
    error: "Error",
    no_jobs: "No jobs yet. Backtests and sweeps submitted through the API run here.",
    job_not_found: "There is no job with this number.",
    schedules_title: "Schedules",
    schedule_cron: "When (cron)",
    schedule_enabled: "On",
    schedule_last: "Last tick",
    delete: "Delete",
    schedules_hint: "Add or change schedules with `quantdesk schedule add` or PUT /api/v1/schedules/{name}.",
};

pub static ZH_CN: Strings = Strings {
    app_name: "quantdesk",
    language_name: "中文",
    switch_language: "English",
    nav_charts: "图表",
    nav_instruments: "证券列表",
    nav_import: "导入",
    nav_backtests: "回测",
    nav_jobs: "任务",
    nav_reports: "报告",
    nav_settings: "设置",
    not_yet: "尚未开放",
    search_placeholder: "代码、名称或拼音（/）",
    resolution: "周期",
    adjustment: "复权",
    adj_none: "不复权",
    adj_qfq: "前复权",
    adj_hfq: "后复权",
    moving_averages: "均线周期",
    theme: "主题",
    theme_light: "浅色",
    theme_dark: "深色",
    colours: "配色",
    colours_red_up: "红涨绿跌",
    colours_green_up: "绿涨红跌",
    open: "开",
    high: "高",
    low: "低",
    close: "收",
    change: "涨跌",
    volume: "量",
    shortcuts_hint: "快捷键：1 5 F(15) T(30) H(60) D W M 切换周期，/ 搜索，Esc 关闭",
    loading: "加载中…",
    no_data: "该证券在此周期没有K线。",
    instruments_title: "证券列表",
    filter: "筛选",
    all: "全部",
    kind: "类型",
    exchange: "交易所",
    board: "板块",
    listed: "上市日期",
    symbol: "代码",
    name: "名称",
    previous: "上一页",
    next: "下一页",
    page_of: "第",
    results: "条结果",
    import_title: "导入K线",
    import_intro: "上传带表头的 CSV 文件。系统会根据表头识别各列，请在导入前核对映射。文件中只要有一处错误，整个文件都不会写入。",
    choose_file: "CSV 文件",
    preview: "预览",
    mapping: "列映射",
    column_none: "（无）",
    symbol_for_file: "所有行的代码",
    symbol_column: "或代码列",
    start_import: "开始导入",
    import_done: "已导入",
    import_failed: "文件未导入",
    rows: "行",
    bars: "根K线",
    not_found_title: "页面不存在",
    not_found_text: "这个地址没有页面。",
    unknown_symbol: "quantdesk 中没有这个代码的证券。请搜索其他证券，或先导入它的K线。",
    error_title: "出错了",
    error_text: "页面无法显示。问题已记录，请稍后重试。",
    back_home: "返回图表",
    chart_attribution: "图表由 TradingView Lightweight Charts™ 提供",
    limit_up: "涨停",
    limit_down: "跌停",
    listed_from: "上市日期从",
    listed_to: "至",
    jobs_title: "任务",
    job: "任务",
    state: "状态",
    progress: "进度",
    created: "创建时间",
    actions: "操作",
    cancel: "取消",
    retry: "重试",
    log: "日志",
    artifacts: "文件",
    result: "结果",
    error: "错误",
    no_jobs: "还没有任务。通过 API 提交的回测和参数扫描会在这里运行。",
    job_not_found: "没有这个编号的任务。",
    schedules_title: "定时任务",
    schedule_cron: "时间（cron）",
    schedule_enabled: "启用",
    schedule_last: "上次触发",
    delete: "删除",
    schedules_hint: "用 `quantdesk schedule add` 或 PUT /api/v1/schedules/{name} 添加或修改定时任务。",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_honours_quality() {
        assert_eq!(Lang::negotiate("zh-CN,zh;q=0.9,en;q=0.8"), Lang::ZhCn);
        assert_eq!(Lang::negotiate("en-US,en;q=0.9,zh-CN;q=0.5"), Lang::En);
        assert_eq!(Lang::negotiate("fr-FR, zh;q=0.4"), Lang::ZhCn);
        assert_eq!(Lang::negotiate("fr-FR"), Lang::En);
        assert_eq!(Lang::negotiate(""), Lang::En);
        assert_eq!(Lang::from_tag("zh-Hans"), Some(Lang::ZhCn));
    }
}
