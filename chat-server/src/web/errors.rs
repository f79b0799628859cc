//! The friendly error pages (403, 404, 500 and the rest) in the site's look and the
//! browser's language. `Front::render` calls [`page`] for every refusal on a page or static
//! path, whether a handler, the pipeline or a tower layer made it; REST answers stay JSON.

use super::i18n::{self, Lang};
use super::page::{Page, set_page_headers};
use crate::http::{ApiError, Body, full};
use http::Response;
use http::header::{CONTENT_TYPE, HeaderValue};
use minijinja::context;

/// The error page for `error`, keeping the headers the error carries (`Allow`,
/// `Retry-After`). If the template cannot render (a bug), a plain page says the same.
pub fn page(error: ApiError, lang: Lang) -> Response<Body> {
    let status = error.status();
    let code = status.as_u16();
    let known = [400, 403, 404, 405, 409, 413, 429, 500, 503];
    let key = if known.contains(&code) {
        code.to_string()
    } else {
        "other".to_owned()
    };
    let title = i18n::tr(lang, &format!("error_{key}_title"), &[]);
    let text = i18n::tr(lang, &format!("error_{key}_text"), &[]);
    // A client error may say more (which rule refused); a server error never does.
    let detail = (status.is_client_error() && code != 404 && code != 405)
        .then(|| i18n::core_message(lang, error.message()))
        .filter(|d| *d != text);
    let html = Page::anonymous(lang)
        .render_string(
            "error.html",
            context! { status => code, title => &title, text => &text, detail => detail },
        )
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "the error page failed to render");
            plain(code, &title, &text)
        });
    let mut resp = error.into_response();
    *resp.body_mut() = full(html);
    set_page_headers(resp.headers_mut());
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// A self-contained page for when the templates fail.
fn plain(code: u16, title: &str, text: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{code} {}</title></head>\
         <body><main><h1>{code} {}</h1><p>{}</p><p><a href=\"/\">/</a></p></main></body></html>\n",
        escape(title),
        escape(title),
        escape(text)
    )
}

/// Escapes text for HTML element content.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn text(resp: Response<Body>) -> String {
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn an_error_page_is_in_the_site_look_and_the_browsers_language() {
        let resp = page(ApiError::no_such_path(), Lang::Ru);
        assert_eq!(resp.status().as_u16(), 404);
        assert_eq!(resp.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        let body = text(resp).await;
        assert!(body.contains("<html lang=\"ru\">"), "{body}");
        assert!(body.contains("Страница не найдена"), "{body}");
        assert!(body.contains("/static/css/app.css?v="), "{body}");
        let body = text(page(ApiError::internal(), Lang::En)).await;
        assert!(body.contains("Something went wrong"), "{body}");
        assert!(
            !body.contains("Internal server error"),
            "no detail on a 500: {body}"
        );
    }

    #[tokio::test]
    async fn a_client_errors_detail_is_escaped() {
        let body = text(page(ApiError::malformed("<script>"), Lang::En)).await;
        assert!(body.contains("&lt;script&gt;"), "{body}");
        assert!(!body.contains("<script>"), "{body}");
    }
}
