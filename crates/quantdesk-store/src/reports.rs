//! The reports port: prompt templates, one row per version, and research reports.
//!
//! A template is known by its name; saving a name again adds a version (the highest plus one, in
//! the one INSERT, so two concurrent saves cannot both take a number: the second is a
//! [`StoreError::Conflict`]). A new version inherits the name's default mark; a report records the
//! version row it used, whose `uses` it increments in the transaction that stores the report, so
//! a report and its count land together or not at all. Reports are read by id and listed by
//! owner (none: every owner's, for admins), symbol, dates, kind and industry. Both backends run
//! the same SQL.

use async_trait::async_trait;

use crate::{Result, StoreError};

/// A template version to save.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTemplate {
    pub name: String,
    pub kind: String,
    pub lang: String,
    pub system: String,
    pub user: String,
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A stored template version.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedTemplate {
    pub id: i64,
    pub name: String,
    pub version: i64,
    pub kind: String,
    pub lang: String,
    pub system: String,
    pub user: String,
    pub is_default: bool,
    pub uses: i64,
    pub created_by: String,
    pub created_at: i64,
}

/// A report to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReport {
    pub owner: String,
    pub symbol: String,
    /// `YYYY-MM-DD`: the context's trading date.
    pub date: String,
    pub kind: String,
    pub lang: String,
    pub industry: String,
    pub provider: String,
    pub model: String,
    /// The template version row used.
    pub prompt_id: Option<i64>,
    pub prompt_name: String,
    pub prompt_version: i64,
    pub markdown: String,
    /// The context's JSON text.
    pub context: String,
    /// The warnings' JSON array.
    pub warnings: String,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub latency_ms: i64,
    pub job_id: Option<i64>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A stored report.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedReport {
    pub id: i64,
    pub report: NewReport,
}

/// Which reports to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportFilter {
    /// Only this owner's (`None`: everyone's).
    pub owner: Option<String>,
    pub symbol: Option<String>,
    /// Inclusive `YYYY-MM-DD` bounds on the report's date.
    pub date_from: Option<String>,
    pub date_to: Option<String>,
    pub kind: Option<String>,
    pub industry: Option<String>,
}

#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Saves a new version of the template `t.name` (version 1 for a new name).
    async fn save_template(&self, t: &NewTemplate) -> Result<SavedTemplate>;
    /// The template version row `id`.
    async fn template(&self, id: i64) -> Result<Option<SavedTemplate>>;
    /// The latest version of `name`.
    async fn latest_template(&self, name: &str) -> Result<Option<SavedTemplate>>;
    /// The latest version of every name, by name.
    async fn list_templates(&self) -> Result<Vec<SavedTemplate>>;
    /// Every version of `name`, oldest first.
    async fn template_versions(&self, name: &str) -> Result<Vec<SavedTemplate>>;
    /// Makes `name` the default of its kind and language (every version of it marked, the other
    /// names of that kind and language unmarked, in one statement); false when `name` is unknown.
    async fn set_default_template(&self, name: &str) -> Result<bool>;
    /// The latest version of the default template of `kind` and `lang`.
    async fn default_template(&self, kind: &str, lang: &str) -> Result<Option<SavedTemplate>>;

    /// Stores a report and counts a use of its template version, in one transaction; its id.
    async fn save_report(&self, r: &NewReport) -> Result<i64>;
    async fn report(&self, id: i64) -> Result<Option<SavedReport>>;
    /// Reports that pass `f`, newest first (then highest id), `limit` from `offset`.
    async fn list_reports(&self, f: &ReportFilter, limit: u32, offset: u32) -> Result<Vec<SavedReport>>;
    async fn count_reports(&self, f: &ReportFilter) -> Result<u64>;
    /// Deletes report `id` (only `owner`'s when given); false when nothing was deleted.
    async fn delete_report(&self, id: i64, owner: Option<&str>) -> Result<bool>;
}

pub(crate) const TEMPLATE_COLUMNS: &str =
    "id, name, version, kind, lang, system, user_text, is_default, uses, created_by, created_at";

pub(crate) type TemplateTuple = (i64, String, i64, String, String, String, String, i64, i64, String, i64);

pub(crate) fn template_from(t: TemplateTuple) -> SavedTemplate {
    let (id, name, version, kind, lang, system, user, is_default, uses, created_by, created_at) = t;
    SavedTemplate {
        id,
        name,
        version,
        kind,
        lang,
        system,
        user,
        is_default: is_default != 0,
        uses,
        created_by,
        created_at,
    }
}

pub(crate) const REPORT_COLUMNS: &str = "id, owner, symbol, report_date, kind, lang, industry, provider, model, \
     prompt_id, prompt_name, prompt_version, markdown, context, warnings, tokens_in, tokens_out, latency_ms, job_id, \
     created_at";

pub(crate) type ReportRow = (
    i64,
    (String, String, String, String, String, String, String, String),
    (Option<i64>, String, i64, String, String, String),
    (i64, i64, i64, Option<i64>, i64),
);

pub(crate) fn report_from(r: ReportRow) -> SavedReport {
    let (id, (owner, symbol, date, kind, lang, industry, provider, model), a, b) = r;
    let (prompt_id, prompt_name, prompt_version, markdown, context, warnings) = a;
    let (tokens_in, tokens_out, latency_ms, job_id, created_at) = b;
    SavedReport {
        id,
        report: NewReport {
            owner,
            symbol,
            date,
            kind,
            lang,
            industry,
            provider,
            model,
            prompt_id,
            prompt_name,
            prompt_version,
            markdown,
            context,
            warnings,
            tokens_in,
            tokens_out,
            latency_ms,
            job_id,
            created_at,
        },
    }
}

/// The WHERE clause of a filter (from `$1` on) and its arguments, all text.
pub(crate) fn filter_sql(f: &ReportFilter) -> (String, Vec<String>) {
    let mut clauses = Vec::new();
    let mut args = Vec::new();
    let mut add = |sql: &str, v: &Option<String>| {
        if let Some(v) = v {
            args.push(v.clone());
            clauses.push(format!("{sql} ${}", args.len()));
        }
    };
    add("owner =", &f.owner);
    add("symbol =", &f.symbol);
    add("report_date >=", &f.date_from);
    add("report_date <=", &f.date_to);
    add("kind =", &f.kind);
    add("industry =", &f.industry);
    let sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    (sql, args)
}

/// Implements [`ReportStore`] for a backend type with a `pool` field (the SQL is the same).
macro_rules! report_store_impl {
    ($store:ty) => {
        #[async_trait]
        impl ReportStore for $store {
            async fn save_template(&self, t: &NewTemplate) -> Result<SavedTemplate> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "INSERT INTO prompt_templates (name, version, kind, lang, system, user_text, is_default, uses, \
                     created_by, created_at) \
                     SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, COALESCE(MAX(is_default), 0), 0, $6, $7 \
                     FROM prompt_templates WHERE name = $1 RETURNING {TEMPLATE_COLUMNS}"
                ));
                let row: TemplateTuple = sqlx::query_as(sql)
                    .bind(t.name.as_str())
                    .bind(t.kind.as_str())
                    .bind(t.lang.as_str())
                    .bind(t.system.as_str())
                    .bind(t.user.as_str())
                    .bind(t.created_by.as_str())
                    .bind(t.created_at)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(template_from(row))
            }

            async fn template(&self, id: i64) -> Result<Option<SavedTemplate>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {TEMPLATE_COLUMNS} FROM prompt_templates WHERE id = $1"));
                Ok(sqlx::query_as::<_, TemplateTuple>(sql).bind(id).fetch_optional(&self.pool).await?.map(template_from))
            }

            async fn latest_template(&self, name: &str) -> Result<Option<SavedTemplate>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {TEMPLATE_COLUMNS} FROM prompt_templates WHERE name = $1 ORDER BY version DESC LIMIT 1"
                ));
                Ok(sqlx::query_as::<_, TemplateTuple>(sql).bind(name).fetch_optional(&self.pool).await?.map(template_from))
            }

            async fn list_templates(&self) -> Result<Vec<SavedTemplate>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {TEMPLATE_COLUMNS} FROM prompt_templates t WHERE version = \
                     (SELECT MAX(version) FROM prompt_templates u WHERE u.name = t.name) ORDER BY name"
                ));
                Ok(sqlx::query_as::<_, TemplateTuple>(sql)
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(template_from)
                    .collect())
            }

            async fn template_versions(&self, name: &str) -> Result<Vec<SavedTemplate>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {TEMPLATE_COLUMNS} FROM prompt_templates WHERE name = $1 ORDER BY version"
                ));
                Ok(sqlx::query_as::<_, TemplateTuple>(sql)
                    .bind(name)
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(template_from)
                    .collect())
            }

            async fn set_default_template(&self, name: &str) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE prompt_templates SET is_default = CASE WHEN name = $1 THEN 1 ELSE 0 END \
                     WHERE (kind, lang) IN (SELECT kind, lang FROM prompt_templates WHERE name = $1)",
                )
                .bind(name)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn default_template(&self, kind: &str, lang: &str) -> Result<Option<SavedTemplate>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {TEMPLATE_COLUMNS} FROM prompt_templates WHERE kind = $1 AND lang = $2 AND is_default = 1 \
                     ORDER BY version DESC, id DESC LIMIT 1"
                ));
                Ok(sqlx::query_as::<_, TemplateTuple>(sql)
                    .bind(kind)
                    .bind(lang)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(template_from))
            }

            async fn save_report(&self, r: &NewReport) -> Result<i64> {
                let mut tx = self.pool.begin().await?;
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO reports (owner, symbol, report_date, kind, lang, industry, provider, model, prompt_id, \
                     prompt_name, prompt_version, markdown, context, warnings, tokens_in, tokens_out, latency_ms, job_id, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
                     RETURNING id",
                )
                .bind(r.owner.as_str())
                .bind(r.symbol.as_str())
                .bind(r.date.as_str())
                .bind(r.kind.as_str())
                .bind(r.lang.as_str())
                .bind(r.industry.as_str())
                .bind(r.provider.as_str())
                .bind(r.model.as_str())
                .bind(r.prompt_id)
                .bind(r.prompt_name.as_str())
                .bind(r.prompt_version)
                .bind(r.markdown.as_str())
                .bind(r.context.as_str())
                .bind(r.warnings.as_str())
                .bind(r.tokens_in)
                .bind(r.tokens_out)
                .bind(r.latency_ms)
                .bind(r.job_id)
                .bind(r.created_at)
                .fetch_one(&mut *tx)
                .await?;
                if let Some(p) = r.prompt_id {
                    let done = sqlx::query("UPDATE prompt_templates SET uses = uses + 1 WHERE id = $1")
                        .bind(p)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound(format!("no prompt template {p}")));
                    }
                }
                tx.commit().await?;
                Ok(id)
            }

            async fn report(&self, id: i64) -> Result<Option<SavedReport>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1"));
                let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?;
                row.map(|r| report_row(&r)).transpose()
            }

            async fn list_reports(&self, f: &ReportFilter, limit: u32, offset: u32) -> Result<Vec<SavedReport>> {
                let (clause, args) = filter_sql(f);
                let n = args.len();
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {REPORT_COLUMNS} FROM reports {clause} ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
                    n + 1,
                    n + 2
                ));
                let mut q = sqlx::query(sql);
                for a in &args {
                    q = q.bind(a.as_str());
                }
                let rows = q.bind(i64::from(limit)).bind(i64::from(offset)).fetch_all(&self.pool).await?;
                rows.iter().map(report_row).collect()
            }

            async fn count_reports(&self, f: &ReportFilter) -> Result<u64> {
                let (clause, args) = filter_sql(f);
                let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM reports {clause}"));
                let mut q = sqlx::query_as::<_, (i64,)>(sql);
                for a in &args {
                    q = q.bind(a.as_str());
                }
                let (n,) = q.fetch_one(&self.pool).await?;
                u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{n} reports")))
            }

            async fn delete_report(&self, id: i64, owner: Option<&str>) -> Result<bool> {
                let done = match owner {
                    Some(o) => {
                        sqlx::query("DELETE FROM reports WHERE id = $1 AND owner = $2")
                            .bind(id)
                            .bind(o)
                            .execute(&self.pool)
                            .await?
                    }
                    None => sqlx::query("DELETE FROM reports WHERE id = $1").bind(id).execute(&self.pool).await?,
                };
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

/// A report row of either backend.
fn report_row<R: sqlx::Row>(r: &R) -> Result<SavedReport>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<i64>: sqlx::Decode<'q, R::Database>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    let s = |c: &str| r.try_get::<String, _>(c);
    let i = |c: &str| r.try_get::<i64, _>(c);
    let o = |c: &str| r.try_get::<Option<i64>, _>(c);
    Ok(report_from((
        i("id")?,
        (
            s("owner")?,
            s("symbol")?,
            s("report_date")?,
            s("kind")?,
            s("lang")?,
            s("industry")?,
            s("provider")?,
            s("model")?,
        ),
        (o("prompt_id")?, s("prompt_name")?, i("prompt_version")?, s("markdown")?, s("context")?, s("warnings")?),
        (i("tokens_in")?, i("tokens_out")?, i("latency_ms")?, o("job_id")?, i("created_at")?),
    )))
}

report_store_impl!(crate::SqliteStore);
report_store_impl!(crate::PgStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_number_their_placeholders_in_order() {
        let f = ReportFilter {
            owner: Some("a".into()),
            kind: Some("chan".into()),
            date_to: Some("2024-01-01".into()),
            ..Default::default()
        };
        let (sql, args) = filter_sql(&f);
        assert_eq!(sql, "WHERE owner = $1 AND report_date <= $2 AND kind = $3");
        assert_eq!(args, ["a", "2024-01-01", "chan"]);
        assert_eq!(filter_sql(&ReportFilter::default()).0, "");
    }
}
