//! The static files the pages need (stylesheet, scripts, font, icon), embedded in the binary
//! (`include_bytes!`, `chat-server/static/`) and served by the one `Front::Static` row,
//! `GET /static/{*path}`. Nothing is loaded from elsewhere: users' networks may be closed.
//!
//! Pages link them by [`url`], which carries a content hash (`?v=…`): a request with the
//! current hash may be cached for good, any other is revalidated by its `ETag`.

use crate::http::ctx::Ctx;
use crate::http::{ApiError, Body, empty, full};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderValue, IF_NONE_MATCH};
use http::{Response, StatusCode};
use std::sync::OnceLock;

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// Every embedded file, by its path under `/static/`.
static ASSETS: &[Asset] = &[
    Asset {
        path: "css/app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../static/css/app.css"),
    },
    Asset {
        path: "js/app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/js/app.js"),
    },
    Asset {
        path: "js/room.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/js/room.js"),
    },
    Asset {
        path: "fonts/inter.woff2",
        content_type: "font/woff2",
        bytes: include_bytes!("../../static/fonts/inter.woff2"),
    },
    Asset {
        path: "img/icon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../../static/img/icon.svg"),
    },
];

/// FNV-1a (64 bits) of the bytes: a version tag, not a security measure.
fn fingerprint(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The version tag of every asset, in [`ASSETS`] order, computed once.
fn versions() -> &'static [String] {
    static VERSIONS: OnceLock<Vec<String>> = OnceLock::new();
    VERSIONS.get_or_init(|| ASSETS.iter().map(|a| fingerprint(a.bytes)).collect())
}

fn find(path: &str) -> Option<(&'static Asset, &'static str)> {
    let i = ASSETS.iter().position(|a| a.path == path)?;
    Some((&ASSETS[i], versions()[i].as_str()))
}

/// The URL a page links an embedded file by (`/static/css/app.css?v=…`), if it exists.
pub fn url(path: &str) -> Option<String> {
    find(path).map(|(asset, version)| format!("/static/{}?v={version}", asset.path))
}

/// `GET /static/{*path}`: the embedded file, or a 404 page.
pub async fn serve(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let (asset, version) = ctx
        .param("path")
        .and_then(find)
        .ok_or_else(ApiError::no_such_path)?;
    let etag = format!("\"{version}\"");
    let current = ctx
        .parts()
        .uri
        .query()
        .is_some_and(|q| q.split('&').any(|pair| pair == format!("v={version}")));
    let not_modified = ctx
        .parts()
        .headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let mut resp = if not_modified {
        let mut resp = Response::new(empty());
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        resp
    } else {
        let mut resp = Response::new(full(asset.bytes));
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        resp
    };
    let headers = resp.headers_mut();
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static(if current {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_a_version_and_unknown_files_have_none() {
        let css = url("css/app.css").expect("the stylesheet is embedded");
        assert!(css.starts_with("/static/css/app.css?v="), "{css}");
        assert_eq!(css.len(), "/static/css/app.css?v=".len() + 16);
        assert_eq!(url("css/nope.css"), None);
        assert_eq!(url("../Cargo.toml"), None);
    }

    #[test]
    fn no_embedded_script_or_style_needs_unsafe_inline_or_eval() {
        for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let text = std::str::from_utf8(asset.bytes).expect("scripts are UTF-8");
            for banned in [
                "eval(",
                "new Function",
                "innerHTML",
                "insertAdjacentHTML",
                "document.write",
            ] {
                assert!(!text.contains(banned), "{} uses {banned}", asset.path);
            }
        }
    }
}
