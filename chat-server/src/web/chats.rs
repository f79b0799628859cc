//! The member's pages: home, the chat list, the room (history, live socket, composer),
//! posting without scripts, and leaving. Each handler calls the services and shows what
//! they answer; membership, visibility and validation are chatcore's.

use super::i18n::{self, Lang};
use super::page::{Page, optional_auth, see_other};
use super::view::{ChatView, messages};
use crate::http::ctx::Ctx;
use crate::http::query::QueryInt;
use crate::http::{ApiError, Body};
use chatcore::model::{ChatId, NewMessage, PageRequest};
use chatcore::{Actor, Error};
use http::{Response, StatusCode};
use minijinja::context;
use minijinja::value::Serde;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Messages per page of the room's history.
pub const HISTORY_PAGE: u32 = 50;

/// The longest message the composer lets through before asking the server (DESIGN.md's
/// limit; the server's own check stays the authority).
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// The catalog keys the room's script needs, handed to it as JSON.
const ROOM_STRINGS: &[&str] = &[
    "conn_connecting",
    "conn_online",
    "conn_reconnecting",
    "conn_offline",
    "conn_closed",
    "room_sending",
    "room_queued",
    "room_loading",
    "room_load_older",
    "err_blank",
    "err_too_long",
    "err_rate_limited",
    "err_forbidden",
    "err_send_failed",
    "err_load_failed",
    "banner_left",
    "banner_removed",
    "banner_deleted",
    "banner_deactivated",
    "banner_signed_out",
    "banner_no_access",
];

/// `GET /`: who you are and where to go; for a visitor, what this is.
pub async fn home(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let auth = optional_auth(&ctx).await;
    let actor = auth.as_ref().map(|a| &a.actor);
    let chat_count = match actor {
        Some(actor) => ctx.services().membership.list_chats(actor).await?.len(),
        None => 0,
    };
    Page::with_actor(&ctx, actor).render(
        StatusCode::OK,
        "home.html",
        context! { chat_count => chat_count },
    )
}

/// `GET /chats/`: the viewer's chats, most recently active first.
pub async fn list(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let actor = ctx.actor()?;
    let mut chats = ctx.services().membership.list_chats(actor).await?;
    chats.sort_by(|a, b| {
        ChatView::activity(b)
            .cmp(&ChatView::activity(a))
            .then(b.id.0.cmp(&a.id.0))
    });
    let chats: Vec<ChatView> = chats.iter().map(|c| ChatView::of(c, actor)).collect();
    Page::new(&ctx).nav("chats").render(
        StatusCode::OK,
        "chats.html",
        context! { chats => Serde(&chats) },
    )
}

/// The room's query: an older page to show instead of the latest one.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RoomQuery {
    before_seq: Option<QueryInt>,
}

/// `GET /chats/{id}/`: the room.
pub async fn room(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    room_page(&ctx, StatusCode::OK, "", None).await
}

/// The room with the composer holding `draft` and showing `composer_error`.
async fn room_page(
    ctx: &Ctx,
    status: StatusCode,
    draft: &str,
    composer_error: Option<String>,
) -> Result<Response<Body>, ApiError> {
    let actor = ctx.actor()?;
    let id: ChatId = ctx.id("id")?;
    let query: RoomQuery = ctx.query()?;
    let before = query.before_seq.map(|q| q.0);
    let chat = ctx.services().membership.get_chat(actor, id).await?;
    let page = PageRequest::new(before, None, Some(HISTORY_PAGE))?;
    let history = ctx.services().messaging.history(actor, id, page).await?;
    let first_seq = history.first().map_or(0, |m| m.seq);
    let last_seq = history.last().map_or(0, |m| m.seq);
    let view = ChatView::of(&chat, actor);
    let page = Page::new(ctx).nav("chats");
    page.render(
        status,
        "room.html",
        context! {
            chat => Serde(&view),
            messages => Serde(messages(&history, actor)),
            first_seq => first_seq,
            last_seq => last_seq,
            has_older => first_seq > 1,
            live => before.is_none(),
            is_member => view.is_member,
            draft => draft,
            composer_error => composer_error,
            client_id => chatcore::auth::random_hex(8),
            strings => Serde(room_strings(page.lang())),
        },
    )
}

/// The strings the room's script shows, plus what it needs to know to check a draft.
fn room_strings(lang: Lang) -> BTreeMap<&'static str, String> {
    let mut strings: BTreeMap<&'static str, String> = ROOM_STRINGS
        .iter()
        .map(|key| (*key, i18n::tr(lang, key, &[])))
        .collect();
    strings.insert("lang", lang.code().to_owned());
    strings.insert("max_chars", MAX_MESSAGE_CHARS.to_string());
    strings
}

/// The composer's form (the room without scripts).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PostForm {
    content: String,
    client_id: Option<String>,
}

/// `POST /chats/{id}/messages/`: posts from the room's form when scripts do not run (a
/// repeated submit carries the same `client_id`, so it is stored once). A refused message
/// comes back in the composer with the reason.
pub async fn post_message(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let actor = ctx.actor()?;
    let id: ChatId = ctx.id("id")?;
    let form: PostForm = ctx.body()?;
    let message = NewMessage {
        content: form.content.clone(),
        client_id: form.client_id.clone(),
    };
    match ctx.services().messaging.post(actor, id, message).await {
        Ok(posted) => Ok(see_other(&format!(
            "/chats/{}/#m{}",
            id.0, posted.message.seq
        ))),
        Err(e @ (Error::Invalid { .. } | Error::RateLimited { .. })) => {
            let status = ApiError::from(e.clone()).status();
            let text = composer_error(Page::new(&ctx).lang(), &e);
            room_page(&ctx, status, &form.content, Some(text)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A refused message, as the composer says it.
fn composer_error(lang: Lang, error: &Error) -> String {
    match error {
        Error::RateLimited { .. } => i18n::tr(lang, "err_rate_limited", &[]),
        Error::Invalid { reason, .. } if reason.contains("blank") => {
            i18n::tr(lang, "err_blank", &[])
        }
        other => i18n::tr(
            lang,
            "err_send_failed",
            &[("reason", &i18n::error_text(lang, other))],
        ),
    }
}

/// `GET /chats/{id}/leave/`: are you sure?
pub async fn leave_page(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let actor = ctx.actor()?;
    let id: ChatId = ctx.id("id")?;
    let chat = ctx.services().membership.get_chat(actor, id).await?;
    Page::new(&ctx).nav("chats").render(
        StatusCode::OK,
        "leave.html",
        context! { chat => Serde(ChatView::of(&chat, actor)) },
    )
}

/// `POST /chats/{id}/leave/`: leaves, back to the list.
pub async fn leave(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let actor: &Actor = ctx.actor()?;
    let id: ChatId = ctx.id("id")?;
    ctx.services().membership.leave(actor, id).await?;
    Ok(see_other("/chats/?notice=left"))
}
