//! Every URL the SDK calls, built from the base URL in one place: REST paths (always with the
//! trailing slash), their query parameters, and the WebSocket address (`ws`/`wss` for
//! `http`/`https`). Pure functions, so the tests can check each address without a server.

use crate::error::{Error, Result};
use chatcore::model::{ChatId, Cursor, PageRequest, UserId};
use url::Url;

/// The query of `GET /api/users/`: an optional search text and a page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    q: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

impl UserQuery {
    /// Every user, in the server's default page.
    pub fn all() -> Self {
        Self::default()
    }

    /// Users whose username or name contains `text` (case is ignored by the server).
    pub fn search(text: impl Into<String>) -> Self {
        Self {
            q: Some(text.into()),
            ..Self::default()
        }
    }

    /// At most `limit` users.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Skip the first `offset` users.
    pub fn offset(mut self, offset: u32) -> Self {
        self.offset = Some(offset);
        self
    }
}

/// The server's addresses under one base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Routes {
    /// The base, always ending in `/`, without query or fragment.
    base: Url,
}

impl Routes {
    /// Checks the base URL: `http` or `https`, with a host. A path prefix is kept (a server
    /// mounted under `https://example.com/chat/` works), query and fragment are dropped.
    pub(crate) fn new(base: &str) -> Result<Self> {
        let mut url = Url::parse(base)
            .map_err(|e| chatcore::Error::invalid("base_url", format!("{base:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Invalid(chatcore::Error::invalid(
                "base_url",
                format!("{base:?}: the scheme must be http or https"),
            )));
        }
        if url.host().is_none() {
            return Err(Error::Invalid(chatcore::Error::invalid(
                "base_url",
                format!("{base:?}: a host is required"),
            )));
        }
        url.set_query(None);
        url.set_fragment(None);
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(Self { base: url })
    }

    /// The base URL as given (normalised).
    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    /// `path` (relative, no leading slash) under the base.
    fn at(&self, path: &str) -> Url {
        self.base
            .join(path)
            .expect("a relative path of ASCII segments joins onto a valid http(s) base")
    }

    pub(crate) fn health(&self) -> Url {
        self.at("healthz")
    }

    pub(crate) fn openapi(&self) -> Url {
        self.at("api/openapi.json")
    }

    pub(crate) fn register(&self) -> Url {
        self.at("api/accounts/register/")
    }

    pub(crate) fn login(&self) -> Url {
        self.at("api/accounts/login/")
    }

    pub(crate) fn logout(&self) -> Url {
        self.at("api/accounts/logout/")
    }

    pub(crate) fn me(&self) -> Url {
        self.at("api/accounts/me/")
    }

    pub(crate) fn password(&self) -> Url {
        self.at("api/accounts/password/")
    }

    pub(crate) fn chats(&self) -> Url {
        self.at("api/chat/")
    }

    pub(crate) fn chat(&self, chat: ChatId) -> Url {
        self.at(&format!("api/chat/{chat}/"))
    }

    pub(crate) fn messages(&self, chat: ChatId) -> Url {
        self.at(&format!("api/chat/{chat}/message/"))
    }

    /// A history page: `limit` always, and the one cursor the page has.
    pub(crate) fn history(&self, chat: ChatId, page: &PageRequest) -> Url {
        let mut url = self.messages(chat);
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("limit", &page.limit().to_string());
            match page.cursor() {
                Cursor::Latest => {}
                Cursor::Before(seq) => {
                    query.append_pair("before_seq", &seq.to_string());
                }
                Cursor::After(seq) => {
                    query.append_pair("after_seq", &seq.to_string());
                }
            }
        }
        url
    }

    pub(crate) fn read(&self, chat: ChatId) -> Url {
        self.at(&format!("api/chat/{chat}/read/"))
    }

    pub(crate) fn members(&self, chat: ChatId) -> Url {
        self.at(&format!("api/chat/{chat}/members/"))
    }

    pub(crate) fn member(&self, chat: ChatId, user: UserId) -> Url {
        self.at(&format!("api/chat/{chat}/user/{user}/"))
    }

    pub(crate) fn leave(&self, chat: ChatId) -> Url {
        self.at(&format!("api/chat/{chat}/leave/"))
    }

    /// `GET /api/users/` with the parameters that are set (and only those).
    pub(crate) fn users(&self, query: &UserQuery) -> Url {
        let mut url = self.at("api/users/");
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(q) = &query.q {
            pairs.push(("q", q.clone()));
        }
        if let Some(limit) = query.limit {
            pairs.push(("limit", limit.to_string()));
        }
        if let Some(offset) = query.offset {
            pairs.push(("offset", offset.to_string()));
        }
        if !pairs.is_empty() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
        url
    }

    pub(crate) fn user(&self, user: UserId) -> Url {
        self.at(&format!("api/users/{user}/"))
    }

    /// The chat's WebSocket, resuming after `after_seq` when given.
    pub(crate) fn chat_socket(&self, chat: ChatId, after_seq: Option<i64>) -> Url {
        let mut url = self.at(&format!("ws/api/chat/{chat}/"));
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .expect("http→ws and https→wss are allowed scheme changes");
        if let Some(seq) = after_seq {
            url.query_pairs_mut()
                .append_pair("after_seq", &seq.to_string());
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(base: &str) -> Routes {
        Routes::new(base).unwrap()
    }

    #[test]
    fn every_rest_path_has_the_trailing_slash() {
        let r = routes("http://127.0.0.1:8000");
        let chat = ChatId(7);
        let user = UserId(3);
        let cases = [
            (r.register(), "http://127.0.0.1:8000/api/accounts/register/"),
            (r.login(), "http://127.0.0.1:8000/api/accounts/login/"),
            (r.logout(), "http://127.0.0.1:8000/api/accounts/logout/"),
            (r.me(), "http://127.0.0.1:8000/api/accounts/me/"),
            (r.password(), "http://127.0.0.1:8000/api/accounts/password/"),
            (r.chats(), "http://127.0.0.1:8000/api/chat/"),
            (r.chat(chat), "http://127.0.0.1:8000/api/chat/7/"),
            (
                r.messages(chat),
                "http://127.0.0.1:8000/api/chat/7/message/",
            ),
            (
                r.member(chat, user),
                "http://127.0.0.1:8000/api/chat/7/user/3/",
            ),
            (r.leave(chat), "http://127.0.0.1:8000/api/chat/7/leave/"),
            (r.read(chat), "http://127.0.0.1:8000/api/chat/7/read/"),
            (r.user(user), "http://127.0.0.1:8000/api/users/3/"),
            (r.health(), "http://127.0.0.1:8000/healthz"),
            (r.openapi(), "http://127.0.0.1:8000/api/openapi.json"),
        ];
        for (got, want) in cases {
            assert_eq!(got.as_str(), want);
        }
    }

    #[test]
    fn a_path_prefix_in_the_base_url_is_kept_with_or_without_its_slash() {
        for base in ["https://example.com/chat", "https://example.com/chat/"] {
            assert_eq!(
                routes(base).chats().as_str(),
                "https://example.com/chat/api/chat/"
            );
        }
    }

    #[test]
    fn query_and_fragment_of_the_base_url_are_dropped() {
        assert_eq!(
            routes("http://h/?x=1#top").me().as_str(),
            "http://h/api/accounts/me/"
        );
    }

    #[test]
    fn a_base_url_that_is_not_http_is_refused() {
        for bad in [
            "ftp://h/",
            "not a url",
            "/relative",
            "mailto:someone@example.com",
        ] {
            let err = Routes::new(bad).unwrap_err();
            assert!(matches!(err, Error::Invalid(_)), "{bad}: {err:?}");
        }
    }

    #[test]
    fn the_newest_page_sends_only_the_limit() {
        let url = routes("http://h").history(ChatId(1), &PageRequest::default());
        assert_eq!(url.as_str(), "http://h/api/chat/1/message/?limit=50");
    }

    #[test]
    fn a_page_before_a_seq_sends_before_seq() {
        let page = PageRequest::before(120, 20).unwrap();
        let url = routes("http://h").history(ChatId(1), &page);
        assert_eq!(
            url.as_str(),
            "http://h/api/chat/1/message/?limit=20&before_seq=120"
        );
    }

    #[test]
    fn a_page_after_a_seq_sends_after_seq() {
        let page = PageRequest::after(0, 200).unwrap();
        let url = routes("http://h").history(ChatId(1), &page);
        assert_eq!(
            url.as_str(),
            "http://h/api/chat/1/message/?limit=200&after_seq=0"
        );
    }

    #[test]
    fn the_user_query_sends_only_what_is_set_and_encodes_the_search_text() {
        let r = routes("http://h");
        assert_eq!(r.users(&UserQuery::all()).as_str(), "http://h/api/users/");
        assert_eq!(
            r.users(&UserQuery::search("Иван & co").limit(10).offset(20))
                .as_str(),
            "http://h/api/users/?q=%D0%98%D0%B2%D0%B0%D0%BD+%26+co&limit=10&offset=20"
        );
        assert_eq!(
            r.users(&UserQuery::all().offset(5)).as_str(),
            "http://h/api/users/?offset=5"
        );
    }

    #[test]
    fn the_socket_url_follows_the_scheme_and_carries_after_seq() {
        assert_eq!(
            routes("http://h:8000")
                .chat_socket(ChatId(4), None)
                .as_str(),
            "ws://h:8000/ws/api/chat/4/"
        );
        assert_eq!(
            routes("https://h/prefix")
                .chat_socket(ChatId(4), Some(17))
                .as_str(),
            "wss://h/prefix/ws/api/chat/4/?after_seq=17"
        );
    }
}
