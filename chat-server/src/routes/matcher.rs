//! The compiled route table: `matchit` finds the path, then the row for the method. A path
//! that exists under another method is a 405 with `Allow`; `OPTIONS` lists the methods.

use super::{ROUTES, Route};
use crate::http::front::Front;
use crate::http::params::Params;
use http::Method;

/// The outcome of looking up a request.
#[derive(Debug)]
pub enum Match {
    /// A route serves it.
    Found(&'static Route, Params),
    /// The path exists but not with this method: its front end and the methods it allows.
    WrongMethod(Front, String),
    /// `OPTIONS` on a known path; the methods it allows.
    Options(String),
    /// No such path.
    NotFound,
}

/// The compiled route table.
pub struct Router {
    paths: matchit::Router<usize>,
    groups: Vec<Vec<&'static Route>>,
}

impl Router {
    /// Compiles [`ROUTES`].
    pub fn new() -> Self {
        Self::try_new(ROUTES).expect("the route table has no conflicting paths (tested)")
    }

    /// Compiles a route table; fails on overlapping or invalid patterns.
    pub fn try_new(routes: &'static [Route]) -> Result<Self, matchit::InsertError> {
        let mut paths = matchit::Router::new();
        let mut groups: Vec<Vec<&'static Route>> = Vec::new();
        let mut patterns: Vec<&'static str> = Vec::new();
        for route in routes {
            match patterns.iter().position(|p| *p == route.path) {
                Some(i) => groups[i].push(route),
                None => {
                    patterns.push(route.path);
                    groups.push(vec![route]);
                }
            }
        }
        for (i, pattern) in patterns.iter().enumerate() {
            paths.insert(*pattern, i)?;
            if let Some(twin) = slash_twin(pattern) {
                paths.insert(twin, i)?;
            }
        }
        Ok(Self { paths, groups })
    }

    /// Finds the route for a method and path.
    pub fn at(&self, method: &Method, path: &str) -> Match {
        let Ok(found) = self.paths.at(path) else {
            return Match::NotFound;
        };
        let group = &self.groups[*found.value];
        let wanted = if *method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        if let Some(route) = group.iter().find(|r| r.method == *wanted) {
            let params = found
                .params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            return Match::Found(route, Params::new(params));
        }
        let mut allow: Vec<&str> = group.iter().map(|r| r.method.as_str()).collect();
        if allow.contains(&"GET") {
            allow.push("HEAD");
        }
        allow.push("OPTIONS");
        let allow = allow.join(", ");
        if *method == Method::OPTIONS {
            Match::Options(allow)
        } else {
            // A group is never empty: it was made for a route.
            Match::WrongMethod(group[0].front, allow)
        }
    }
}

impl Default for Router {
    fn default() -> Self {
        Self::new()
    }
}

/// The same pattern with its trailing slash toggled; none for the root and for catch-alls
/// (`/static/{*path}` already matches every tail, and `/` has no other form).
fn slash_twin(pattern: &str) -> Option<String> {
    if pattern == "/" || pattern.contains("{*") {
        return None;
    }
    Some(match pattern.strip_suffix('/') {
        Some(bare) => bare.to_owned(),
        None => format!("{pattern}/"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ctx::Access;
    use crate::routes::{Doc, HandlerFuture, Schema};

    fn check_in(router: &Router, method: Method, path: &str) -> String {
        match router.at(&method, path) {
            Match::Found(route, params) => {
                let mut s = format!("{} {:?}", route.path, route.front);
                for name in ["id", "uid", "path"] {
                    if let Some(v) = params.get(name) {
                        s.push_str(&format!(" {name}={v}"));
                    }
                }
                s
            }
            Match::WrongMethod(front, allow) => format!("405 {front:?} {allow}"),
            Match::Options(allow) => format!("options {allow}"),
            Match::NotFound => "404".into(),
        }
    }

    fn check(method: Method, path: &str) -> String {
        check_in(&Router::new(), method, path)
    }

    #[test]
    fn the_route_table_compiles_without_conflicts() {
        assert!(Router::try_new(ROUTES).is_ok());
    }

    #[test]
    fn paths_match_with_and_without_the_trailing_slash() {
        assert_eq!(check(Method::GET, "/api/chat/"), "/api/chat/ Rest");
        assert_eq!(check(Method::GET, "/api/chat"), "/api/chat/ Rest");
        assert_eq!(
            check(Method::POST, "/api/chat/7/message"),
            "/api/chat/{id}/message/ Rest id=7"
        );
        assert_eq!(
            check(Method::PUT, "/api/chat/7/user/9"),
            "/api/chat/{id}/user/{uid}/ Rest id=7 uid=9"
        );
        assert_eq!(check(Method::GET, "/healthz/"), "/healthz Rest");
        assert_eq!(
            check(Method::HEAD, "/api/openapi.json"),
            "/api/openapi.json Rest"
        );
    }

    #[test]
    fn unknown_paths_and_wrong_methods_are_told_apart() {
        assert_eq!(check(Method::GET, "/api/nope/"), "404");
        assert_eq!(check(Method::GET, "/api/chat/1/message/extra"), "404");
        assert_eq!(
            check(Method::DELETE, "/api/chat/"),
            "405 Rest GET, POST, HEAD, OPTIONS"
        );
        assert_eq!(
            check(Method::GET, "/api/accounts/login"),
            "405 Rest POST, OPTIONS"
        );
        assert_eq!(
            check(Method::OPTIONS, "/api/chat/1/"),
            "options GET, PATCH, DELETE, HEAD, OPTIONS"
        );
    }

    fn nothing(_: crate::http::ctx::Ctx) -> HandlerFuture {
        Box::pin(async { Err(crate::http::ApiError::no_such_path()) })
    }

    const DOC: Doc = Doc {
        name: "test",
        summary: "",
        who: "",
        query: &[],
        request: Schema::None,
        status: 200,
        response: Schema::None,
        errors: &[],
    };

    /// The shapes the next front ends bring: the root, a catch-all, an upgrade, a page.
    static FRONTS: &[Route] = &[
        Route {
            method: Method::GET,
            path: "/",
            front: Front::Page,
            access: Access::Public,
            handler: nothing,
            doc: DOC,
        },
        Route {
            method: Method::GET,
            path: "/static/{*path}",
            front: Front::Static,
            access: Access::Public,
            handler: nothing,
            doc: DOC,
        },
        Route {
            method: Method::GET,
            path: "/ws/chat/{id}/",
            front: Front::WebSocket,
            access: Access::Required,
            handler: nothing,
            doc: DOC,
        },
        Route {
            method: Method::POST,
            path: "/chats/{id}/leave/",
            front: Front::Page,
            access: Access::Required,
            handler: nothing,
            doc: DOC,
        },
    ];

    #[test]
    fn the_root_and_a_catch_all_compile_and_match() {
        let router = Router::try_new(FRONTS).expect("the root and a catch-all are valid rows");
        let check = |method, path| check_in(&router, method, path);
        assert_eq!(check(Method::GET, "/"), "/ Page");
        assert_eq!(check(Method::GET, ""), "404");
        assert_eq!(
            check(Method::GET, "/static/css/app.css"),
            "/static/{*path} Static path=css/app.css"
        );
        assert_eq!(check(Method::GET, "/static/"), "404");
        assert_eq!(
            check(Method::GET, "/ws/chat/3"),
            "/ws/chat/{id}/ WebSocket id=3"
        );
        assert_eq!(
            check(Method::GET, "/chats/3/leave/"),
            "405 Page POST, OPTIONS"
        );
    }
}
