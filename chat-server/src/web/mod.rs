//! The browser web UI: server-rendered pages on the same route table as the API
//! (`Front::Page` rows; a signed-out visit is sent to the login page, any other refusal is
//! an error page in the site's look), with a session cookie, a CSRF token in every form and
//! script request, and a Content-Security-Policy that allows no inline script or style.
//!
//! - `templates` — the minijinja environment, built once from the embedded templates
//!   (`templates/*.html`); `page` — the shared page context, the HTML response and its
//!   headers, redirects, `?next=`; `view` — people, chats and messages as pages show them;
//!   `i18n` — the one catalog of UI strings (Russian by default, English when the browser
//!   prefers it), with the core's messages translated; `errors` — the 403/404/500 pages.
//! - `accounts` (sign up, log in, log out), `chats` (home, chat list, room, leave),
//!   `admin` (users, chats, members): thin handlers over `ctx.services()`.
//! - `assets` — the embedded stylesheet, scripts, font and icon behind `/static/{*path}`
//!   (the cookies are `http::cookies`, shared with the REST API's logout).
//! - `unread` — where the read markers plug in (the chat list's badge; the room's
//!   `markSeen` in `static/js/room.js`).
//!
//! The room's live part is `static/js/room.js` on the browser WebSocket `/ws/chat/{id}/`:
//! it appends events, sends with `client_id` and waits for the `ack`, and reconnects with
//! `after_seq` after a drop or a restart, so nothing is lost or shown twice.

pub mod accounts;
pub mod admin;
pub mod assets;
pub mod chats;
pub mod errors;
pub mod i18n;
pub mod page;
pub mod templates;
pub mod unread;
pub mod view;
