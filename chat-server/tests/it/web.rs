//! The web UI over real HTTP: every page as a visitor, a member and an admin in both
//! languages (insta snapshots, with ids, times and tokens redacted), the forms' flows and
//! their errors shown in place, CSRF (a cross-site form post is refused, the same post from
//! our page works), cookies, the Content-Security-Policy, and the embedded files.

use crate::helpers::*;
use chat_server::Settings;
use chat_server::settings::SecureCookies;
use chatcore::model::ChatId;
use chatcore::{Config, LoginRateLimit};
use reqwest::{Method, StatusCode};
use std::collections::BTreeMap;
use std::time::Duration;

/// What a browser got back: status, headers and the page.
#[derive(Debug)]
pub struct Seen {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub html: String,
}

impl Seen {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Where a redirect goes.
    pub fn location(&self) -> &str {
        self.header("location").unwrap_or_default()
    }

    /// Asserts the status, showing the page when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; page:\n{}",
            self.html
        );
        self
    }

    /// Asserts a `303` to `location`.
    #[track_caller]
    pub fn expect_redirect(&self, location: &str) -> &Self {
        self.expect(303);
        assert_eq!(self.location(), location);
        self
    }

    /// The first `csrf_token` field of the page's forms.
    pub fn csrf_field(&self) -> String {
        field_value(&self.html, "csrf_token").expect("the page has a form with a CSRF token")
    }
}

/// The value of the first input named `name`, unescaped.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let at = html.find(&marker)?;
    let tag_end = html[at..].find('>')? + at;
    let tag = &html[at..tag_end];
    let start = tag.find("value=\"")? + "value=\"".len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// Undoes the templates' HTML escaping.
pub fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A browser: a cookie jar, a language, and requests from the server's own origin (as a
/// page's forms and scripts send them).
pub struct Browser<'a> {
    app: &'a TestApp,
    cookies: BTreeMap<String, String>,
    /// The `Accept-Language` it sends.
    pub lang: &'static str,
}

impl<'a> Browser<'a> {
    /// A new browser preferring `lang` (`ru`, `en`).
    pub fn new(app: &'a TestApp, lang: &'static str) -> Self {
        let lang = match lang {
            "en" => "en-US,en;q=0.9",
            _ => "ru-RU,ru;q=0.9,en;q=0.5",
        };
        Self {
            app,
            cookies: BTreeMap::new(),
            lang,
        }
    }

    /// A browser already signed in as `user` (a session made by the core).
    pub async fn signed_in(app: &'a TestApp, user: &TestUser, lang: &'static str) -> Self {
        let mut browser = Self::new(app, lang);
        let (id, _) = app.create_session(user).await;
        browser.cookies.insert("chat_session".into(), id);
        browser
    }

    /// The value of a cookie it holds.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Sets a cookie by hand.
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.into(), value.into());
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        extra: &[(&str, &str)],
    ) -> Seen {
        let mut req = self
            .app
            .http
            .request(method.clone(), self.app.url(path))
            .header("Accept-Language", self.lang);
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header("Cookie", jar.join("; "));
        }
        let overridden = |name: &str| extra.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        if method != Method::GET && !overridden("origin") {
            req = req.header("Origin", &self.app.base_url);
        }
        if method != Method::GET && !overridden("sec-fetch-site") {
            req = req.header("Sec-Fetch-Site", "same-origin");
        }
        for (name, value) in extra {
            req = req.header(*name, *value);
        }
        if let Some(pairs) = form {
            req = req.form(pairs);
        }
        let resp = req.send().await.expect("the server answers");
        let status = resp.status();
        let headers = resp.headers().clone();
        for set in headers.get_all("set-cookie") {
            let text = set.to_str().expect("cookies are text");
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').expect("a cookie has a value");
            if value.is_empty() || attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let html = resp.text().await.expect("the body can be read");
        Seen {
            status,
            headers,
            html,
        }
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Seen {
        self.send(Method::GET, path, None, &[]).await
    }

    /// Posts a form from one of our pages.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Seen {
        self.send(Method::POST, path, Some(form), &[]).await
    }

    /// Posts a form with extra headers (a cross-site post, say).
    pub async fn post_with(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Seen {
        self.send(Method::POST, path, Some(form), headers).await
    }

    /// Posts a form the way the page at `page` would: with that page's CSRF token.
    pub async fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> Seen {
        let token = self.get(page).await.csrf_field();
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &token));
        self.post(action, &form).await
    }

    /// Logs in through the login form.
    pub async fn log_in(&mut self, username: &str, password: &str) -> Seen {
        self.submit(
            "/accounts/login/",
            "/accounts/login/",
            &[("username", username), ("password", password)],
        )
        .await
    }
}

/// Replaces what changes from run to run: tokens and asset versions (hex runs of 16, 32 or
/// 64 characters), times (`<time …>…</time>`), and ids in links and data attributes (seq
/// numbers stay: they are the same on every run by design).
pub fn redact(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find("<time ") {
        out.push_str(&rest[..at]);
        let end = rest[at..]
            .find("</time>")
            .map_or(rest.len(), |e| at + e + "</time>".len());
        out.push_str("<time>[time]</time>");
        rest = &rest[end..];
    }
    out.push_str(rest);
    let out = redact_hex(&out);
    let mut redacted = out;
    for prefix in [
        "/chats/",
        "/admin/chats/",
        "/admin/users/",
        "/members/",
        "user-",
        "member-",
        "chat-",
        "data-chat=\"",
        "data-me=\"",
        "data-user=\"",
    ] {
        redacted = redact_numbers_after(&redacted, prefix);
    }
    redacted
}

fn redact_hex(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let is_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if is_hex(bytes[i]) && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < bytes.len() && is_hex(bytes[j]) {
                j += 1;
            }
            let bounded = j == bytes.len() || !bytes[j].is_ascii_alphanumeric();
            if bounded && [16, 32, 64].contains(&(j - i)) {
                out.push_str("[hex]");
                i = j;
                continue;
            }
            out.push_str(&text[i..j]);
            i = j;
            continue;
        }
        let c = text[i..].chars().next().expect("a char starts here");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

fn redact_numbers_after(text: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let after = at + prefix.len();
        out.push_str(&rest[..after]);
        let digits = rest[after..].bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("[id]");
        }
        rest = &rest[after + digits..];
    }
    out.push_str(rest);
    out
}

/// The people and chats every page test starts from: `root` (admin, "Ада Лавлейс"), `ann`
/// ("Анна Иванова") and `bob` (no names) in "Общий" with three messages (one an XSS
/// attempt), and "Design", where `root` is not a member.
pub struct Cast {
    /// The admin.
    pub root: TestUser,
    /// A member with names.
    pub ann: TestUser,
    /// A member without names.
    pub bob: TestUser,
    /// The chat everybody is in.
    pub general: ChatId,
    /// A chat the admin is not in.
    pub design: ChatId,
}

/// The text of the XSS attempt.
pub const XSS: &str = "<img src=x onerror=alert(1)>";

/// Sets up the [`Cast`].
pub async fn cast(app: &TestApp) -> Cast {
    let root = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    for (user, first, last) in [(&root, "Ада", "Лавлейс"), (&ann, "Анна", "Иванова")]
    {
        app.services
            .auth
            .update_profile(
                &app.actor(user).await,
                chatcore::model::ProfileUpdate {
                    first_name: Some(first.into()),
                    last_name: Some(last.into()),
                    email: None,
                },
            )
            .await
            .expect("the profile can be changed");
    }
    let general = app
        .create_chat(&root, "Общий", &[&root, &ann, &bob])
        .await
        .id;
    let design = app.create_chat(&root, "Design", &[&ann]).await.id;
    app.post_message(&ann, general, "Привет всем! Hello everyone.")
        .await;
    app.post_message(&bob, general, XSS).await;
    app.post_message(&root, general, "Two lines:\nthe second one")
        .await;
    Cast {
        root,
        ann,
        bob,
        general,
        design,
    }
}

/// Checks what every page must be: HTML with the page CSP (no inline script or style
/// allowed), no inline script, handler or style in the markup, no caching.
#[track_caller]
fn check_page_rules(seen: &Seen) {
    assert_eq!(
        seen.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = seen.header("content-security-policy").expect("a CSP");
    assert_eq!(csp, chat_server::web::page::PAGE_CSP);
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert_eq!(seen.header("cache-control"), Some("no-store"));
    let html = &seen.html;
    for (at, _) in html.match_indices("<script") {
        let tag = &html[at..at + html[at..].find('>').expect("tags close")];
        assert!(
            tag.contains(" src=\"/static/") || tag.contains("type=\"application/json\""),
            "an inline script: {tag}"
        );
    }
    assert!(!html.contains(" style="), "an inline style attribute");
    // Inside tags only (escaped text such as `&lt;img onerror=…` is not markup).
    for tag in html.split('<').skip(1).filter_map(|t| t.split('>').next()) {
        let lower = tag.to_lowercase();
        let attributes = lower.split_whitespace().skip(1);
        for attribute in attributes {
            assert!(
                !(attribute.starts_with("hx-on")
                    || (attribute.starts_with("on") && attribute.contains('='))),
                "an inline handler in <{tag}>"
            );
        }
    }
}

/// Snapshots a page, redacted, after checking the page rules.
#[track_caller]
fn snapshot(name: &str, seen: &Seen) {
    check_page_rules(seen);
    insta::assert_snapshot!(name, redact(&seen.html));
}

#[tokio::test]
async fn every_page_as_a_visitor_a_member_and_an_admin_in_both_languages() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let (general, design) = (cast.general.0, cast.design.0);
    for lang in ["ru", "en"] {
        let mut visitor = Browser::new(&app, lang);
        for (page, path, status) in [
            ("home", "/".to_owned(), 200),
            ("login", "/accounts/login/?next=/chats/".to_owned(), 200),
            ("signup", "/accounts/signup/".to_owned(), 200),
            ("not_found", "/nowhere/".to_owned(), 404),
        ] {
            let seen = visitor.get(&path).await;
            seen.expect(status);
            snapshot(&format!("{lang}_visitor_{page}"), &seen);
        }
        let seen = visitor
            .submit(
                "/accounts/login/",
                "/accounts/login/",
                &[("username", "ann"), ("password", "wrong password")],
            )
            .await;
        seen.expect(400);
        snapshot(&format!("{lang}_visitor_login_refused"), &seen);

        let mut member = Browser::signed_in(&app, &cast.ann, lang).await;
        for (page, path, status) in [
            ("home", "/".to_owned(), 200),
            ("chats", "/chats/".to_owned(), 200),
            ("room", format!("/chats/{general}/"), 200),
            ("leave", format!("/chats/{general}/leave/"), 200),
            ("admin_forbidden", "/admin/".to_owned(), 403),
        ] {
            let seen = member.get(&path).await;
            seen.expect(status);
            snapshot(&format!("{lang}_member_{page}"), &seen);
        }

        let mut admin = Browser::signed_in(&app, &cast.root, lang).await;
        for (page, path) in [
            ("home", "/".to_owned()),
            ("chats", "/chats/".to_owned()),
            ("room", format!("/chats/{general}/")),
            ("room_not_member", format!("/chats/{design}/")),
            ("admin", "/admin/".to_owned()),
            ("admin_users", "/admin/users/".to_owned()),
            ("admin_chats", "/admin/chats/".to_owned()),
            ("admin_chat", format!("/admin/chats/{general}/")),
            ("admin_delete", format!("/admin/chats/{design}/delete/")),
        ] {
            let seen = admin.get(&path).await;
            seen.expect(200);
            snapshot(&format!("{lang}_admin_{page}"), &seen);
        }
    }
}

#[tokio::test]
async fn the_error_pages_are_in_the_sites_look() {
    use chat_server::http::ApiError;
    use chat_server::web::i18n::Lang;
    use http_body_util::BodyExt;
    for (lang, name) in [(Lang::Ru, "ru"), (Lang::En, "en")] {
        for (error, code) in [
            (
                ApiError::from(chatcore::Error::forbidden("Only admins may do this")),
                403,
            ),
            (ApiError::no_such_path(), 404),
            (ApiError::internal(), 500),
        ] {
            let resp = chat_server::web::errors::page(error, lang);
            assert_eq!(resp.status().as_u16(), code);
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            let html = String::from_utf8(bytes.to_vec()).unwrap();
            insta::assert_snapshot!(format!("{name}_error_{code}"), redact(&html));
        }
    }
}

#[tokio::test]
async fn a_signed_out_visit_goes_to_the_login_page_and_back_after_logging_in() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let room = format!("/chats/{}/", cast.general.0);
    let mut browser = Browser::new(&app, "en");
    let seen = browser.get(&room).await;
    seen.expect_redirect(&format!(
        "/accounts/login/?next=%2Fchats%2F{}%2F",
        cast.general.0
    ));
    let login = browser.get(seen.location()).await;
    login.expect(200);
    assert_eq!(
        field_value(&login.html, "next").as_deref(),
        Some(room.as_str())
    );
    let token = login.csrf_field();
    let seen = browser
        .post(
            "/accounts/login/",
            &[
                ("username", "ANN"),
                ("password", PASSWORD),
                ("next", &room),
                ("csrf_token", &token),
            ],
        )
        .await;
    seen.expect_redirect(&room);
    let cookie = seen
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("chat_session=") && !c.contains("Max-Age=0"))
        .expect("the session cookie is set");
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("; Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    assert!(
        browser.cookie("chat_form").is_none(),
        "the form token is dropped"
    );
    browser.get(&room).await.expect(200);
    // Signed in, the login page sends the browser on.
    browser
        .get("/accounts/login/")
        .await
        .expect_redirect("/chats/");
}

#[tokio::test]
async fn next_is_followed_only_to_local_paths() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for (next, expected) in [
        ("/chats/", "/chats/"),
        ("//evil.example/", "/chats/"),
        ("https://evil.example/", "/chats/"),
        ("/\\evil.example", "/chats/"),
    ] {
        let mut browser = Browser::new(&app, "en");
        let token = browser.get("/accounts/login/").await.csrf_field();
        browser
            .post(
                "/accounts/login/",
                &[
                    ("username", cast.ann.username()),
                    ("password", PASSWORD),
                    ("next", next),
                    ("csrf_token", &token),
                ],
            )
            .await
            .expect_redirect(expected);
    }
    let mut browser = Browser::new(&app, "en");
    let page = browser.get("/accounts/login/?next=//evil.example/").await;
    assert!(!page.html.contains("evil.example"), "{}", page.html);
}

#[tokio::test]
async fn too_many_failed_logins_are_shown_clearly_on_the_page() {
    let config = Config {
        login_rate_limit: LoginRateLimit {
            max_failures: 2,
            window: Duration::from_secs(300),
        },
        ..Config::for_tests()
    };
    let app = spawn_app_with(Backend::Sqlite, config, Settings::default())
        .await
        .expect("SQLite is always available");
    app.create_user("ann").await;
    for lang in ["en", "ru"] {
        let mut browser = Browser::new(&app, lang);
        let mut last = None;
        for _ in 0..3 {
            last = Some(browser.log_in("ann", "wrong password").await);
        }
        let seen = last.expect("three attempts");
        seen.expect(429);
        let expected = match lang {
            "en" => "Too many failed attempts to log in. Try again in 5 minutes.",
            _ => "Слишком много неудачных попыток входа. Повторите через 5 минут.",
        };
        assert!(seen.html.contains(expected), "{}", seen.html);
        assert!(
            seen.html.contains("role=\"alert\""),
            "announced: {}",
            seen.html
        );
        assert_eq!(field_value(&seen.html, "username").as_deref(), Some("ann"));
    }
}

#[tokio::test]
async fn signing_up_signs_in_and_mistakes_are_shown_by_their_field() {
    let app = spawn_app().await;
    app.create_user("ann").await;
    let mut browser = Browser::new(&app, "en");
    let seen = browser
        .submit(
            "/accounts/signup/",
            "/accounts/signup/",
            &[
                ("username", "Ann"),
                ("password", PASSWORD),
                ("first_name", "A"),
            ],
        )
        .await;
    seen.expect(409);
    assert!(
        seen.html
            .contains("A user with that username already exists.")
    );
    assert_eq!(field_value(&seen.html, "first_name").as_deref(), Some("A"));
    assert!(
        !seen.html.contains(PASSWORD),
        "the password is not sent back"
    );
    let mut ru = Browser::new(&app, "ru");
    let seen = ru
        .submit(
            "/accounts/signup/",
            "/accounts/signup/",
            &[("username", "carol"), ("password", "short")],
        )
        .await;
    seen.expect(400);
    assert!(
        seen.html
            .contains("Пароль слишком короткий: нужно не меньше 8 символов."),
        "{}",
        seen.html
    );
    let seen = browser
        .submit(
            "/accounts/signup/",
            "/accounts/signup/",
            &[
                ("username", "carol"),
                ("password", PASSWORD),
                ("first_name", "Carol"),
                ("email", "carol@example.com"),
            ],
        )
        .await;
    seen.expect_redirect("/chats/");
    let chats = browser.get("/chats/").await;
    chats.expect(200);
    assert!(chats.html.contains("Carol"), "{}", chats.html);
}

#[tokio::test]
async fn closed_registration_says_so_on_the_page() {
    let config = Config {
        registration_open: false,
        ..Config::for_tests()
    };
    let app = spawn_app_with(Backend::Sqlite, config, Settings::default())
        .await
        .expect("SQLite is always available");
    let mut browser = Browser::new(&app, "en");
    let seen = browser
        .submit(
            "/accounts/signup/",
            "/accounts/signup/",
            &[("username", "carol"), ("password", PASSWORD)],
        )
        .await;
    seen.expect(403);
    assert!(
        seen.html.contains("Registration is closed."),
        "{}",
        seen.html
    );
}

#[tokio::test]
async fn logging_out_is_a_post_that_ends_the_session() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let mut browser = Browser::new(&app, "en");
    browser
        .log_in("ann", PASSWORD)
        .await
        .expect_redirect("/chats/");
    let session = browser
        .cookie("chat_session")
        .expect("a session")
        .to_owned();
    browser.get("/accounts/logout/").await.expect(405);
    let seen = browser.submit("/chats/", "/accounts/logout/", &[]).await;
    seen.expect_redirect("/accounts/login/");
    assert!(
        browser.cookie("chat_session").is_none(),
        "the cookie is cleared"
    );
    // The old cookie no longer works anywhere.
    browser.set_cookie("chat_session", &session);
    browser
        .get("/chats/")
        .await
        .expect_redirect("/accounts/login/?next=%2Fchats%2F");
    let answer = app.get("/api/chat/", As::Session(session, None)).await;
    answer.expect(401);
    let _ = cast;
}

#[tokio::test]
async fn a_cross_site_form_post_is_refused_and_the_same_post_from_our_page_works() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let leave = format!("/chats/{}/leave/", cast.general.0);
    let mut browser = Browser::signed_in(&app, &cast.ann, "en").await;
    let token = browser.get(&leave).await.csrf_field();
    // Another site's page posting the very same form (even with a stolen token).
    let seen = browser
        .post_with(
            &leave,
            &[("csrf_token", &token)],
            &[
                ("Origin", "https://evil.example"),
                ("Sec-Fetch-Site", "cross-site"),
            ],
        )
        .await;
    seen.expect(403);
    assert_eq!(
        seen.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(seen.html.contains("Access denied"), "{}", seen.html);
    // Our origin without the session's token, or with a wrong one.
    browser.post(&leave, &[]).await.expect(403);
    browser
        .post(&leave, &[("csrf_token", &"0".repeat(64))])
        .await
        .expect(403);
    let members = app
        .services
        .membership
        .members(&app.actor(&cast.root).await, cast.general)
        .await
        .unwrap();
    assert!(
        members.iter().any(|m| m.id == cast.ann.id()),
        "still a member"
    );
    // The same post from our page.
    let seen = browser.post(&leave, &[("csrf_token", &token)]).await;
    seen.expect_redirect("/chats/?notice=left");
    let list = browser.get(seen.location()).await;
    assert!(list.html.contains("You left the chat."), "{}", list.html);
    assert!(!list.html.contains("Общий"), "{}", list.html);
}

#[tokio::test]
async fn the_login_form_needs_its_own_token_and_our_origin() {
    let app = spawn_app().await;
    app.create_user("ann").await;
    let mut browser = Browser::new(&app, "en");
    // No form cookie at all (a form posted from elsewhere).
    browser
        .post(
            "/accounts/login/",
            &[("username", "ann"), ("password", PASSWORD)],
        )
        .await
        .expect(403);
    let token = browser.get("/accounts/login/").await.csrf_field();
    let form = [
        ("username", "ann"),
        ("password", PASSWORD),
        ("csrf_token", token.as_str()),
    ];
    browser
        .post_with(
            "/accounts/login/",
            &form,
            &[
                ("Origin", "https://evil.example"),
                ("Sec-Fetch-Site", "cross-site"),
            ],
        )
        .await
        .expect(403);
    browser
        .post(
            "/accounts/login/",
            &[
                ("username", "ann"),
                ("password", PASSWORD),
                ("csrf_token", "x"),
            ],
        )
        .await
        .expect(403);
    browser
        .post("/accounts/login/", &form)
        .await
        .expect_redirect("/chats/");
}

#[tokio::test]
async fn secure_cookies_carry_the_host_prefix_and_still_sign_in() {
    let settings = Settings {
        secure_cookies: SecureCookies::Always,
        ..Settings::default()
    };
    let app = spawn_app_with(Backend::Sqlite, Config::for_tests(), settings)
        .await
        .expect("SQLite is always available");
    app.create_user("ann").await;
    let mut browser = Browser::new(&app, "en");
    let login = browser.get("/accounts/login/").await;
    let form_cookie = login.header("set-cookie").expect("the form token cookie");
    assert!(
        form_cookie.starts_with("__Host-chat_form="),
        "{form_cookie}"
    );
    assert!(form_cookie.contains("; Secure"), "{form_cookie}");
    let token = login.csrf_field();
    let seen = browser
        .post(
            "/accounts/login/",
            &[
                ("username", "ann"),
                ("password", PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .await;
    seen.expect_redirect("/chats/");
    let cookies: Vec<&str> = seen
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("__Host-chat_session=") && !c.contains("Max-Age=0"))
        .unwrap_or_else(|| panic!("a prefixed session cookie: {cookies:?}"));
    assert!(session.contains("; HttpOnly; SameSite=Lax"), "{session}");
    assert!(session.contains("; Secure"), "{session}");
    assert!(browser.cookie("__Host-chat_session").is_some());
    browser.get("/chats/").await.expect(200);
}

#[tokio::test]
async fn the_room_shows_messages_as_text_in_order_and_pages_back() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let mut browser = Browser::signed_in(&app, &cast.ann, "en").await;
    let room = format!("/chats/{}/", cast.general.0);
    let seen = browser.get(&room).await;
    seen.expect(200);
    assert!(
        seen.html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{}",
        seen.html
    );
    assert!(!seen.html.contains(XSS));
    let order: Vec<usize> = ["Привет всем!", "&lt;img", "Two lines:"]
        .iter()
        .map(|t| seen.html.find(t).expect("each message is shown"))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "oldest first");
    assert!(
        seen.html.contains("class=\"msg msg-own\""),
        "ann's own message"
    );
    assert!(seen.html.contains("data-last-seq=\"3\""));
    assert!(seen.html.contains("id=\"older\" hidden"), "nothing older");
    for i in 0..60 {
        app.post_message(&cast.bob, cast.general, &format!("message {i}"))
            .await;
    }
    let seen = browser.get(&room).await;
    assert!(seen.html.contains("data-first-seq=\"14\""), "the latest 50");
    assert!(seen.html.contains("data-last-seq=\"63\""));
    assert!(
        seen.html
            .contains(&format!("href=\"{room}?before_seq=14\""))
    );
    let older = browser.get(&format!("{room}?before_seq=14")).await;
    older.expect(200);
    assert!(older.html.contains("data-live=\"false\""));
    assert!(older.html.contains("data-first-seq=\"1\""));
    assert!(older.html.contains("data-last-seq=\"13\""));
    browser
        .get(&format!("{room}?before_seq=x"))
        .await
        .expect(400);
}

#[tokio::test]
async fn the_room_form_posts_without_scripts_and_keeps_a_refused_draft() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let room = format!("/chats/{}/", cast.general.0);
    let post = format!("/chats/{}/messages/", cast.general.0);
    let mut browser = Browser::signed_in(&app, &cast.ann, "en").await;
    let page = browser.get(&room).await;
    let token = page.csrf_field();
    let client_id = field_value(&page.html, "client_id").expect("a client id");
    let form = [
        ("content", "  sent without scripts  "),
        ("client_id", client_id.as_str()),
        ("csrf_token", token.as_str()),
    ];
    browser
        .post(&post, &form)
        .await
        .expect_redirect(&format!("{room}#m4"));
    // Submitted twice (a resent form): stored once.
    browser
        .post(&post, &form)
        .await
        .expect_redirect(&format!("{room}#m4"));
    let seen = browser
        .post(&post, &[("content", "   "), ("csrf_token", &token)])
        .await;
    seen.expect(400);
    assert!(seen.html.contains("The message is empty."), "{}", seen.html);
    let long = "я".repeat(4097);
    let seen = browser
        .post(&post, &[("content", &long), ("csrf_token", &token)])
        .await;
    seen.expect(400);
    assert!(seen.html.contains(&long), "the draft is kept");
    assert!(seen.html.contains("aria-invalid=\"true\""));
    let history = app
        .services
        .messaging
        .history(
            &app.actor(&cast.ann).await,
            cast.general,
            chatcore::model::PageRequest::new(None, None, None).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(history.len(), 4);
    assert_eq!(history[3].content, "sent without scripts");
}

#[tokio::test]
async fn the_chat_list_is_ordered_by_last_activity() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let mut browser = Browser::signed_in(&app, &cast.ann, "en").await;
    let seen = browser.get("/chats/").await;
    let (general, design) = (
        seen.html.find("Общий").unwrap(),
        seen.html.find("Design").unwrap(),
    );
    assert!(general < design, "the chat with messages first");
    app.post_message(&cast.ann, cast.design, "now this one")
        .await;
    let seen = browser.get("/chats/").await;
    let (general, design) = (
        seen.html.find("Общий").unwrap(),
        seen.html.find("Design").unwrap(),
    );
    assert!(design < general, "the newest activity first");
    assert!(seen.html.contains("now this one"));
}

#[tokio::test]
async fn members_do_not_see_the_admin_pages_or_other_chats() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let mut bob = Browser::signed_in(&app, &cast.bob, "en").await;
    for path in ["/admin/", "/admin/users/", "/admin/chats/"] {
        bob.get(path).await.expect(403);
    }
    bob.get(&format!("/admin/chats/{}/", cast.general.0))
        .await
        .expect(403);
    let seen = bob.get(&format!("/chats/{}/", cast.design.0)).await;
    seen.expect(403);
    bob.get("/chats/9999/").await.expect(404);
    bob.get("/chats/abc/").await.expect(404);
    let seen = bob
        .submit(
            "/chats/",
            &format!("/admin/chats/{}/delete/", cast.general.0),
            &[],
        )
        .await;
    seen.expect(403);
    let home = bob.get("/").await;
    assert!(
        !home.html.contains("href=\"/admin/\""),
        "no admin link for members"
    );
}

#[tokio::test]
async fn an_admin_manages_chats_and_members_through_the_pages() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let mut admin = Browser::signed_in(&app, &cast.root, "en").await;
    let seen = admin
        .submit("/admin/chats/", "/admin/chats/", &[("name", "   ")])
        .await;
    seen.expect(400);
    assert!(
        seen.html.contains("This field may not be blank."),
        "{}",
        seen.html
    );
    let seen = admin
        .submit("/admin/chats/", "/admin/chats/", &[("name", "Launch")])
        .await;
    seen.expect(303);
    let page = seen.location().to_owned();
    assert!(
        page.starts_with("/admin/chats/") && page.ends_with("?notice=chat_created"),
        "{page}"
    );
    let base = page.trim_end_matches("?notice=chat_created").to_owned();
    let chat_page = admin.get(&page).await;
    assert!(
        chat_page
            .html
            .contains("The chat is created. Now add members.")
    );
    assert!(
        chat_page.html.contains("<option value=\"ann\">"),
        "suggestions: {}",
        chat_page.html
    );
    let members = format!("{base}members/");
    admin
        .submit(&base, &members, &[("username", "ANN")])
        .await
        .expect_redirect(&format!("{base}?notice=member_added"));
    admin
        .submit(&base, &members, &[("username", "@bob")])
        .await
        .expect(303);
    let seen = admin
        .submit(&base, &members, &[("username", "nobody")])
        .await;
    seen.expect(404);
    assert!(
        seen.html.contains("There is no user “nobody”."),
        "{}",
        seen.html
    );
    assert_eq!(
        field_value(&seen.html, "username").as_deref(),
        Some("nobody")
    );
    let chat_page = admin.get(&base).await;
    assert!(chat_page.html.contains("@ann") && chat_page.html.contains("@bob"));
    assert!(
        !chat_page.html.contains("<option value=\"ann\">"),
        "members are not suggested"
    );
    let remove = format!("{base}members/{}/remove/", cast.bob.id().0);
    admin
        .submit(&base, &remove, &[])
        .await
        .expect_redirect(&format!("{base}?notice=member_removed"));
    admin
        .submit(&base, &base, &[("name", "Launch 🚀")])
        .await
        .expect_redirect(&format!("{base}?notice=chat_renamed"));
    assert!(admin.get("/admin/chats/").await.html.contains("Launch 🚀"));
    let delete = format!("{base}delete/");
    let confirm = admin.get(&delete).await;
    assert!(
        confirm.html.contains("Delete “Launch 🚀”?"),
        "{}",
        confirm.html
    );
    admin
        .submit(&delete, &delete, &[])
        .await
        .expect_redirect("/admin/chats/?notice=chat_deleted");
    admin.get(&base).await.expect(404);
}

#[tokio::test]
async fn an_admin_manages_users_and_a_refusal_is_shown_in_place() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let mut admin = Browser::signed_in(&app, &cast.root, "en").await;
    let search = admin.get("/admin/users/?q=ann").await;
    search.expect(200);
    assert!(search.html.contains("@ann") && !search.html.contains("@bob"));
    let user = format!("/admin/users/{}/", cast.ann.id().0);
    for (action, notice) in [
        ("promote", "promoted"),
        ("demote", "demoted"),
        ("deactivate", "deactivated"),
        ("activate", "activated"),
    ] {
        admin
            .submit("/admin/users/", &user, &[("action", action), ("q", "ann")])
            .await
            .expect_redirect(&format!(
                "/admin/users/?q=ann&notice={notice}#user-{}",
                cast.ann.id().0
            ));
    }
    // Deactivated in between: ann's sessions are gone.
    let detail = app
        .services
        .auth
        .me(&app.actor(&cast.ann).await)
        .await
        .unwrap();
    assert!(detail.is_active && !detail.is_superuser);
    // The core refuses demoting oneself; the page says so.
    let own = format!("/admin/users/{}/", cast.root.id().0);
    let seen = admin
        .submit("/admin/users/", &own, &[("action", "demote")])
        .await;
    seen.expect(409);
    assert!(
        seen.html
            .contains("You cannot demote or deactivate yourself"),
        "{}",
        seen.html
    );
    let mut ru = Browser::signed_in(&app, &cast.root, "ru").await;
    let seen = ru
        .submit("/admin/users/", &own, &[("action", "demote")])
        .await;
    assert!(
        seen.html
            .contains("Нельзя снять права или отключить самого себя.")
    );
    admin
        .submit("/admin/users/", &user, &[("action", "dance")])
        .await
        .expect(400);
}

#[tokio::test]
async fn the_embedded_files_are_served_with_types_and_caching() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app, "en");
    let home = browser.get("/").await;
    let css = chat_server::web::assets::url("css/app.css").unwrap();
    assert!(home.html.contains(&css), "pages link the versioned file");
    for (path, content_type) in [
        (css.as_str(), "text/css; charset=utf-8"),
        ("/static/js/app.js", "text/javascript; charset=utf-8"),
        ("/static/js/room.js", "text/javascript; charset=utf-8"),
        ("/static/fonts/inter.woff2", "font/woff2"),
        ("/static/img/icon.svg", "image/svg+xml"),
    ] {
        let seen = browser.get(path).await;
        seen.expect(200);
        assert_eq!(seen.header("content-type"), Some(content_type), "{path}");
        assert_eq!(seen.header("x-content-type-options"), Some("nosniff"));
    }
    let seen = browser.get(&css).await;
    assert_eq!(
        seen.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let etag = seen.header("etag").unwrap().to_owned();
    let seen = browser.get("/static/css/app.css").await;
    assert_eq!(seen.header("cache-control"), Some("no-cache"));
    let again = app
        .http
        .get(app.url("/static/css/app.css"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let missing = browser.get("/static/css/nope.css").await;
    missing.expect(404);
    assert_eq!(
        missing.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    browser.get("/static/../Cargo.toml").await.expect(404);
}
