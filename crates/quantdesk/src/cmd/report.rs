//! `quantdesk report` (a grounded research report of a stored symbol, stored like the API's) and
//! `quantdesk prompt list|show|import|export` (the prompt templates), over
//! `quantdesk_app::reports`.

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use quantdesk_app::clock::now_ms;
use quantdesk_app::config::Config;
use quantdesk_app::reports::service::{self, ReportRequest};
use quantdesk_app::reports::{Lang, ReportType, export, templates};

use super::common::{open_store, print_all};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TypeArg {
    Fundamental,
    Technical,
    Valuation,
    Chan,
    Free,
}

impl From<TypeArg> for ReportType {
    fn from(t: TypeArg) -> Self {
        match t {
            TypeArg::Fundamental => ReportType::Fundamental,
            TypeArg::Technical => ReportType::Technical,
            TypeArg::Valuation => ReportType::Valuation,
            TypeArg::Chan => ReportType::Chan,
            TypeArg::Free => ReportType::Free,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    #[value(name = "zh-CN", alias = "zh")]
    Zh,
    En,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Md,
    Html,
}

#[derive(Args)]
pub struct ReportArgs {
    /// The stored symbol, e.g. 600519.SH.
    #[arg(long)]
    symbol: String,
    /// The kind of report.
    #[arg(long = "type", value_enum)]
    kind: TypeArg,
    /// The language of the report.
    #[arg(long, value_enum, default_value = "zh-CN")]
    lang: LangArg,
    /// As of this date (YYYY-MM-DD; default: the latest stored bar).
    #[arg(long)]
    date: Option<chrono::NaiveDate>,
    /// Who writes it: `offline` (quantdesk itself, the only one without a configured provider).
    #[arg(long, default_value = "offline")]
    provider: String,
    /// A prompt template version id (default: the kind's default template).
    #[arg(long)]
    prompt_id: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "md")]
    format: FormatArg,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

pub async fn report(cfg: &Config, a: ReportArgs) -> Result<()> {
    if a.provider != quantdesk_app::reports::OFFLINE_PROVIDER {
        bail!("no language-model provider {:?} is configured; use --provider offline", a.provider);
    }
    let store = open_store(cfg).await?;
    let req = ReportRequest {
        owner: String::new(),
        symbol: a.symbol.clone(),
        kind: a.kind.into(),
        lang: match a.lang {
            LangArg::Zh => Lang::Zh,
            LangArg::En => Lang::En,
        },
        date: a.date,
        prompt_id: a.prompt_id,
        job_id: None,
    };
    let created = service::create(&*store, &req, None, &mut |_: &str| {}, now_ms())
        .await
        .map_err(|e| anyhow!(e.into_message()))?;
    let saved = store.report(created.id).await?.ok_or_else(|| anyhow!("report {} vanished", created.id))?;
    let view = service::view(&saved);
    let text = match a.format {
        FormatArg::Md => export::markdown(&view),
        FormatArg::Html => export::html(&view),
    };
    match a.output {
        Some(path) => {
            std::fs::write(&path, text)?;
            eprintln!("report {} written to {}", created.id, path.display());
            Ok(())
        }
        None => print_all(&text),
    }
}

#[derive(Subcommand)]
pub enum PromptCommand {
    /// The latest version of every template.
    List,
    /// One template as TOML (its latest version, or --version).
    Show {
        name: String,
        #[arg(long)]
        version: Option<i64>,
    },
    /// Save every template of a TOML file as a new version (all checked first: none is saved
    /// when one is invalid).
    Import {
        file: PathBuf,
        /// Also make each imported template the default of its kind and language.
        #[arg(long)]
        default: bool,
    },
    /// The latest version of every template as TOML.
    Export {
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

pub async fn prompt(cfg: &Config, c: PromptCommand) -> Result<()> {
    let store = open_store(cfg).await?;
    service::ensure_defaults(&*store, now_ms()).await.map_err(|e| anyhow!(e.into_message()))?;
    let latest = || async {
        Ok::<_, anyhow::Error>(
            store.list_templates().await?.into_iter().filter_map(service::prompt_version).collect::<Vec<_>>(),
        )
    };
    match c {
        PromptCommand::List => {
            let mut out = String::from("id\tname\tversion\ttype\tlang\tdefault\tuses\n");
            for p in latest().await? {
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                    p.id,
                    p.name,
                    p.version,
                    p.kind.as_str(),
                    p.lang.as_str(),
                    if p.is_default { "yes" } else { "" },
                    p.uses
                ));
            }
            print_all(&out)
        }
        PromptCommand::Show { name, version } => {
            let rows = store.template_versions(&name).await?;
            let row = match version {
                Some(v) => rows.into_iter().find(|r| r.version == v),
                None => rows.into_iter().last(),
            }
            .ok_or_else(|| {
                anyhow!("no template {name:?}{}", version.map(|v| format!(" version {v}")).unwrap_or_default())
            })?;
            let p = service::prompt_version(row)
                .ok_or_else(|| anyhow!("template {name:?} has an unknown kind or language"))?;
            print_all(&templates::to_toml(&[p.template()]).map_err(|e| anyhow!(e.into_message()))?)
        }
        PromptCommand::Import { file, default } => {
            let text = std::fs::read_to_string(&file)?;
            let list = templates::from_toml(&text).map_err(|e| anyhow!(e.into_message()))?;
            for t in &list {
                let p = service::save_template(&*store, t, "command line", now_ms())
                    .await
                    .map_err(|e| anyhow!(e.into_message()))?;
                if default {
                    store.set_default_template(&p.name).await?;
                }
                eprintln!("{} version {} saved", p.name, p.version);
            }
            Ok(())
        }
        PromptCommand::Export { output } => {
            let list: Vec<_> = latest().await?.into_iter().map(|p| p.template()).collect();
            let text = templates::to_toml(&list).map_err(|e| anyhow!(e.into_message()))?;
            match output {
                Some(path) => Ok(std::fs::write(path, text)?),
                None => print_all(&text),
            }
        }
    }
}
