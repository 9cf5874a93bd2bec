//! Static assets embedded in the binary, served under a versioned prefix with year-long caching.
//!
//! The version is a hash over every embedded file, so any change to any asset changes every
//! asset URL; relative imports between ES modules keep working because they share the prefix.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// The hash that versions every asset URL.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut names: Vec<_> = Assets::iter().collect();
        names.sort();
        let mut h = Sha256::new();
        for name in names {
            if let Some(f) = Assets::get(&name) {
                h.update(name.as_bytes());
                h.update(f.metadata.sha256_hash());
            }
        }
        h.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect()
    })
}

/// The URL of an asset, e.g. `asset_url("app.css")`.
pub fn asset_url(path: &str) -> String {
    format!("/assets/{}/{path}", version())
}

/// `GET /assets/{version}/{*path}`. A stale version still gets the current file, uncached, so a
/// page rendered before a deploy keeps working.
pub async fn serve(Path((v, path)): Path<(String, String)>) -> Response {
    let Some(file) = Assets::get(&path) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let mime = file.metadata.mimetype();
    let mime = if path.ends_with(".mjs") { "text/javascript" } else { mime };
    let cache = if v == version() { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut res = file.data.into_owned().into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

#[cfg(test)]
mod tests {
    #[test]
    fn vendored_files_are_embedded() {
        for f in [
            "vendor/lightweight-charts-5.2.1/lightweight-charts.standalone.production.mjs",
            "vendor/lightweight-charts-5.2.1/LICENSE",
            "vendor/htmx-2.0.11/htmx.min.js",
            "vendor/htm-3.1.1/standalone.mjs",
            "app.css",
            "chart.js",
        ] {
            assert!(super::Assets::get(f).is_some(), "{f} is not embedded");
        }
        assert_eq!(super::version().len(), 12);
    }
}
