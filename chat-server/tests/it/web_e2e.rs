//! The web UI end to end in headless Chromium (Debian's `chromium` and `chromium-driver`,
//! which `.ci/run` installs), driven over WebDriver with fantoccini: an admin creates a chat
//! and adds two users through the admin pages; two browsers (one Russian, one English) open
//! the room and talk live; a reload shows the history; the server restarts under them and
//! the pages reconnect and catch up (a message typed during the outage is sent once); the
//! XSS message shows as text; errors show in the composer with the draft kept; at 390 px
//! nothing overflows; one leaves. Screenshots go to `target/e2e/`.
//!
//! Without the browser the test says so and passes, except under CI (`CI` set), where a
//! missing browser is a failure.

use chat_server::Settings;
use chatcore::model::{NewMessage, Registration};
use chatcore::{ChatCore, ClientInfo, Config, Services};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PASSWORD: &str = "correct horse battery staple";
/// How long any one thing may take to show up in a page.
const PATIENCE: Duration = Duration::from_secs(20);

/// A server on a SQLite file that outlives it, so it can be stopped and started again on
/// the same port.
struct Server {
    core: ChatCore,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(database: &str, address: SocketAddr) -> Self {
        let core = ChatCore::open(database, Config::for_tests())
            .await
            .expect("the database opens");
        let mut listener = None;
        for _ in 0..50 {
            match TcpListener::bind(address).await {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let listener = listener.expect("the port can be bound again");
        let shutdown = CancellationToken::new();
        let services = core.services();
        let token = shutdown.clone();
        let task = tokio::spawn(async move {
            chat_server::serve(listener, services, Settings::default(), token)
                .await
                .expect("the server runs");
        });
        Self {
            core,
            shutdown,
            task,
        }
    }

    fn services(&self) -> Services {
        self.core.services()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("the server stops cleanly");
        self.core.shutdown().await;
    }
}

/// Where screenshots go: `target/e2e/`.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("e2e");
    std::fs::create_dir_all(&dir).expect("the screenshot directory can be made");
    dir
}

/// Chromedriver on a free port, killed when dropped.
async fn chromedriver() -> (tokio::process::Child, String) {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().expect("an address").port()
    };
    let child = tokio::process::Command::new(CHROMEDRIVER)
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(started.elapsed() < PATIENCE, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, format!("http://127.0.0.1:{port}"))
}

/// A fresh headless Chromium preferring `languages` (`ru-RU,ru` or `en-US,en`).
async fn browser(driver: &str, profile: &Path, languages: &str) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                "--window-size=1280,860",
                format!("--lang={}", languages.split(',').next().unwrap_or("ru")),
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": { "intl.accept_languages": languages },
        }),
    );
    ClientBuilder::rustls()
        .expect("the WebDriver client builds")
        .capabilities(caps)
        .connect(driver)
        .await
        .expect("a browser session starts")
}

/// Runs `script` (a function body returning a value) in the page.
async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.expect("the script runs")
}

/// Waits until `script` returns `true` in the page.
async fn until(c: &Client, what: &str, script: &str) {
    let started = Instant::now();
    loop {
        if js(c, script).await == Value::Bool(true) {
            return;
        }
        assert!(started.elapsed() < PATIENCE, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reloads the page until `script` returns `true` in it (for what a page shows only when
/// it is rendered, like the chat list's badges).
async fn reload_until(c: &Client, what: &str, script: &str) {
    let started = Instant::now();
    loop {
        c.refresh().await.expect("the page reloads");
        if js(c, script).await == Value::Bool(true) {
            return;
        }
        assert!(started.elapsed() < PATIENCE, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The number on the first chat's unread badge in the chat list (0 without a badge).
async fn unread_badge(c: &Client) -> i64 {
    let text = js(
        c,
        "const badge = document.querySelector('.chat-item .unread-badge');
         return badge ? badge.textContent.trim() : '0';",
    )
    .await;
    text.as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("the badge holds a number: {text}"))
}

/// Waits until the page at `path` (a path prefix) is loaded.
async fn until_at(c: &Client, path: &str) {
    let started = Instant::now();
    loop {
        let url = c.current_url().await.expect("the browser has a URL");
        let ready = js(c, "return document.readyState === 'complete';").await;
        if url.path().starts_with(path) && ready == Value::Bool(true) {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "never reached {path}; at {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).expect("it can be saved");
}

async fn fill(c: &Client, css: &str, text: &str) {
    let field = c.find(Locator::Css(css)).await.expect("the field exists");
    field.clear().await.expect("the field clears");
    field.send_keys(text).await.expect("typing works");
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} exists: {e}"))
        .click()
        .await
        .expect("clicking works");
}

async fn log_in(c: &Client, base: &str, username: &str) {
    c.goto(&format!("{base}/accounts/login/"))
        .await
        .expect("the login page loads");
    fill(c, "#f-username", username).await;
    fill(c, "#f-password", PASSWORD).await;
    click(c, "form.form button[type=submit]").await;
    until_at(c, "/chats/").await;
}

/// Types into the composer and presses Enter.
async fn say(c: &Client, text: &str) {
    let composer = c
        .find(Locator::Css("#composer-input"))
        .await
        .expect("the composer exists");
    composer.send_keys(text).await.expect("typing works");
    composer
        .send_keys(&fantoccini::key::Key::Enter.to_string())
        .await
        .expect("Enter works");
}

/// The texts of the messages shown, in order, and whether each seq is shown once.
async fn shown(c: &Client) -> Vec<String> {
    let value = js(
        c,
        "const items = [...document.querySelectorAll('#messages .msg')];
         const seqs = items.map(li => li.dataset.seq);
         if (new Set(seqs).size !== seqs.length) return null;
         return items.map(li => li.querySelector('.msg-text').textContent);",
    )
    .await;
    serde_json::from_value(value).expect("every message is shown once")
}

/// Whether the page is wider than the window (something overflows sideways).
async fn overflows(c: &Client) -> bool {
    js(
        c,
        "return document.documentElement.scrollWidth > document.documentElement.clientWidth;",
    )
    .await
        == Value::Bool(true)
}

#[tokio::test]
async fn two_people_talk_live_through_a_restart_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs chromium and chromium-driver (.ci/run); they are missing"
        );
        eprintln!("web_e2e: skipped, {CHROMIUM} or {CHROMEDRIVER} is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    let database = format!("sqlite://{}", dir.path().join("chat.db").display());
    let address: SocketAddr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().expect("an address")
    };
    let base = format!("http://{address}");
    let server = Server::start(&database, address).await;
    let services = server.services();
    services
        .auth
        .create_superuser(Registration {
            username: "root".into(),
            password: PASSWORD.into(),
            first_name: "Ада".into(),
            last_name: "Лавлейс".into(),
            ..Registration::default()
        })
        .await
        .expect("the admin is created");
    for (username, first, last) in [("anna", "Анна", "Иванова"), ("bob", "Bob", "Stone")]
    {
        services
            .auth
            .register(Registration {
                username: username.into(),
                password: PASSWORD.into(),
                first_name: first.into(),
                last_name: last.into(),
                ..Registration::default()
            })
            .await
            .expect("the user registers");
    }

    let (_driver, driver_url) = chromedriver().await;
    let (profile_a, profile_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = browser(&driver_url, profile_a.path(), "ru-RU,ru").await;
    let b = browser(&driver_url, profile_b.path(), "en-US,en").await;

    // The admin creates a chat and adds two people through the admin pages.
    a.goto(&format!("{base}/")).await.unwrap();
    screenshot(&a, "home_visitor").await;
    a.goto(&format!("{base}/accounts/login/")).await.unwrap();
    screenshot(&a, "login").await;
    log_in(&a, &base, "root").await;
    a.goto(&format!("{base}/admin/chats/")).await.unwrap();
    fill(&a, "#f-name", "Запуск продукта").await;
    click(&a, "form[action='/admin/chats/'] button[type=submit]").await;
    until_at(&a, "/admin/chats/").await;
    until(
        &a,
        "the new chat's page",
        "return !!document.querySelector('#members-title');",
    )
    .await;
    for username in ["anna", "bob"] {
        fill(&a, "#f-username", username).await;
        click(&a, "form[action$='/members/'] button[type=submit]").await;
        until(
            &a,
            "the member is listed",
            &format!("return document.body.textContent.includes('@{username}');"),
        )
        .await;
    }
    let room_path = js(
        &a,
        "return document.querySelector('.page-head a[href^=\"/chats/\"]').getAttribute('href');",
    )
    .await
    .as_str()
    .expect("the page links the chat")
    .to_owned();
    screenshot(&a, "admin_chat").await;
    a.goto(&format!("{base}/admin/users/")).await.unwrap();
    screenshot(&a, "admin_users").await;
    a.goto(&format!("{base}/admin/chats/")).await.unwrap();
    screenshot(&a, "admin_chats").await;

    // The admin logs out; Anna (Russian) and Bob (English) log in and open the room.
    click(&a, "form[action='/accounts/logout/'] button").await;
    until_at(&a, "/accounts/login/").await;
    log_in(&a, &base, "anna").await;
    log_in(&b, &base, "bob").await;
    let room = format!("{base}{room_path}");
    for c in [&a, &b] {
        c.goto(&room).await.unwrap();
        until(
            c,
            "the socket is open",
            "return document.getElementById('conn').dataset.state === 'online';",
        )
        .await;
    }

    // Messages appear live in the other window.
    say(&a, "Привет, Боб!").await;
    until(
        &b,
        "Anna's message in Bob's window",
        "return document.body.textContent.includes('Привет, Боб!');",
    )
    .await;
    let composer = b.find(Locator::Css("#composer-input")).await.unwrap();
    // Shift+Enter is a new line; Enter sends.
    composer
        .send_keys("Hi Anna!\u{e008}\u{e007}\u{e000}Two lines.\u{e007}")
        .await
        .unwrap();
    until(&a, "Bob's two-line message", "return [...document.querySelectorAll('.msg-text')].some(p => p.textContent === 'Hi Anna!\\nTwo lines.');").await;
    assert_eq!(
        js(
            &b,
            "return document.getElementById('composer-input').value;"
        )
        .await,
        json!(""),
        "the composer is cleared once the message is stored"
    );

    // The XSS message is text on both sides, and nothing ran.
    const XSS: &str = "<img src=x onerror=alert(1)>";
    say(&a, XSS).await;
    until(&b, "the XSS message", "return [...document.querySelectorAll('.msg-text')].some(p => p.textContent === '<img src=x onerror=alert(1)>');").await;
    assert_eq!(
        js(
            &b,
            "return document.querySelectorAll('#messages img').length;"
        )
        .await,
        json!(0)
    );
    assert!(b.get_alert_text().await.is_err(), "no alert ran");

    // A blank message and a too long one are refused in place; the draft stays.
    let input = a.find(Locator::Css("#composer-input")).await.unwrap();
    input.send_keys("   \u{e007}").await.unwrap();
    until(
        &a,
        "the blank error",
        "return !document.getElementById('composer-error').hidden;",
    )
    .await;
    assert_eq!(
        js(
            &a,
            "return document.getElementById('composer-error').textContent;"
        )
        .await,
        json!("Сообщение пустое.")
    );
    js(&a, "const t = document.getElementById('composer-input'); t.value = 'я'.repeat(4100); t.dispatchEvent(new Event('input')); return true;").await;
    input.send_keys("\u{e007}").await.unwrap();
    until(
        &a,
        "the length error",
        "return document.getElementById('composer-error').textContent.includes('4100');",
    )
    .await;
    assert_eq!(
        js(
            &a,
            "return document.getElementById('composer-input').value.length;"
        )
        .await,
        json!(4100),
        "the draft is kept"
    );
    js(&a, "const t = document.getElementById('composer-input'); t.value = ''; t.dispatchEvent(new Event('input')); return true;").await;
    screenshot(&b, "room_en").await;

    // A reload shows the history.
    b.refresh().await.unwrap();
    until(
        &b,
        "the history after a reload",
        "return document.querySelectorAll('#messages .msg').length === 3;",
    )
    .await;
    assert_eq!(
        shown(&b).await,
        vec!["Привет, Боб!", "Hi Anna!\nTwo lines.", XSS],
        "the history, in order, once each"
    );
    until(
        &b,
        "the socket after the reload",
        "return document.getElementById('conn').dataset.state === 'online';",
    )
    .await;

    // The server restarts: the pages show it, and catch up by themselves.
    server.stop().await;
    until(
        &a,
        "Anna's page notices",
        "return document.getElementById('conn').dataset.state !== 'online';",
    )
    .await;
    assert_eq!(
        js(&a, "return ['reconnecting', 'connecting', 'offline'].includes(document.getElementById('conn').dataset.state);").await,
        json!(true)
    );
    screenshot(&a, "room_reconnecting").await;
    say(&a, "Написано без связи").await;
    until(
        &a,
        "the queued notice",
        "return document.getElementById('composer-error').textContent.length > 0;",
    )
    .await;
    let server = Server::start(&database, address).await;
    let services = server.services();
    let bob = services
        .auth
        .create_session("bob", PASSWORD, &ClientInfo::default())
        .await
        .expect("bob can log in")
        .actor;
    let chat_id = room_path
        .trim_matches('/')
        .rsplit('/')
        .next()
        .and_then(|id| id.parse::<i64>().ok())
        .expect("the room's path ends in its id");
    services
        .messaging
        .post(
            &bob,
            chatcore::model::ChatId(chat_id),
            NewMessage {
                content: "После перезапуска".into(),
                client_id: None,
            },
        )
        .await
        .expect("bob posts after the restart");
    for c in [&a, &b] {
        until(
            c,
            "back online",
            "return document.getElementById('conn').dataset.state === 'online';",
        )
        .await;
        until(
            c,
            "caught up",
            "return document.querySelectorAll('#messages .msg').length === 5;",
        )
        .await;
    }
    let expected = vec![
        "Привет, Боб!",
        "Hi Anna!\nTwo lines.",
        XSS,
        "Написано без связи",
        "После перезапуска",
    ];
    // The order of the last two depends on which was stored first; each is there once.
    for c in [&a, &b] {
        let mut got = shown(c).await;
        got[3..].sort();
        let mut want = expected.clone();
        want[3..].sort();
        assert_eq!(got, want, "nothing lost, nothing doubled");
    }
    assert_eq!(
        js(
            &a,
            "return document.getElementById('composer-input').value;"
        )
        .await,
        json!(""),
        "the queued message was sent"
    );
    screenshot(&a, "room_ru").await;

    // The chat list.
    a.goto(&format!("{base}/chats/")).await.unwrap();
    until_at(&a, "/chats/").await;
    screenshot(&a, "chats").await;

    // Bob writes while Anna is on her chat list: it shows the unread badge, which is gone
    // once she has opened the room and seen the messages.
    // (Whether Anna's room had marked the earlier messages read before she left it is a
    // race, so the badge must count at least Bob's two new ones.)
    say(&b, "Anna, are you there?").await;
    say(&b, "Ping.").await;
    reload_until(
        &a,
        "Bob's two messages counted in Anna's list",
        "const item = document.querySelector('.chat-item');
         const badge = document.querySelector('.chat-item .unread-badge');
         return badge !== null && Number(badge.textContent.trim()) >= 2
             && item.textContent.includes('Ping.');",
    )
    .await;
    assert!(unread_badge(&a).await >= 2);
    assert_eq!(
        js(
            &a,
            "return document.querySelectorAll('.chat-item-unread').length;"
        )
        .await,
        json!(1),
        "the chat is marked unread"
    );
    screenshot(&a, "chats_unread").await;
    a.goto(&room).await.unwrap();
    until(
        &a,
        "Bob's ping in Anna's room",
        "return [...document.querySelectorAll('.msg-text')].some(p => p.textContent === 'Ping.');",
    )
    .await;
    a.goto(&format!("{base}/chats/")).await.unwrap();
    until_at(&a, "/chats/").await;
    reload_until(
        &a,
        "the badge is gone once Anna saw the room",
        "return document.querySelector('.unread-badge') === null;",
    )
    .await;

    // At phone width nothing overflows.
    for c in [&a, &b] {
        c.set_window_size(390, 844).await.unwrap();
    }
    for (path, name) in [
        (room.clone(), "room_390"),
        (format!("{base}/chats/"), "chats_390"),
        (format!("{base}/"), "home_390"),
    ] {
        a.goto(&path).await.unwrap();
        until(&a, "the page", "return document.readyState === 'complete';").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!overflows(&a).await, "{path} overflows at 390 px");
        screenshot(&a, name).await;
    }
    log_out_and_in_as_admin(&a, &base).await;
    for (path, name) in [
        (format!("{base}/admin/users/"), "admin_users_390"),
        (
            format!(
                "{base}{}",
                room_path.replacen("/chats/", "/admin/chats/", 1)
            ),
            "admin_chat_390",
        ),
        (format!("{base}/admin/chats/"), "admin_chats_390"),
        (format!("{base}/nowhere/"), "not_found_390"),
    ] {
        a.goto(&path).await.unwrap();
        until(&a, "the page", "return document.readyState === 'complete';").await;
        assert!(!overflows(&a).await, "{path} overflows at 390 px");
        screenshot(&a, name).await;
    }

    // Bob leaves, after confirming.
    b.goto(&room).await.unwrap();
    until(
        &b,
        "the room",
        "return !!document.getElementById('leave-link');",
    )
    .await;
    assert!(!overflows(&b).await, "the English room overflows at 390 px");
    click(&b, "#leave-link").await;
    until_at(&b, &format!("{room_path}leave/")).await;
    screenshot(&b, "leave_390").await;
    click(&b, "form[action$='/leave/'] button[type=submit]").await;
    until_at(&b, "/chats/").await;
    until(
        &b,
        "the notice",
        "return document.body.textContent.includes('You left the chat.');",
    )
    .await;
    assert_eq!(
        js(&b, "return document.querySelectorAll('.chat-item').length;").await,
        json!(0)
    );

    a.close().await.unwrap();
    b.close().await.unwrap();
    server.stop().await;
}

async fn log_out_and_in_as_admin(c: &Client, base: &str) {
    c.goto(&format!("{base}/")).await.unwrap();
    click(c, "form[action='/accounts/logout/'] button").await;
    until_at(c, "/accounts/login/").await;
    log_in(c, base, "root").await;
}
