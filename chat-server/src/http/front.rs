//! The front ends a route can belong to ([`Front`]): which one answers an unknown path,
//! which ones read a body. How each renders a refusal is `crate::refusal` (it needs the web
//! UI's error pages, which `http` does not depend on). Responses a front end or a handler
//! rendered carry the [`Rendered`] mark, so the hardening layers leave them alone and
//! rewrite only the answers they produce themselves.

/// Which front end serves a route (and so how its refusals look).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// The JSON REST API (`api/`); the only front end in the OpenAPI document.
    Rest,
    /// A WebSocket upgrade (`ws/`): refusals are JSON answers instead of the `101`.
    WebSocket,
    /// A server-rendered HTML page (`web/`).
    Page,
    /// An embedded static file (`/static/{*path}`).
    Static,
}

/// The login page a signed-out browser is sent to.
pub const LOGIN_PATH: &str = "/accounts/login/";

/// A mark on a response that a front end rendered: the hardening layers pass it unchanged.
#[derive(Debug, Clone, Copy)]
pub struct Rendered;

impl Front {
    /// The front end that answers for a path no route serves (404) or a wrong method
    /// (405): the API's JSON under `/api/`, `/ws/` and `/healthz`, an HTML page elsewhere.
    pub fn for_path(path: &str) -> Self {
        let api = ["/api", "/ws", "/healthz"].iter().any(|prefix| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        });
        if api { Front::Rest } else { Front::Page }
    }

    /// Whether the pipeline reads the request body for this front end (an upgrade and a
    /// static file have none worth reading).
    pub fn reads_body(self) -> bool {
        matches!(self, Front::Rest | Front::Page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_prefixes_answer_json_and_everything_else_html() {
        for path in [
            "/api",
            "/api/",
            "/api/nope/",
            "/ws/chat/1/",
            "/healthz",
            "/healthz/",
        ] {
            assert_eq!(Front::for_path(path), Front::Rest, "{path}");
        }
        for path in ["/", "/apix", "/admin/", "/static/x.js", "/chats/1/", "/wsx"] {
            assert_eq!(Front::for_path(path), Front::Page, "{path}");
        }
    }
}
