//! The backup archive: a POSIX tar file that standard tools can list and unpack.
//!
//! ```text
//! manifest.json              format, versions, source backend, and per table: rows, SHA-256
//! tables/instruments.jsonl.gz  one gzip member per table, in `TABLES` order: one JSON array
//! tables/series.jsonl.gz       per row, columns in the manifest's order
//! …
//! manifest.json.sha256       the SHA-256 of manifest.json; last, so a cut archive lacks it
//! ```
//!
//! Cells are written canonically: integers as JSON integers; reals as the shortest decimal that
//! reads back to the same `f64` (and `"NaN"`, `"Infinity"`, `"-Infinity"` for the non-finite);
//! text as JSON strings; dates as `"YYYY-MM-DD"`; bytes as lowercase hex; NULL as `null`. A
//! table's checksum covers its uncompressed lines, so it does not depend on the compressor, and
//! the same rows give the same checksum whichever backend they were read from.
//!
//! Reading checks everything: entry order and names, each table's columns, every cell's type,
//! row counts, checksums, and the manifest's own checksum at the end. A restore consumes rows as
//! they are read inside one transaction, so a damage found late still leaves the target untouched.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{BResult, BackupError, Item, Kind, Row, RowSink, RowSource, TABLES, Table, Value};
use crate::Store;

pub const FORMAT: &str = "quantdesk-backup";
pub const FORMAT_VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";
const MANIFEST_SUM: &str = "manifest.json.sha256";
/// A manifest is a few kilobytes; anything much larger is not one.
const MANIFEST_MAX: u64 = 1 << 20;

/// What an archive holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// When the snapshot was taken, RFC 3339 UTC, and as Unix milliseconds.
    pub created_at: String,
    pub created_at_ms: i64,
    pub quantdesk_version: String,
    /// `sqlite` or `postgres`.
    pub source_backend: String,
    /// The source's latest migration; the archive restores into the same version only.
    pub schema_version: i64,
    pub total_rows: u64,
    pub tables: Vec<TableEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    pub name: String,
    pub file: String,
    pub columns: Vec<String>,
    pub rows: u64,
    /// SHA-256 of the table's uncompressed lines, lowercase hex.
    pub sha256: String,
}

/// The archive file as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub manifest: Manifest,
    pub bytes: u64,
    /// SHA-256 of the whole archive file.
    pub sha256: String,
}

/// Who writes the archive and when (the caller owns the clock).
#[derive(Debug, Clone)]
pub struct WriteInfo {
    pub now_ms: i64,
    pub quantdesk_version: String,
}

fn io(context: &str, e: std::io::Error) -> BackupError {
    BackupError::Io(format!("{context}: {e}"))
}

/// Writes one row as a canonical JSON line into `out`.
pub fn encode_row(row: &[Value], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match v {
            Value::Int(None) | Value::Real(None) | Value::Text(None) | Value::Date(None) | Value::Bytes(None) => {
                out.extend_from_slice(b"null")
            }
            Value::Int(Some(x)) => out.extend_from_slice(x.to_string().as_bytes()),
            Value::Real(Some(x)) if x.is_nan() => out.extend_from_slice(b"\"NaN\""),
            Value::Real(Some(x)) if x.is_infinite() => {
                out.extend_from_slice(if *x > 0.0 { b"\"Infinity\"" } else { b"\"-Infinity\"" })
            }
            // serde_json writes the shortest representation that reads back exactly (ryu).
            Value::Real(Some(x)) => serde_json::to_writer(&mut *out, x).unwrap_or_default(),
            Value::Text(Some(s)) => serde_json::to_writer(&mut *out, s).unwrap_or_default(),
            Value::Date(Some(d)) => {
                out.push(b'"');
                out.extend_from_slice(d.format("%Y-%m-%d").to_string().as_bytes());
                out.push(b'"');
            }
            Value::Bytes(Some(b)) => {
                out.push(b'"');
                out.extend_from_slice(hex::encode(b).as_bytes());
                out.push(b'"');
            }
        }
    }
    out.extend_from_slice(b"]\n");
}

/// Parses one line of `table` back into typed cells.
pub fn decode_row(table: &Table, line: &[u8]) -> Result<Row, String> {
    let cells: Vec<serde_json::Value> = serde_json::from_slice(line).map_err(|e| format!("not a JSON array: {e}"))?;
    if cells.len() != table.columns.len() {
        return Err(format!("{} cells where {} has {} columns", cells.len(), table.name, table.columns.len()));
    }
    let mut row = Vec::with_capacity(cells.len());
    for (cell, col) in cells.iter().zip(table.columns) {
        let bad = || format!("column {} holds {cell} where {:?} was expected", col.name, col.kind);
        let null = cell.is_null();
        row.push(match col.kind {
            Kind::Int => Value::Int(if null { None } else { Some(cell.as_i64().ok_or_else(bad)?) }),
            Kind::Real => Value::Real(if null {
                None
            } else {
                Some(match cell {
                    serde_json::Value::String(s) if s == "NaN" => f64::NAN,
                    serde_json::Value::String(s) if s == "Infinity" => f64::INFINITY,
                    serde_json::Value::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
                    _ => cell.as_f64().ok_or_else(bad)?,
                })
            }),
            Kind::Text => Value::Text(if null { None } else { Some(cell.as_str().ok_or_else(bad)?.to_string()) }),
            Kind::Date => Value::Date(if null {
                None
            } else {
                let s = cell.as_str().ok_or_else(bad)?;
                Some(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?)
            }),
            Kind::Bytes => Value::Bytes(if null {
                None
            } else {
                Some(hex::decode(cell.as_str().ok_or_else(bad)?).map_err(|_| bad())?)
            }),
        });
    }
    Ok(row)
}

/// One table staged in an unnamed temporary file while the snapshot streams.
struct Staged {
    table: &'static Table,
    file: File,
    rows: u64,
    sha256: String,
}

struct Stager {
    dir: PathBuf,
    done: Vec<Staged>,
    current: Option<(&'static Table, GzEncoder<BufWriter<File>>, Sha256, u64)>,
    line: Vec<u8>,
}

impl Stager {
    fn finish_current(&mut self) -> BResult<()> {
        if let Some((table, enc, hasher, rows)) = self.current.take() {
            let mut file = enc
                .finish()
                .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
                .map_err(|e| io("writing a staged table", e))?;
            file.rewind().map_err(|e| io("rewinding a staged table", e))?;
            self.done.push(Staged { table, file, rows, sha256: hex::encode(hasher.finalize()) });
        }
        Ok(())
    }

    fn table(&mut self, table: &'static Table) -> BResult<()> {
        self.finish_current()?;
        let file = tempfile::tempfile_in(&self.dir).map_err(|e| io("creating a staging file", e))?;
        let enc = GzEncoder::new(BufWriter::with_capacity(1 << 20, file), Compression::fast());
        self.current = Some((table, enc, Sha256::new(), 0));
        Ok(())
    }

    fn rows(&mut self, rows: &[Row]) -> BResult<()> {
        let Some((_, enc, hasher, count)) = self.current.as_mut() else {
            return Err(BackupError::Io("rows arrived before their table".into()));
        };
        self.line.clear();
        for r in rows {
            encode_row(r, &mut self.line);
        }
        hasher.update(&self.line);
        enc.write_all(&self.line).map_err(|e| io("writing a staged table", e))?;
        *count += rows.len() as u64;
        Ok(())
    }
}

enum Msg {
    Table(&'static Table),
    Rows(Vec<Row>),
}

/// Sends the snapshot's rows to the staging thread.
struct ChannelSink(tokio::sync::mpsc::Sender<Msg>);

#[async_trait::async_trait]
impl RowSink for ChannelSink {
    async fn table(&mut self, table: &'static Table) -> BResult<()> {
        self.0.send(Msg::Table(table)).await.map_err(|_| BackupError::Io("the archive writer stopped".into()))
    }
    async fn rows(&mut self, rows: Vec<Row>) -> BResult<()> {
        self.0.send(Msg::Rows(rows)).await.map_err(|_| BackupError::Io("the archive writer stopped".into()))
    }
}

/// A writer that hashes and counts what passes through.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn tar_header(size: u64, mtime_secs: i64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o600);
    h.set_mtime(u64::try_from(mtime_secs).unwrap_or(0));
    h.set_entry_type(tar::EntryType::Regular);
    h
}

/// Writes a backup of everything `store` holds to `path`, from one consistent snapshot, while
/// the store stays in use. The archive appears under its name only when complete (it is written
/// beside it under a temporary name, synced, then renamed); an existing file is not replaced.
pub async fn write(store: &dyn Store, path: &Path, info: &WriteInfo) -> BResult<Written> {
    if path.exists() {
        return Err(BackupError::Refused(format!("{} already exists; choose another name", path.display())));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Owner only: the archive holds every account's data (password hashes, API key hashes).
    crate::files::create_private_dir_all(&dir).map_err(|e| io(&format!("creating {}", dir.display()), e))?;
    if let Some(diff) = super::schema_difference(&store.schema_columns().await?) {
        return Err(BackupError::Refused(diff));
    }
    let schema_version = store.schema_version().await?;

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(8);
    let stage_dir = dir.clone();
    let stager = tokio::task::spawn_blocking(move || -> BResult<Vec<Staged>> {
        let mut s = Stager { dir: stage_dir, done: Vec::new(), current: None, line: Vec::with_capacity(1 << 16) };
        while let Some(msg) = rx.blocking_recv() {
            match msg {
                Msg::Table(t) => s.table(t)?,
                Msg::Rows(rows) => s.rows(&rows)?,
            }
        }
        s.finish_current()?;
        Ok(s.done)
    });
    let exported = store.export(&mut ChannelSink(tx)).await;
    let staged = stager.await.map_err(|e| BackupError::Io(format!("the archive writer failed: {e}")))?;
    exported?;
    let staged = staged?;

    let created = chrono::DateTime::from_timestamp_millis(info.now_ms).unwrap_or_default();
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        created_at: created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        created_at_ms: info.now_ms,
        quantdesk_version: info.quantdesk_version.clone(),
        source_backend: store.backend().into(),
        schema_version,
        total_rows: staged.iter().map(|s| s.rows).sum(),
        tables: staged
            .iter()
            .map(|s| TableEntry {
                name: s.table.name.into(),
                file: format!("tables/{}.jsonl.gz", s.table.name),
                columns: s.table.columns.iter().map(|c| c.name.to_string()).collect(),
                rows: s.rows,
                sha256: s.sha256.clone(),
            })
            .collect(),
    };
    let path = path.to_path_buf();
    let m = manifest.clone();
    tokio::task::spawn_blocking(move || assemble(&path, &dir, &m, staged))
        .await
        .map_err(|e| BackupError::Io(format!("the archive writer failed: {e}")))?
        .map(|(bytes, sha256)| Written { manifest, bytes, sha256 })
}

fn assemble(path: &Path, dir: &Path, manifest: &Manifest, staged: Vec<Staged>) -> BResult<(u64, String)> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "backup".into());
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".partial");
    // 0600, said here rather than left to tempfile's default: the rename keeps the mode.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600));
    let tmp = builder.tempfile_in(dir).map_err(|e| io("creating the archive", e))?;
    let out = Hashing {
        inner: BufWriter::with_capacity(1 << 20, tmp.as_file().try_clone().map_err(|e| io("", e))?),
        hasher: Sha256::new(),
        bytes: 0,
    };
    let mtime = manifest.created_at_ms.div_euclid(1000);
    let mut tar = tar::Builder::new(out);
    let manifest_json = serde_json::to_vec_pretty(manifest).map_err(|e| BackupError::Io(e.to_string()))?;
    let w = |e| io("writing the archive", e);
    tar.append_data(&mut tar_header(manifest_json.len() as u64, mtime), MANIFEST, manifest_json.as_slice())
        .map_err(w)?;
    for (s, entry) in staged.into_iter().zip(&manifest.tables) {
        let len = s.file.metadata().map_err(w)?.len();
        tar.append_data(&mut tar_header(len, mtime), &entry.file, BufReader::new(s.file)).map_err(w)?;
    }
    let sum = format!("{}  {MANIFEST}\n", hex::encode(Sha256::digest(&manifest_json)));
    tar.append_data(&mut tar_header(sum.len() as u64, mtime), MANIFEST_SUM, sum.as_bytes()).map_err(w)?;
    let mut out = tar.into_inner().map_err(w)?;
    out.flush().map_err(w)?;
    let (bytes, sha) = (out.bytes, hex::encode(out.hasher.finalize()));
    tmp.as_file().sync_all().map_err(w)?;
    tmp.persist_noclobber(path).map_err(|e| io(&format!("naming the archive {}", path.display()), e.error))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok((bytes, sha))
}

/// Reads and checks the archive at `path`, calling `on_item` with each table and its rows as
/// they are read. Returns the manifest once everything checked out; any damage is an error.
pub fn read(path: &Path, mut on_item: impl FnMut(Item) -> BResult<()>) -> BResult<Manifest> {
    let file = File::open(path).map_err(|e| io(&format!("opening {}", path.display()), e))?;
    let corrupt = |m: String| BackupError::Corrupt(m);
    let mut archive = tar::Archive::new(BufReader::with_capacity(1 << 20, file));
    let mut entries = archive.entries().map_err(|e| corrupt(format!("not a tar archive: {e}")))?;
    let mut next = |what: &str| -> BResult<tar::Entry<'_, BufReader<File>>> {
        match entries.next() {
            Some(Ok(e)) => Ok(e),
            Some(Err(e)) => Err(corrupt(format!("reading {what}: {e}"))),
            None => Err(corrupt(format!("{what} is missing (the archive ends early)"))),
        }
    };
    let entry_name = |e: &tar::Entry<'_, BufReader<File>>| -> String {
        e.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default()
    };

    let mut first = next("the manifest")
        .map_err(|e| corrupt(format!("this is not a quantdesk backup (no manifest.json at its start: {e})")))?;
    if entry_name(&first) != MANIFEST || first.header().size().unwrap_or(u64::MAX) > MANIFEST_MAX {
        return Err(corrupt("this is not a quantdesk backup (it does not start with manifest.json)".into()));
    }
    let mut manifest_json = Vec::new();
    first.read_to_end(&mut manifest_json).map_err(|e| corrupt(format!("reading the manifest: {e}")))?;
    drop(first);
    let manifest: Manifest =
        serde_json::from_slice(&manifest_json).map_err(|e| corrupt(format!("the manifest is not valid: {e}")))?;
    if manifest.format != FORMAT || manifest.format_version != FORMAT_VERSION {
        return Err(BackupError::Refused(format!(
            "unsupported archive format {} version {} (this quantdesk reads {FORMAT} version {FORMAT_VERSION})",
            manifest.format, manifest.format_version
        )));
    }
    let mut total = 0u64;
    for entry_meta in &manifest.tables {
        let Some(table) = TABLES.iter().find(|t| t.name == entry_meta.name) else {
            return Err(BackupError::Refused(format!(
                "the archive holds table {:?}, which this quantdesk does not know (schema version {})",
                entry_meta.name, manifest.schema_version
            )));
        };
        let cols: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        if entry_meta.columns != cols {
            let message = format!(
                "table {} has columns {:?} in the archive and {:?} here (schema version {} vs this quantdesk's)",
                table.name, entry_meta.columns, cols, manifest.schema_version
            );
            // The same schema version has the same columns: a difference is damage, not a version.
            return Err(if manifest.schema_version == crate::SCHEMA_VERSION {
                corrupt(message)
            } else {
                BackupError::Refused(message)
            });
        }
        let entry = next(&entry_meta.file)?;
        if entry_name(&entry) != entry_meta.file {
            return Err(corrupt(format!("expected {} but found {}", entry_meta.file, entry_name(&entry))));
        }
        on_item(Item::Table(table))?;
        let mut lines = BufReader::with_capacity(1 << 16, GzDecoder::new(entry));
        let mut hasher = Sha256::new();
        let mut line = Vec::with_capacity(256);
        let mut rows = 0u64;
        let mut batch = Vec::with_capacity(super::BATCH);
        loop {
            line.clear();
            let n = lines.read_until(b'\n', &mut line).map_err(|e| corrupt(format!("{}: {e}", entry_meta.file)))?;
            if n == 0 {
                break;
            }
            hasher.update(&line);
            rows += 1;
            if line.last() != Some(&b'\n') {
                return Err(corrupt(format!("{} line {rows}: the line is cut off", entry_meta.file)));
            }
            let row = decode_row(table, &line).map_err(|e| corrupt(format!("{} line {rows}: {e}", entry_meta.file)))?;
            batch.push(row);
            if batch.len() == super::BATCH {
                on_item(Item::Rows(std::mem::replace(&mut batch, Vec::with_capacity(super::BATCH))))?;
            }
        }
        if rows != entry_meta.rows {
            return Err(corrupt(format!("{} has {rows} rows where the manifest says {}", table.name, entry_meta.rows)));
        }
        if hex::encode(hasher.finalize()) != entry_meta.sha256 {
            return Err(corrupt(format!("{} does not match its checksum", table.name)));
        }
        if !batch.is_empty() {
            on_item(Item::Rows(batch))?;
        }
        total += rows;
    }
    if total != manifest.total_rows {
        return Err(corrupt(format!("{total} rows where the manifest says {}", manifest.total_rows)));
    }
    let mut sum_entry = next("the manifest checksum")?;
    if entry_name(&sum_entry) != MANIFEST_SUM {
        return Err(corrupt(format!("expected {MANIFEST_SUM} but found {}", entry_name(&sum_entry))));
    }
    let mut sum = String::new();
    (&mut sum_entry).take(1024).read_to_string(&mut sum).map_err(|e| corrupt(format!("reading the checksum: {e}")))?;
    drop(sum_entry);
    if sum != format!("{}  {MANIFEST}\n", hex::encode(Sha256::digest(&manifest_json))) {
        return Err(corrupt("the manifest does not match its checksum".into()));
    }
    match entries.next() {
        None => Ok(manifest),
        Some(Ok(e)) => Err(corrupt(format!("unexpected entry {} after the manifest checksum", entry_name(&e)))),
        Some(Err(e)) => Err(corrupt(format!("after the manifest checksum: {e}"))),
    }
}

/// Checks an archive without restoring it.
pub fn verify(path: &Path) -> BResult<Manifest> {
    read(path, |_| Ok(()))
}

struct ChannelSource(tokio::sync::mpsc::Receiver<BResult<Item>>);

#[async_trait::async_trait]
impl RowSource for ChannelSource {
    async fn next(&mut self) -> BResult<Option<Item>> {
        self.0.recv().await.transpose()
    }
}

/// Restores the archive at `path` into `store` in one transaction: refused when the archive's
/// schema version differs from the store's, or when the store holds data and `replace` is false.
/// Any damage found while reading rolls everything back.
pub async fn restore(store: &dyn Store, path: &Path, replace: bool) -> BResult<Manifest> {
    // The manifest first: a wrong version is refused before anything is read or changed.
    let head = read_manifest(path)?;
    let target = store.schema_version().await?;
    if head.schema_version != target {
        return Err(BackupError::Refused(format!(
            "the archive has schema version {} and this database {target}; restore with the quantdesk version that wrote it ({}), then upgrade",
            head.schema_version, head.quantdesk_version
        )));
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<BResult<Item>>(8);
    let path = path.to_path_buf();
    let reader = tokio::task::spawn_blocking(move || {
        let result =
            read(&path, |item| tx.blocking_send(Ok(item)).map_err(|_| BackupError::Io("the restore stopped".into())));
        match result {
            Ok(m) => Ok(m),
            Err(e) => {
                // The restore must see the failure before the channel closes, or it would commit.
                let _ = tx.blocking_send(Err(BackupError::Corrupt(String::new())));
                Err(e)
            }
        }
    });
    let restored = store.restore(&mut ChannelSource(rx), replace).await;
    let read = reader.await.map_err(|e| BackupError::Io(format!("the archive reader failed: {e}")))?;
    match (restored, read) {
        (Ok(_), Ok(manifest)) => Ok(manifest),
        // The reader's error explains the failure the restore saw as a placeholder.
        (Err(BackupError::Corrupt(placeholder)), Err(e)) if placeholder.is_empty() => Err(e),
        // The restore stopped first (a non-empty target, a database error); the reader then
        // only saw the channel close.
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(e),
    }
}

/// The manifest alone, without checking the rest.
pub fn read_manifest(path: &Path) -> BResult<Manifest> {
    let file = File::open(path).map_err(|e| io(&format!("opening {}", path.display()), e))?;
    let mut archive = tar::Archive::new(BufReader::new(file));
    let mut entries = archive.entries().map_err(|e| BackupError::Corrupt(format!("not a tar archive: {e}")))?;
    let Some(Ok(mut first)) = entries.next() else {
        return Err(BackupError::Corrupt("this is not a quantdesk backup (no manifest)".into()));
    };
    let is_manifest = first.path().map(|p| p.as_os_str() == MANIFEST).unwrap_or(false);
    if !is_manifest || first.header().size().unwrap_or(u64::MAX) > MANIFEST_MAX {
        return Err(BackupError::Corrupt(
            "this is not a quantdesk backup (it does not start with manifest.json)".into(),
        ));
    }
    let mut json = Vec::new();
    first.read_to_end(&mut json).map_err(|e| BackupError::Corrupt(format!("reading the manifest: {e}")))?;
    serde_json::from_slice(&json).map_err(|e| BackupError::Corrupt(format!("the manifest is not valid: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::table;

    #[test]
    fn rows_round_trip_canonically() {
        let t = table("instruments").unwrap();
        let row = vec![
            Value::Text(Some("600519.SH".into())),
            Value::Text(Some("贵州茅台 \"quoted\"\n".into())),
            Value::Text(Some(String::new())),
            Value::Text(Some("SSE".into())),
            Value::Text(Some("stock".into())),
            Value::Text(Some("main".into())),
            Value::Text(Some("CNY".into())),
            Value::Int(Some(100)),
            Value::Real(Some(0.01)),
            Value::Real(None),
            Value::Date(Some(chrono::NaiveDate::from_ymd_opt(2001, 8, 27).unwrap())),
            Value::Date(None),
            Value::Text(Some("cn-a".into())),
            Value::Text(Some("Asia/Shanghai".into())),
            Value::Text(Some("白酒".into())),
            Value::Text(Some(String::new())),
            Value::Text(Some("贵州省国资委".into())),
        ];
        let mut line = Vec::new();
        encode_row(&row, &mut line);
        assert_eq!(decode_row(t, &line).unwrap(), row);
        let mut again = Vec::new();
        encode_row(&decode_row(t, &line).unwrap(), &mut again);
        assert_eq!(line, again);
    }

    #[test]
    fn special_reals_and_bytes_round_trip() {
        let t = table("job_artifacts").unwrap();
        let row = vec![
            Value::Int(Some(-7)),
            Value::Text(Some("a".into())),
            Value::Text(Some("b".into())),
            Value::Bytes(Some(vec![0, 255, 10, 13])),
        ];
        let mut line = Vec::new();
        encode_row(&row, &mut line);
        assert_eq!(decode_row(t, &line).unwrap(), row);
        let bars = table("bars").unwrap();
        let mut line = Vec::new();
        let row = vec![
            Value::Int(Some(1)),
            Value::Int(Some(2)),
            Value::Real(Some(f64::INFINITY)),
            Value::Real(Some(f64::NEG_INFINITY)),
            Value::Real(Some(1.0)),
            Value::Real(Some(0.1 + 0.2)),
            Value::Real(Some(1e300)),
            Value::Real(Some(-0.0)),
        ];
        encode_row(&row, &mut line);
        assert_eq!(decode_row(bars, &line).unwrap(), row);
        encode_row(&[Value::Real(Some(f64::NAN))], &mut line);
        assert!(String::from_utf8(line).unwrap().ends_with("[\"NaN\"]\n"));
    }

    #[test]
    fn wrong_cells_are_named() {
        let t = table("trading_calendar").unwrap();
        assert!(decode_row(t, b"[\"SSE\"]\n").unwrap_err().contains("1 cells"));
        assert!(decode_row(t, b"[\"SSE\", 5]\n").unwrap_err().contains("column date"));
        assert!(decode_row(t, b"[\"SSE\", \"2020-02-30\"]\n").unwrap_err().contains("column date"));
        assert!(decode_row(t, b"{}").is_err());
    }
}
