//! Uploads: multipart forms read chunk by chunk, files spooled to an anonymous temporary file
//! (never held whole in memory), and the cap on the imports one user runs at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::multipart::Field;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use crate::error::ApiError;
use crate::extract::ApiMultipart;

/// Longest text field of an upload form, in characters (the OpenAPI schema says so too).
pub const MAX_TEXT_CHARS: usize = 256;

/// An uploaded file on disk, rewound for reading. It is an anonymous temporary file in the
/// system's temporary folder (`TMPDIR`): created owner-only (0600) and, on Unix, unlinked at
/// once, so it disappears with its last handle, whatever ends the request (an error, a panic, a
/// client that goes away, a crash).
#[derive(Debug)]
pub(crate) struct Spooled {
    pub file: std::fs::File,
    /// Bytes written.
    pub len: u64,
}

/// Where the `file` field of a form goes.
pub(crate) trait FileSink: Sized + Send {
    fn fill(field: Field<'_>) -> impl Future<Output = Result<Self, ApiError>> + Send;
}

/// Small files (the preview: the request body limit bounds them) stay in memory.
impl FileSink for Vec<u8> {
    async fn fill(mut field: Field<'_>) -> Result<Self, ApiError> {
        let mut out = Vec::new();
        while let Some(chunk) = field.chunk().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

/// Imports go to disk chunk by chunk: memory does not grow with the upload. The request body
/// limit still applies while reading (413).
impl FileSink for Spooled {
    async fn fill(mut field: Field<'_>) -> Result<Self, ApiError> {
        let file = tokio::task::spawn_blocking(tempfile::tempfile)
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| ApiError::internal(format!("cannot create a temporary file for an upload: {e}")))?;
        let mut out = tokio::fs::File::from_std(file);
        let mut len = 0u64;
        let spool_error =
            |e: std::io::Error| ApiError::internal(format!("cannot write an upload to its temporary file: {e}"));
        while let Some(chunk) = field.chunk().await? {
            out.write_all(&chunk).await.map_err(spool_error)?;
            len += chunk.len() as u64;
        }
        out.flush().await.map_err(spool_error)?;
        out.rewind().await.map_err(spool_error)?;
        Ok(Spooled { file: out.into_std().await, len })
    }
}

/// A multipart upload: one `file` and text fields.
pub(crate) struct Upload<F> {
    pub file_name: String,
    pub file: F,
    pub fields: HashMap<String, String>,
}

/// Reads a multipart upload: one `file` (into `F`) and the text fields named in `known`, each at
/// most [`MAX_TEXT_CHARS`] characters (any other field, or a longer one, is a 400, as the schema
/// says). Nothing is held whole in memory but the short text fields.
pub(crate) async fn read_upload<F: FileSink>(
    ApiMultipart(mut form): ApiMultipart,
    known: &[&str],
) -> Result<Upload<F>, ApiError> {
    let mut file = None;
    let mut fields = HashMap::new();
    while let Some(field) = form.next_field().await? {
        let name = field.name().unwrap_or("").to_string();
        if name == "file" {
            let file_name = field.file_name().unwrap_or("upload.csv").to_string();
            // A second file replaces the first (whose temporary file goes with it).
            file = Some((file_name, F::fill(field).await?));
        } else if known.contains(&name.as_str()) {
            let value = short_text(field, &name).await?;
            fields.insert(name, value);
        } else {
            return Err(ApiError::bad_request(format!("the form has an unknown field {name:?}")));
        }
    }
    let (file_name, file) = file.ok_or_else(|| ApiError::bad_request("the form has no file field"))?;
    Ok(Upload { file_name, file, fields })
}

/// A text field of at most [`MAX_TEXT_CHARS`] characters, read without buffering more than that.
async fn short_text(mut field: Field<'_>, name: &str) -> Result<String, ApiError> {
    let too_long = || ApiError::bad_request(format!("the field {name:?} is longer than {MAX_TEXT_CHARS} characters"));
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await? {
        // UTF-8 takes at most 4 bytes a character.
        if buf.len() + chunk.len() > 4 * MAX_TEXT_CHARS {
            return Err(too_long());
        }
        buf.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(too_long());
    }
    Ok(text)
}

/// How long a user refused for running too many imports is asked to wait (`Retry-After: 5`).
const IMPORT_RETRY_MS: i64 = 5_000;

/// The imports each user is running in this process, capped at `imports_per_user`.
#[derive(Clone, Default)]
pub struct ImportSlots {
    running: Arc<Mutex<HashMap<i64, u32>>>,
}

/// One running import of a user: the slot is given back when this is dropped, however the
/// request ends (answer, error, panic, cancellation).
#[must_use = "the import slot is released when dropped"]
pub struct ImportSlot {
    slots: ImportSlots,
    user: i64,
}

impl ImportSlots {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, u32>> {
        // The map is consistent after every statement: a panic elsewhere cannot leave it half-done.
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one of `user`'s `cap` slots, or answers 429 (`rate_limited`, with Retry-After).
    pub fn take(&self, user: i64, cap: u32) -> Result<ImportSlot, ApiError> {
        let mut running = self.lock();
        let n = running.entry(user).or_insert(0);
        if *n >= cap {
            let message = format!(
                "you already have {cap} import{} running; wait for one to finish",
                if cap == 1 { "" } else { "s" }
            );
            if *n == 0 {
                running.remove(&user);
            }
            return Err(ApiError::rate_limited(IMPORT_RETRY_MS, &message));
        }
        *n += 1;
        Ok(ImportSlot { slots: self.clone(), user })
    }

    /// Imports `user` is running now.
    pub fn running(&self, user: i64) -> u32 {
        self.lock().get(&user).copied().unwrap_or(0)
    }
}

impl Drop for ImportSlot {
    fn drop(&mut self) {
        let mut running = self.slots.lock();
        if let Some(n) = running.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                running.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_per_user_and_come_back_when_dropped() {
        let slots = ImportSlots::default();
        let a1 = slots.take(1, 2).unwrap();
        let a2 = slots.take(1, 2).unwrap();
        let e = slots.take(1, 2).err().expect("a third import of user 1 is refused");
        assert_eq!((e.status.as_u16(), e.code, e.retry_after), (429, "rate_limited", Some(5)));
        let b = slots.take(2, 2).expect("another user is not affected");
        assert_eq!((slots.running(1), slots.running(2)), (2, 1));
        drop(a1);
        let a3 = slots.take(1, 2).expect("a dropped slot is free again");
        drop((a2, a3, b));
        assert_eq!((slots.running(1), slots.running(2)), (0, 0));
        assert!(slots.lock().is_empty(), "no entry is left behind");
        assert!(slots.take(3, 0).is_err(), "a cap of 0 refuses everything");
        assert!(slots.lock().is_empty());
    }

    #[test]
    fn a_panic_while_holding_a_slot_gives_it_back() {
        let slots = ImportSlots::default();
        let s = slots.clone();
        let r = std::panic::catch_unwind(move || {
            let _slot = s.take(7, 1).unwrap();
            panic!("handler failed");
        });
        assert!(r.is_err());
        assert_eq!(slots.running(7), 0);
        drop(slots.take(7, 1).unwrap());
    }
}
