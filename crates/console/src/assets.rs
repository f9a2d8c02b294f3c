//! The embedded files of `console/dist` and what each is served as.

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// The path under `/console/`, e.g. `assets/index-3f2a.js`.
    pub path: &'static str,
    pub body: &'static [u8],
    /// A quoted content hash, as the `ETag` header carries it.
    pub etag: &'static str,
}

impl Asset {
    /// `Content-Type` from the file name.
    pub fn content_type(&self) -> &'static str {
        content_type(self.path)
    }

    /// Vite names everything under `assets/` after its content hash, so those files never
    /// change under one name and may be cached for good; anything else (index.html) must be
    /// revalidated so a new build is seen at once.
    pub fn cache_control(&self) -> &'static str {
        if self.path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }
    }
}

/// The embedded file at `path` (relative to `console/dist`), if any.
pub fn asset(path: &str) -> Option<Asset> {
    FILES
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|&(path, body, etag)| Asset { path, body, etag })
}

/// Every embedded file, in path order.
pub fn files() -> impl Iterator<Item = Asset> {
    FILES
        .iter()
        .map(|&(path, body, etag)| Asset { path, body, etag })
}

/// The `Content-Type` a file name calls for; unknown kinds are opaque bytes.
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    match ext.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type("assets/index-ab12.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("assets/x.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }

    #[test]
    fn hashed_assets_are_immutable_and_index_is_revalidated() {
        let hashed = Asset {
            path: "assets/index-ab12.js",
            body: b"",
            etag: "\"0\"",
        };
        let index = Asset {
            path: "index.html",
            body: b"",
            etag: "\"0\"",
        };
        assert!(hashed.cache_control().contains("immutable"));
        assert_eq!(index.cache_control(), "no-cache");
    }
}
