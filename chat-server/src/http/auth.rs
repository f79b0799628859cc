//! Who is calling: the credential a request carries and the [`Actor`] it proves.
//!
//! The `Authorization` header wins: `Token <hex>` (keyword in any case), then `Basic`;
//! the `chat_session` cookie is read only without the header. A wrong Basic password is a
//! 401 like every other authentication failure (and every 401 says `WWW-Authenticate: Token`,
//! never `Basic`, so browsers do not cache credentials).

use super::ApiError;
use base64::Engine;
use chatcore::{Actor, ClientInfo, Credential, Error, Services};
use http::HeaderMap;
use http::header::AUTHORIZATION;

/// How a request authenticated; decides what logout revokes and whether CSRF applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Token …`.
    Token,
    /// `Authorization: Basic …`.
    Basic,
    /// The `chat_session` cookie (a browser: unsafe methods need CSRF proof).
    Session,
}

/// An authenticated request: the actor and the credential that proved it.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The acting user.
    pub actor: Actor,
    /// The credential presented (logout revokes this one).
    pub credential: Credential,
}

impl Authenticated {
    /// Which kind of credential it was.
    pub fn via(&self) -> Via {
        match self.credential {
            Credential::Token(_) => Via::Token,
            Credential::Basic { .. } => Via::Basic,
            Credential::Session(_) => Via::Session,
        }
    }
}

/// The credential a request carries, if any; a malformed `Authorization` header is a 401.
pub fn credential(headers: &HeaderMap) -> Result<Option<Credential>, ApiError> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| ApiError::unauthenticated("Invalid Authorization header"))?;
        return parse_authorization(value).map(Some);
    }
    Ok(super::cookies::session_id(headers).map(Credential::Session))
}

/// Parses an `Authorization` header value.
fn parse_authorization(value: &str) -> Result<Credential, ApiError> {
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("token") {
        if rest.is_empty() || rest.contains(' ') {
            return Err(ApiError::unauthenticated(
                "Invalid token header: expected `Token <key>`",
            ));
        }
        Ok(Credential::Token(rest.to_owned()))
    } else if scheme.eq_ignore_ascii_case("basic") {
        let invalid = || ApiError::unauthenticated("Invalid basic header");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| invalid())?;
        let decoded = String::from_utf8(decoded).map_err(|_| invalid())?;
        let (username, password) = decoded.split_once(':').ok_or_else(invalid)?;
        Ok(Credential::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
        })
    } else {
        Err(ApiError::unauthenticated(
            "Unsupported authorization scheme: use Token or Basic",
        ))
    }
}

/// Authenticates a request that must be: no credential or a bad one is a 401.
pub async fn authenticate(
    services: &Services,
    headers: &HeaderMap,
    client: &ClientInfo,
) -> Result<Authenticated, ApiError> {
    let credential = credential(headers)?
        .ok_or_else(|| ApiError::unauthenticated("Authentication credentials were not provided"))?;
    match services
        .authenticator
        .authenticate(&credential, client)
        .await
    {
        Ok(actor) => Ok(Authenticated { actor, credential }),
        Err(Error::InvalidCredentials) => Err(ApiError::bad_basic_credentials()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn check(pairs: &[(&str, &str)]) -> String {
        match credential(&headers(pairs)) {
            Ok(Some(Credential::Token(t))) => format!("token {t}"),
            Ok(Some(Credential::Basic { username, password })) => {
                format!("basic {username} {password}")
            }
            Ok(Some(Credential::Session(s))) => format!("session {s}"),
            Ok(None) => "none".into(),
            Err(e) => format!("{} {}", e.status().as_u16(), e.message()),
        }
    }

    #[test]
    fn the_token_keyword_is_case_insensitive() {
        assert_eq!(check(&[("authorization", "Token abc")]), "token abc");
        assert_eq!(check(&[("authorization", "token abc")]), "token abc");
        assert_eq!(check(&[("authorization", "TOKEN  abc ")]), "token abc");
        assert!(check(&[("authorization", "Token")]).starts_with("401"));
        assert!(check(&[("authorization", "Token a b")]).starts_with("401"));
        assert!(check(&[("authorization", "Bearer abc")]).starts_with("401"));
    }

    #[test]
    fn basic_credentials_are_decoded_and_malformed_ones_refused() {
        // "ann:pa:ss" — the password may contain colons.
        assert_eq!(
            check(&[("authorization", "Basic YW5uOnBhOnNz")]),
            "basic ann pa:ss"
        );
        assert!(check(&[("authorization", "basic !!!")]).starts_with("401"));
        // "nocolon"
        assert!(check(&[("authorization", "Basic bm9jb2xvbg==")]).starts_with("401"));
    }

    #[test]
    fn the_header_wins_over_the_session_cookie() {
        assert_eq!(
            check(&[("cookie", "a=1; chat_session=s3cr3t; b=2")]),
            "session s3cr3t"
        );
        assert_eq!(
            check(&[("cookie", "chat_session=s"), ("authorization", "Token t")]),
            "token t"
        );
        assert_eq!(check(&[("cookie", "chat_sessionx=1")]), "none");
        assert_eq!(
            check(&[("cookie", "chat_session=plain; __Host-chat_session=secure")]),
            "session secure"
        );
        assert_eq!(check(&[]), "none");
    }
}
