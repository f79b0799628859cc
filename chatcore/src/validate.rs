//! Parse, don't validate: every rule about user input, each turning raw text into a value
//! that cannot be invalid past this point. Pure functions, shared by all front ends.

use crate::error::Error;
use std::collections::HashSet;
use std::sync::OnceLock;
use unicode_normalization::UnicodeNormalization;

/// Longest username (Django's limit).
pub const MAX_USERNAME_CHARS: usize = 150;
/// Longest first or last name.
pub const MAX_NAME_CHARS: usize = 150;
/// Longest e-mail address (RFC 5321 path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// Shortest password.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password (bounds the work argon2 does for one request).
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// Longest chat name.
pub const MAX_CHAT_NAME_CHARS: usize = 100;
/// Longest `client_id`.
pub const MAX_CLIENT_ID_CHARS: usize = 64;
/// Longest issuer or subject of an external identity.
pub const MAX_EXTERNAL_KEY_CHARS: usize = 255;

/// A valid username: NFKC-normalised, 1–150 letters, digits and `@.+-_`, with the
/// lower-cased `key` that uniqueness and lookup use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    display: String,
    key: String,
}

impl Username {
    /// Checks and normalises a wanted username.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let display: String = raw.nfkc().collect();
        let len = display.chars().count();
        if len == 0 {
            return Err(Error::invalid("username", "This field may not be blank."));
        }
        if len > MAX_USERNAME_CHARS {
            return Err(Error::invalid(
                "username",
                format!("Ensure this field has no more than {MAX_USERNAME_CHARS} characters."),
            ));
        }
        if !display
            .chars()
            .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
        {
            return Err(Error::invalid(
                "username",
                "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
            ));
        }
        let key = username_key(&display);
        Ok(Self { display, key })
    }

    /// The name as the user wrote it (normalised).
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The case-folded form used for uniqueness and lookup.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// The lookup key of any username-like input: NFKC, then lower case. Login uses it, so a
/// name that was never valid simply matches nothing.
pub fn username_key(raw: &str) -> String {
    raw.nfkc().collect::<String>().to_lowercase()
}

/// The lookup key of a name given to log in ([`username_key`]), or `None` when it cannot be
/// a username at all: longer than [`MAX_USERNAME_CHARS`] after NFKC. Normalises at most one
/// character past the limit, however long (or expanding, like U+FDFA) the input is.
pub fn login_username_key(raw: &str) -> Option<String> {
    let normalised: String = raw.nfkc().take(MAX_USERNAME_CHARS + 1).collect();
    (normalised.chars().count() <= MAX_USERNAME_CHARS).then(|| normalised.to_lowercase())
}

/// Checks an e-mail address; `""` means none. Returns the trimmed address.
pub fn email(raw: &str) -> Result<String, Error> {
    let email = raw.trim();
    if email.is_empty() {
        return Ok(String::new());
    }
    let bad = || Error::invalid("email", "Enter a valid email address.");
    if email.chars().count() > MAX_EMAIL_CHARS
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty() || local.len() > 64 || local.contains('@') {
        return Err(bad());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(bad());
    }
    Ok(email.to_owned())
}

/// Checks a first or last name: trimmed, at most 150 characters, may be empty.
pub fn person_name(field: &'static str, raw: &str) -> Result<String, Error> {
    let name = raw.trim();
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid(
            field,
            format!("Ensure this field has no more than {MAX_NAME_CHARS} characters."),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(name.to_owned())
}

/// The account attributes a password must not resemble.
#[derive(Debug, Clone, Copy, Default)]
pub struct PasswordContext<'a> {
    /// The username.
    pub username: &'a str,
    /// The e-mail address.
    pub email: &'a str,
    /// The given name.
    pub first_name: &'a str,
    /// The family name.
    pub last_name: &'a str,
}

/// Checks a new password with Django's four rules: at least 8 characters, not entirely
/// numeric, not one of the 20,000 most common passwords, not too similar to the account's
/// own attributes.
pub fn password(raw: &str, ctx: PasswordContext<'_>) -> Result<(), Error> {
    let len = raw.chars().count();
    if len < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(
            "password",
            format!(
                "This password is too short. It must contain at least {MIN_PASSWORD_CHARS} characters."
            ),
        ));
    }
    if len > MAX_PASSWORD_CHARS {
        return Err(Error::invalid(
            "password",
            format!("Ensure this field has no more than {MAX_PASSWORD_CHARS} characters."),
        ));
    }
    if raw.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::invalid(
            "password",
            "This password is entirely numeric.",
        ));
    }
    let lowered = raw.trim().to_lowercase();
    if common_passwords().contains(lowered.as_str()) {
        return Err(Error::invalid("password", "This password is too common."));
    }
    let attributes = [
        ("username", ctx.username),
        ("email address", ctx.email),
        ("first name", ctx.first_name),
        ("last name", ctx.last_name),
    ];
    for (label, value) in attributes {
        if is_similar(&lowered, &value.to_lowercase()) {
            return Err(Error::invalid(
                "password",
                format!("The password is too similar to the {label}."),
            ));
        }
    }
    Ok(())
}

/// Django's `UserAttributeSimilarityValidator` with its default threshold 0.7: the whole
/// attribute and each of its word parts are compared with the password.
fn is_similar(password: &str, attribute: &str) -> bool {
    if attribute.is_empty() {
        return false;
    }
    let parts = attribute
        .split(|c: char| !c.is_alphanumeric())
        .filter(|p| !p.is_empty());
    std::iter::once(attribute)
        .chain(parts)
        .any(|part| strsim::normalized_levenshtein(password, part) >= 0.7)
}

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| include_str!("common-passwords.txt").lines().collect())
}

/// Checks message text: trimmed, not blank, at most `max_chars` Unicode scalar values.
pub fn content(raw: &str, max_chars: usize) -> Result<String, Error> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(Error::invalid("content", "This field may not be blank."));
    }
    if text.chars().count() > max_chars {
        return Err(Error::invalid(
            "content",
            format!("Ensure this field has no more than {max_chars} characters."),
        ));
    }
    // PostgreSQL cannot store NUL in text; no message needs one.
    if text.contains('\0') {
        return Err(Error::invalid("content", "must not contain NUL characters"));
    }
    Ok(text.to_owned())
}

/// Checks a chat name: trimmed, 1–100 characters.
pub fn chat_name(raw: &str) -> Result<String, Error> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(Error::invalid("name", "This field may not be blank."));
    }
    if name.chars().count() > MAX_CHAT_NAME_CHARS {
        return Err(Error::invalid(
            "name",
            format!("Ensure this field has no more than {MAX_CHAT_NAME_CHARS} characters."),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

/// Checks one half of an external identity's key (`issuer` or `subject`): 1–255
/// characters, no control characters, kept exactly as given.
pub fn external_key(field: &'static str, raw: &str) -> Result<(), Error> {
    let len = raw.chars().count();
    if len == 0 || len > MAX_EXTERNAL_KEY_CHARS || raw.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            format!("must be 1 to {MAX_EXTERNAL_KEY_CHARS} characters without control characters"),
        ));
    }
    Ok(())
}

/// Checks an idempotency key: 1–64 characters, no control characters.
pub fn client_id(raw: &str) -> Result<String, Error> {
    let len = raw.chars().count();
    if len == 0 || len > MAX_CLIENT_ID_CHARS || raw.chars().any(char::is_control) {
        return Err(Error::invalid(
            "client_id",
            format!("must be 1 to {MAX_CLIENT_ID_CHARS} characters without control characters"),
        ));
    }
    Ok(raw.to_owned())
}

/// The folded text user search matches: username, names and e-mail, lower-cased.
pub fn user_search_key(username: &str, first: &str, last: &str, email: &str) -> String {
    format!("{username} {first} {last} {email}").to_lowercase()
}

/// A search query turned into a `LIKE … ESCAPE '\'` pattern over [`user_search_key`].
pub fn like_pattern(query: &str) -> String {
    let mut pattern = String::from("%");
    // NUL can be in no search key (PostgreSQL refuses it in a pattern): drop it.
    for c in query.trim().to_lowercase().chars().filter(|c| *c != '\0') {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(p: &str, username: &str) -> Result<(), Error> {
        password(
            p,
            PasswordContext {
                username,
                ..Default::default()
            },
        )
    }

    #[test]
    fn usernames_are_normalised_and_folded() {
        let u = Username::parse("Иван").unwrap();
        assert_eq!(u.as_str(), "Иван");
        assert_eq!(u.key(), "иван");
        assert_eq!(Username::parse("ｕｓｅｒ").unwrap().as_str(), "user");
        assert!(Username::parse("bad name!").is_err());
        assert!(Username::parse("").is_err());
        assert!(Username::parse(&"a".repeat(151)).is_err());
        assert!(Username::parse(&"a".repeat(150)).is_ok());
        assert!(Username::parse("a.b+c-d_e@f").is_ok());
    }

    #[test]
    fn login_names_longer_than_any_username_have_no_key() {
        assert_eq!(login_username_key("ИВАН").as_deref(), Some("иван"));
        assert_eq!(
            login_username_key(&"A".repeat(150)),
            Some(username_key(&"A".repeat(150)))
        );
        assert_eq!(login_username_key(&"a".repeat(151)), None);
        // One character, 18 after NFKC: eight fit (144), nine do not (162).
        assert!(login_username_key(&"\u{FDFA}".repeat(8)).is_some());
        assert_eq!(login_username_key(&"\u{FDFA}".repeat(9)), None);
        assert_eq!(login_username_key(&"\u{FDFA}".repeat(100_000)), None);
    }

    #[test]
    fn passwords_follow_djangos_rules() {
        assert!(pw("1", "user1").is_err());
        assert!(pw("short7!", "user1").is_err());
        assert!(pw("12345678901", "user1").is_err());
        assert!(pw("password", "user1").is_err());
        assert!(pw("Qwerty123", "user1").is_err());
        assert!(pw("alexander1", "alexander").is_err());
        assert!(pw("correct horse battery", "alexander").is_ok());
    }

    #[test]
    fn emails_are_checked_structurally() {
        assert_eq!(email("").unwrap(), "");
        assert_eq!(email(" a@b.example ").unwrap(), "a@b.example");
        for bad in [
            "not-an-email",
            "a@b",
            "@b.example",
            "a b@c.example",
            "a@-b.example",
            "a@b..c",
        ] {
            assert!(email(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn content_is_trimmed_and_bounded() {
        assert_eq!(content("  hi  ", 10).unwrap(), "hi");
        assert!(content("   ", 10).is_err());
        assert!(content(&"я".repeat(11), 10).is_err());
        assert!(content(&"я".repeat(10), 10).is_ok());
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("A_b%"), "%a\\_b\\%%");
    }
}
