//! Rendering a page: the context every template shares (language, the signed-in user, the
//! session's CSRF token, the active menu item, a notice after a redirect), the HTML response
//! with the pages' Content-Security-Policy, and redirects.

use super::i18n::{self, Lang};
use super::templates;
use super::view::Person;
use crate::http::auth::{self, Authenticated};
use crate::http::ctx::Ctx;
use crate::http::{ApiError, Body, empty, full};
use chatcore::Actor;
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderValue, LOCATION, VARY,
};
use http::{Response, StatusCode};
use minijinja::context;
use minijinja::value::{Serde, Value};

/// The pages' Content-Security-Policy: everything from this origin only, no inline script
/// or style, no `eval`, no plugins, no framing, forms post only here. (`connect-src 'self'`
/// covers the room's same-origin WebSocket.) Static files keep the layers' default.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The notices a redirect may ask a page to show (`?notice=…`): catalog keys
/// `notice_<name>`; any other value shows nothing.
const NOTICES: &[&str] = &[
    "left",
    "promoted",
    "demoted",
    "deactivated",
    "activated",
    "chat_created",
    "chat_renamed",
    "chat_deleted",
    "member_added",
    "member_removed",
];

/// What every page shows besides its own content.
#[derive(Debug, Clone)]
pub struct Page {
    lang: Lang,
    me: Option<Person>,
    csrf_token: Option<String>,
    nav: &'static str,
    notice: Option<String>,
}

impl Page {
    /// The page for a request, signed in when the route authenticated it.
    pub fn new(ctx: &Ctx) -> Self {
        Self::with_actor(ctx, ctx.authenticated().map(|a| &a.actor))
    }

    /// The page for a request, as `actor` (a public route that looked for a session itself).
    pub fn with_actor(ctx: &Ctx, actor: Option<&Actor>) -> Self {
        let notice = ctx
            .parts()
            .uri
            .query()
            .into_iter()
            .flat_map(|q| url::form_urlencoded::parse(q.as_bytes()))
            .find(|(k, _)| k == "notice")
            .map(|(_, v)| v.into_owned())
            .filter(|v| NOTICES.contains(&v.as_str()));
        let lang = Lang::of(&ctx.parts().headers);
        Self {
            lang,
            me: actor.map(Person::viewer),
            csrf_token: actor.and_then(|a| a.csrf_token().map(str::to_owned)),
            nav: "",
            notice: notice.map(|n| i18n::tr(lang, &format!("notice_{n}"), &[])),
        }
    }

    /// A page for nobody in particular (error pages rendered outside any route).
    pub fn anonymous(lang: Lang) -> Self {
        Self {
            lang,
            me: None,
            csrf_token: None,
            nav: "",
            notice: None,
        }
    }

    /// Marks the menu item this page belongs to (`chats`, `admin`).
    pub fn nav(mut self, nav: &'static str) -> Self {
        self.nav = nav;
        self
    }

    /// The page's language.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// A catalog text in the page's language.
    pub fn tr(&self, key: &str, args: &[(&str, &str)]) -> String {
        i18n::tr(self.lang, key, args)
    }

    /// A core error as the page's language says it.
    pub fn error_text(&self, error: &chatcore::Error) -> String {
        i18n::error_text(self.lang, error)
    }

    /// Renders `template` with the shared context and `extra`, as an HTML response.
    ///
    /// # Errors
    /// A template that fails to render (a bug): logged, answered as a 500 page.
    pub fn render(
        &self,
        status: StatusCode,
        template: &str,
        extra: Value,
    ) -> Result<Response<Body>, ApiError> {
        let html = self.render_string(template, extra).map_err(|e| {
            tracing::error!(error = %e, template, "a page failed to render");
            ApiError::internal()
        })?;
        Ok(html_response(status, html))
    }

    /// Renders `template` to a string.
    ///
    /// # Errors
    /// A template that fails to render.
    pub fn render_string(&self, template: &str, extra: Value) -> Result<String, minijinja::Error> {
        let env = templates::env().map_err(|e| {
            minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
        })?;
        let ctx = context! {
            lang => self.lang.code(),
            me => Serde(&self.me),
            csrf_token => self.csrf_token.as_deref(),
            nav => self.nav,
            notice => self.notice.as_deref(),
            ..extra
        };
        env.get_template(template)?.render(ctx)
    }
}

/// An HTML response with the pages' headers: the CSP, no caching (pages are per user and
/// carry CSRF tokens), `Vary` on what chooses the content.
pub fn html_response(status: StatusCode, html: String) -> Response<Body> {
    let mut resp = Response::new(full(html));
    *resp.status_mut() = status;
    set_page_headers(resp.headers_mut());
    resp
}

/// The headers every page carries.
pub fn set_page_headers(headers: &mut http::HeaderMap) {
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    headers.insert(VARY, HeaderValue::from_static("Accept-Language, Cookie"));
}

/// `303 See Other` to a local path.
pub fn see_other(location: &str) -> Response<Body> {
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The signed-in user on a public route (home, log in), if the request carries a valid
/// credential; anything else is simply "not signed in".
pub async fn optional_auth(ctx: &Ctx) -> Option<Authenticated> {
    auth::credential(&ctx.parts().headers).ok().flatten()?;
    auth::authenticate(ctx.services(), &ctx.parts().headers, ctx.client())
        .await
        .ok()
}

/// `next` if it is a path on this site (`/chats/7/?a=1`), never another origin
/// (`//evil.example`, `/\evil.example`, `https://…`) or anything with spaces or controls,
/// which browsers may strip into one.
pub fn safe_next(next: Option<&str>) -> Option<&str> {
    let next = next?;
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 2000
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    local.then_some(next)
}

/// The admin pages' gate: which pages to show is the web UI's choice (every action on
/// them is still decided by chatcore, which refuses non-admins on its own).
pub fn require_admin(ctx: &Ctx) -> Result<&Actor, ApiError> {
    let actor = ctx.actor()?;
    if actor.is_admin() {
        Ok(actor)
    } else {
        Err(chatcore::Error::forbidden("Only admins may do this").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_takes_local_paths_only() {
        for ok in ["/", "/chats/7/", "/chats/7/?a=1&b=%20"] {
            assert_eq!(safe_next(Some(ok)), Some(ok));
        }
        for bad in [
            "",
            "chats/",
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "/\t/evil.example",
            "/ /x",
            "javascript:alert(1)",
            "/чат",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(safe_next(None), None);
    }

    #[test]
    fn the_page_policy_allows_no_inline_script_or_eval() {
        assert!(!PAGE_CSP.contains("unsafe-inline"));
        assert!(!PAGE_CSP.contains("unsafe-eval"));
        assert!(PAGE_CSP.contains("script-src 'self'"));
    }
}
