//! Exports of a stored report: Markdown (the text, its warnings and where it came from) and a
//! self-contained HTML file (the page's sanitised HTML with its styles inline, no script).

use super::Lang;
use super::service::ReportView;

fn lang_of(v: &ReportView) -> Lang {
    Lang::parse(&v.lang).unwrap_or(Lang::Zh)
}

fn t(lang: Lang, en: &'static str, zh: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// Escapes text for HTML.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The provenance line: provider, model, template version, date.
fn provenance(v: &ReportView, lang: Lang) -> String {
    let by = if v.offline {
        t(lang, "quantdesk (no language model)", "quantdesk（未使用语言模型）").to_string()
    } else {
        format!("{} / {}", v.provider, v.model)
    };
    match lang {
        Lang::En => format!(
            "Symbol {} · data as of {} · written by {by} · template {} v{}",
            v.symbol, v.date, v.prompt_name, v.prompt_version
        ),
        Lang::Zh => format!(
            "代码 {} · 数据截至 {} · 撰写：{by} · 模板 {} 第 {} 版",
            v.symbol, v.date, v.prompt_name, v.prompt_version
        ),
    }
}

/// The report as Markdown: its text, then its warnings and provenance.
pub fn markdown(v: &ReportView) -> String {
    let lang = lang_of(v);
    let mut out = v.markdown.trim_end().to_string();
    out.push_str("\n\n---\n\n");
    if !v.warnings.is_empty() {
        out.push_str(&format!("**{}**\n\n", t(lang, "Warnings", "警告")));
        for w in &v.warnings {
            out.push_str(&format!("- {}\n", super::render::md_escape(&w.message(lang))));
        }
        out.push('\n');
    }
    out.push_str(&format!("_{}_\n", super::render::md_escape(&provenance(v, lang))));
    out
}

/// The report as one HTML file with nothing to fetch: styles inline, no script, the body the
/// sanitised rendering of the Markdown (links stay as they are: same-site paths point at the
/// quantdesk that wrote it).
pub fn html(v: &ReportView) -> String {
    let lang = lang_of(v);
    let mut warnings = String::new();
    if !v.warnings.is_empty() {
        warnings.push_str(&format!("<section class=\"warnings\"><h2>{}</h2><ul>", t(lang, "Warnings", "警告")));
        for w in &v.warnings {
            warnings.push_str(&format!("<li>{}</li>", html_escape(&w.message(lang))));
        }
        warnings.push_str("</ul></section>");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
<title>{title}</title><style>\
body{{font-family:system-ui,'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;line-height:1.6;color:#1d2733}}\
table{{border-collapse:collapse}}td,th{{border:1px solid #ccd;padding:.2rem .5rem}}td{{text-align:right}}td:first-child{{text-align:left}}\
blockquote{{border-left:4px solid #c9a227;margin:0;padding:.2rem 1rem;background:#fbf6e6}}\
.warnings{{border:1px solid #d9534f;background:#fdf0ef;padding:.5rem 1rem}}footer{{color:#667;font-size:.9rem}}\
</style></head><body><article>{body}</article>{warnings}<footer>{prov}</footer></body></html>\n",
        lang = html_escape(&v.lang),
        title = html_escape(&format!("{} {} {}", v.symbol, v.kind, v.date)),
        body = v.html,
        prov = html_escape(&provenance(v, lang)),
    )
}
