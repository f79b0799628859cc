//! The minijinja environment, built once per process ([`env`]) from the templates embedded
//! in the binary (`include_str!`, `src/web/templates/`), with the UI's functions:
//! `t("key", name=…)` and `tn("key", n)` read the catalog in the page's `lang`,
//! `asset("css/app.css")` gives an embedded file's versioned URL. Every template name ends
//! in `.html`, so everything printed is HTML-escaped unless a template says otherwise
//! (none does). Undefined variables are errors (a typo fails the page tests), except in
//! `if` tests.

use super::assets;
use super::i18n::{self, Lang};
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior};
use std::sync::OnceLock;

/// Every template, by name.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("_macros.html", include_str!("templates/_macros.html")),
    ("_message.html", include_str!("templates/_message.html")),
    ("error.html", include_str!("templates/error.html")),
    ("home.html", include_str!("templates/home.html")),
    ("login.html", include_str!("templates/login.html")),
    ("signup.html", include_str!("templates/signup.html")),
    ("chats.html", include_str!("templates/chats.html")),
    ("room.html", include_str!("templates/room.html")),
    ("leave.html", include_str!("templates/leave.html")),
    ("admin/_nav.html", include_str!("templates/admin/_nav.html")),
    (
        "admin/index.html",
        include_str!("templates/admin/index.html"),
    ),
    (
        "admin/users.html",
        include_str!("templates/admin/users.html"),
    ),
    (
        "admin/chats.html",
        include_str!("templates/admin/chats.html"),
    ),
    ("admin/chat.html", include_str!("templates/admin/chat.html")),
    (
        "admin/delete.html",
        include_str!("templates/admin/delete.html"),
    ),
];

/// The environment, built on first use.
///
/// # Errors
/// A template that does not parse (the unit test below builds it, so this is a bug).
pub fn env() -> Result<&'static Environment<'static>, &'static Error> {
    static ENV: OnceLock<Result<Environment<'static>, Error>> = OnceLock::new();
    ENV.get_or_init(build).as_ref()
}

fn build() -> Result<Environment<'static>, Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()?,
    );
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    env.add_function("t", translate);
    env.add_function("tn", translate_plural);
    env.add_function("asset", asset);
    Ok(env)
}

/// The page's language, from the `lang` variable every page context has.
fn lang_of(state: &State) -> Lang {
    state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::from_code))
        .unwrap_or(Lang::Ru)
}

/// `t("key", name=value…)`: the catalog's text with `{name}` placeholders filled.
fn translate(state: &State, key: &str, kwargs: Kwargs) -> Result<String, Error> {
    let text = i18n::text(lang_of(state), key).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("no UI string `{key}` in the catalog"),
        )
    })?;
    let mut args = Vec::new();
    for name in kwargs.args() {
        let value: Value = kwargs.get(name)?;
        args.push((name, value.to_string()));
    }
    kwargs.assert_all_used()?;
    let args: Vec<(&str, &str)> = args.iter().map(|(n, v)| (*n, v.as_str())).collect();
    Ok(i18n::fill(text, &args))
}

/// `tn("key", n)`: the plural form of the catalog's entry for `n`.
fn translate_plural(state: &State, key: &str, n: i64) -> Result<String, Error> {
    if i18n::text(Lang::Ru, key).is_none() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("no UI string `{key}` in the catalog"),
        ));
    }
    Ok(i18n::plural(lang_of(state), key, n))
}

/// `asset("path")`: the versioned URL of an embedded static file (made here of known
/// paths and hex, so it needs no escaping).
fn asset(path: &str) -> Result<Value, Error> {
    assets::url(path)
        .map(Value::from_safe_string)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("no embedded static file `{path}`"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let env = env().expect("the templates parse");
        for (name, _) in TEMPLATES {
            env.get_template(name).expect("each template is registered");
        }
    }

    #[test]
    fn every_key_the_templates_name_is_in_the_catalog() {
        for (name, source) in TEMPLATES {
            for call in ["t(\"", "t('", "tn(\"", "tn('"] {
                for (at, _) in source.match_indices(call) {
                    // `asset('…')` ends in `t('` too: only a whole word counts.
                    let before = source[..at].chars().next_back();
                    if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                        continue;
                    }
                    let key: String = source[at + call.len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    assert!(
                        i18n::text(Lang::Ru, &key).is_some(),
                        "{name} names `{key}`, which the catalog lacks"
                    );
                }
            }
        }
    }
}
