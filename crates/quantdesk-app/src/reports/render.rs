//! From a model's Markdown to what people read: `{{fact:ID}}` references replaced by the fact's
//! value from the context, linked to its source (so a figure cannot be mistyped); citations
//! `[fact:ID]` after a bare number checked against the cited value (rounding aside) and linked;
//! every violation listed as a warning. Then the Markdown becomes HTML with raw HTML shown as text,
//! images dropped and only http(s), same-site and fragment links kept.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Lang;
use super::context::{Context, Fact, format_number};

/// What the check of a report found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// A reference or citation names no fact of the context.
    UnknownFact,
    /// A number cited with a fact differs from the fact's value.
    Mismatch,
}

/// A warning shown on the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Warning {
    pub code: WarningCode,
    /// The fact id as written.
    pub fact: String,
    /// The number as written (mismatches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown: Option<String>,
    /// The fact's value at its decimals (mismatches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
}

impl Warning {
    /// The warning as a sentence.
    pub fn message(&self, lang: Lang) -> String {
        let shown = self.shown.as_deref().unwrap_or("");
        let expected = self.expected.as_deref().unwrap_or("");
        match (self.code, lang) {
            (WarningCode::UnknownFact, Lang::En) => {
                format!("the report cites {}, which the context does not hold", self.fact)
            }
            (WarningCode::UnknownFact, Lang::Zh) => format!("报告引用了上下文中不存在的数据 {}", self.fact),
            (WarningCode::Mismatch, Lang::En) => {
                format!("the report writes {shown} for {}, whose value is {expected}", self.fact)
            }
            (WarningCode::Mismatch, Lang::Zh) => format!("报告中 {} 写作 {shown}，其数值应为 {expected}", self.fact),
        }
    }
}

/// A rendered report's Markdown and its warnings.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub markdown: String,
    pub warnings: Vec<Warning>,
}

/// Characters of a fact id.
fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Escapes text for Markdown so that it reads as itself (no emphasis, link, HTML or heading).
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '<' | '>' | '|' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A Markdown link to a fact's source with `text` as its text.
fn link(text: &str, fact: &Fact) -> String {
    format!("[{}]({})", md_escape(text), fact.source)
}

/// Replaces references, checks and links citations.
pub fn render(text: &str, ctx: &Context, lang: Lang) -> Rendered {
    let mut warnings = Vec::new();
    let filled = fill_references(text, ctx, lang, &mut warnings);
    let markdown = check_citations(&filled, ctx, &mut warnings);
    Rendered { markdown, warnings }
}

fn fill_references(text: &str, ctx: &Context, lang: Lang, warnings: &mut Vec<Warning>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("{{fact:") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 7..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[i..]);
            rest = "";
            break;
        };
        let id = after[..end].trim();
        if id.chars().all(id_char) && !id.is_empty() {
            match ctx.fact(id) {
                Some(f) => out.push_str(&link(&f.display(lang), f)),
                None => {
                    warnings.push(Warning {
                        code: WarningCode::UnknownFact,
                        fact: id.to_string(),
                        shown: None,
                        expected: None,
                    });
                    out.push_str("**?**");
                }
            }
            rest = &after[end + 2..];
        } else {
            out.push_str("{{fact:");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Units a number may carry between itself and its citation.
const UNITS: [&str; 7] = ["%", "亿元", "元", "CNY", "x", "倍", "bp"];

/// The number that ends `before` (after an optional unit and spaces): its text and value.
fn trailing_number(before: &str) -> Option<(String, f64)> {
    let mut s = before.trim_end();
    for u in UNITS {
        if let Some(t) = s.strip_suffix(u) {
            s = t.trim_end();
            break;
        }
    }
    let start = s
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_digit() || *c == '.' || *c == ',')
        .last()
        .map(|(i, _)| i)?;
    let mut start = start;
    if s[..start].ends_with('-') || s[..start].ends_with('−') {
        start = s[..start].char_indices().last().map(|(i, _)| i).unwrap_or(start);
    }
    let raw = s[start..].trim_start_matches(',');
    let raw = raw.trim_end_matches(['.', ',']);
    let cleaned: String = raw.chars().filter(|c| *c != ',').collect::<String>().replace('−', "-");
    let value: f64 = cleaned.parse().ok()?;
    Some((raw.to_string(), value))
}

/// Decimals written in a number's text.
fn decimals_of(raw: &str) -> i32 {
    raw.rsplit_once('.').map(|(_, d)| d.len() as i32).unwrap_or(0)
}

/// Whether `shown`, written with `decimals`, is `value` rounded.
pub fn agrees(shown: f64, decimals: i32, value: f64) -> bool {
    let half = 0.5 * 10f64.powi(-decimals);
    (shown - value).abs() <= half + 1e-9 * value.abs().max(1.0)
}

fn check_citations(text: &str, ctx: &Context, warnings: &mut Vec<Warning>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("[fact:") {
        let after = &rest[i + 6..];
        let Some(end) = after.find(']') else { break };
        let id = &after[..end];
        if id.is_empty() || !id.chars().all(id_char) {
            out.push_str(&rest[..i + 6]);
            rest = after;
            continue;
        }
        let before = &rest[..i];
        match ctx.fact(id) {
            None => {
                warnings.push(Warning {
                    code: WarningCode::UnknownFact,
                    fact: id.to_string(),
                    shown: None,
                    expected: None,
                });
                out.push_str(before);
                out.push_str(&format!("\\[{}?\\]", md_escape(id)));
            }
            Some(f) => {
                if let (Some(value), Some((raw, shown))) = (f.number(), trailing_number(before))
                    && !agrees(shown, decimals_of(&raw), value)
                {
                    warnings.push(Warning {
                        code: WarningCode::Mismatch,
                        fact: id.to_string(),
                        shown: Some(raw),
                        expected: Some(format_number(value, f.decimals)),
                    });
                }
                out.push_str(before);
                out.push_str(&format!("[\\[{}\\]]({})", md_escape(id), f.source));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Whether a link may stay: http(s), a same-site path or a fragment; nothing with control
/// characters or spaces.
pub fn safe_link(dest: &str) -> bool {
    if dest.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return false;
    }
    let lower = dest.to_ascii_lowercase();
    lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with('#')
        || (lower.starts_with('/') && !lower.starts_with("//") && !lower.starts_with("/\\"))
}

/// Markdown to HTML: raw HTML is shown as text, images are dropped (their text stays), links
/// other than [`safe_link`]s lose their target (their text stays).
pub fn to_html(markdown: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    let mut dropped_link = false;
    let events = Parser::new_ext(markdown, opts).filter_map(|e| match e {
        Event::Html(s) | Event::InlineHtml(s) => Some(Event::Text(s)),
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        Event::Start(Tag::Link { ref dest_url, .. }) if !safe_link(dest_url) => {
            dropped_link = true;
            None
        }
        Event::End(TagEnd::Link) if dropped_link => {
            dropped_link = false;
            None
        }
        e => Some(e),
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::context::{FactValue, Section};

    fn ctx() -> Context {
        let fact = |id: &str, v: f64, unit: &str, d: u8| Fact {
            id: id.into(),
            value: FactValue::Number(v),
            unit: unit.into(),
            decimals: d,
            label_en: id.into(),
            label_zh: id.into(),
            source: format!("/chart/X?date=2024-01-02#{id}"),
        };
        Context {
            symbol: "X".into(),
            name: "X".into(),
            industry: String::new(),
            date: "2024-01-02".into(),
            currency: "CNY".into(),
            sections: vec![Section {
                id: "price".into(),
                title_en: "Price".into(),
                title_zh: "价格".into(),
                facts: vec![fact("price.last", 1712.456, "CNY", 2), fact("ret.20d", -5.234, "%", 2)],
            }],
        }
    }

    #[test]
    fn references_are_filled_from_the_context_and_linked() {
        let r = render("Close {{fact:price.last}}, 20d {{fact:ret.20d}}.", &ctx(), Lang::En);
        assert_eq!(
            r.markdown,
            "Close [1712.46 CNY](/chart/X?date=2024-01-02#price.last), 20d [-5.23%](/chart/X?date=2024-01-02#ret.20d)."
        );
        assert!(r.warnings.is_empty());
        let zh = render("{{fact:price.last}}", &ctx(), Lang::Zh);
        assert!(zh.markdown.starts_with("[1712.46 元]"), "{}", zh.markdown);
    }

    #[test]
    fn an_unknown_reference_is_a_warning() {
        let r = render("x {{fact:nope.1}} y", &ctx(), Lang::En);
        assert_eq!(r.markdown, "x **?** y");
        assert_eq!(r.warnings.len(), 1);
        assert_eq!(r.warnings[0].code, WarningCode::UnknownFact);
    }

    #[test]
    fn cited_numbers_are_checked_rounding_aside() {
        let r = render(
            "close 1712.5 [fact:price.last], 1712 CNY [fact:price.last], -5.2% [fact:ret.20d]",
            &ctx(),
            Lang::En,
        );
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let bad = render("close 1,812.46 [fact:price.last] and -6.23 % [fact:ret.20d]", &ctx(), Lang::En);
        assert_eq!(bad.warnings.len(), 2, "{:?}", bad.warnings);
        assert_eq!(bad.warnings[0].shown.as_deref(), Some("1,812.46"));
        assert_eq!(bad.warnings[0].expected.as_deref(), Some("1712.46"));
        assert_eq!(bad.warnings[1].shown.as_deref(), Some("-6.23"));
        assert!(bad.markdown.contains("[\\[price.last\\]](/chart/X?date=2024-01-02#price.last)"), "{}", bad.markdown);
        let unknown = render("7 [fact:zzz]", &ctx(), Lang::En);
        assert_eq!(unknown.warnings[0].code, WarningCode::UnknownFact);
    }

    #[test]
    fn html_escapes_raw_html_and_drops_unsafe_links() {
        let html = to_html(
            "<script>alert(1)</script>\n\nhi <img src=x onerror=alert(1)> [a](javascript:alert(1)) [b](https://ok.example/) [c](/chart/X) ![i](https://x/i.png) [d](//evil.example)",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.to_ascii_lowercase().contains("javascript:alert(1)\""), "{html}");
        assert!(!html.contains("href=\"javascript"), "{html}");
        assert!(html.contains("<a href=\"https://ok.example/\">b</a>"), "{html}");
        assert!(html.contains("<a href=\"/chart/X\">c</a>"), "{html}");
        assert!(!html.contains("//evil.example\""), "{html}");
        assert!(html.contains(">a") || html.contains(" a "), "{html}");
    }

    #[test]
    fn md_escape_neutralises_markup() {
        let s = md_escape("**x** [y](javascript:1) <b>\nz");
        let html = to_html(&s);
        assert!(!html.contains("<strong>") && !html.contains("<a ") && !html.contains("<b>"), "{html}");
        assert!(html.contains("**x**"), "{html}");
    }

    #[test]
    fn safe_links() {
        for ok in ["https://a.b/", "HTTP://a", "/chart/X", "#f"] {
            assert!(safe_link(ok), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:1",
            "data:text/html,x",
            "//evil",
            "/\\evil",
            "java\tscript:1",
            "vbscript:x",
            "x:y",
        ] {
            assert!(!safe_link(bad), "{bad}");
        }
    }
}
