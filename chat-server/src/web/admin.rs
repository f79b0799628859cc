//! The admin pages: users (search, make or remove admin, deactivate, reactivate), chats
//! (create, rename, delete) and a chat's members (add by username with suggestions,
//! remove). Only admins see them ([`require_admin`]); every action is still the core's
//! to allow or refuse, and a refusal (the last admin, an inactive user) is shown in place.

use super::i18n;
use super::page::{Page, require_admin, see_other};
use super::view::{ChatView, Person};
use crate::http::ctx::Ctx;
use crate::http::query::QueryInt;
use crate::http::{ApiError, Body};
use chatcore::model::{ChatId, NewChat, UserDetail, UserFlagsUpdate, UserId};
use chatcore::{Actor, Error};
use http::{Response, StatusCode};
use minijinja::context;
use minijinja::value::Serde;
use serde::Deserialize;

/// Users per page of the users list.
const USERS_PAGE: u32 = 50;
/// The largest page the core lists (`PageLimit`): the dashboard counts up to it, and
/// looking a username up walks pages of it.
const LARGEST_PAGE: u32 = 200;
/// Suggestions offered without scripts under the add-member field.
const SUGGESTIONS: usize = 50;

/// `GET /admin/`: the overview.
pub async fn index(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let actor = require_admin(&ctx)?;
    let services = ctx.services();
    let users = services.auth.list_users(actor, "", LARGEST_PAGE, 0).await?;
    let chats = services.membership.list_chats(actor).await?;
    let page = Page::new(&ctx).nav("admin");
    let users_label = if users.len() >= LARGEST_PAGE as usize {
        page.tr("users_count_more", &[("n", &LARGEST_PAGE.to_string())])
    } else {
        i18n::plural(page.lang(), "users_count", users.len() as i64)
    };
    page.render(
        StatusCode::OK,
        "admin/index.html",
        context! { section => "overview", users_label => users_label, chat_count => chats.len() },
    )
}

/// The users list's query.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UsersQuery {
    q: Option<String>,
    offset: Option<QueryInt>,
}

/// `GET /admin/users/?q=&offset=`: search.
pub async fn users(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    users_page(&ctx, StatusCode::OK, None).await
}

async fn users_page(
    ctx: &Ctx,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response<Body>, ApiError> {
    let actor = require_admin(ctx)?;
    let query: UsersQuery = ctx.query()?;
    let q = query.q.unwrap_or_default();
    let offset = match query.offset {
        None => 0,
        Some(QueryInt(n)) => u32::try_from(n)
            .map_err(|_| ApiError::invalid_parameter("offset", "must be 0 or more"))?,
    };
    // One more than a page tells whether there is a next one.
    let mut found = ctx
        .services()
        .auth
        .list_users(actor, &q, USERS_PAGE + 1, offset)
        .await?;
    let more = found.len() > USERS_PAGE as usize;
    found.truncate(USERS_PAGE as usize);
    let users: Vec<Person> = found.iter().map(|u| Person::detail(u, actor)).collect();
    Page::new(ctx).nav("admin").render(
        status,
        "admin/users.html",
        context! {
            section => "users",
            q => q,
            users => Serde(&users),
            error => error,
            prev_offset => (offset > 0).then(|| offset.saturating_sub(USERS_PAGE)),
            next_offset => more.then_some(offset + USERS_PAGE),
        },
    )
}

/// A change to an account.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UserAction {
    action: String,
    q: Option<String>,
}

/// `POST /admin/users/{id}/` `action=promote|demote|deactivate|activate`: back to the
/// list (with the search kept), or the list with the core's refusal.
pub async fn update_user(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let actor = require_admin(&ctx)?;
    let user: UserId = ctx.id("id")?;
    let form: UserAction = ctx.body()?;
    let (update, notice) = match form.action.as_str() {
        "promote" => (flags(None, Some(true)), "promoted"),
        "demote" => (flags(None, Some(false)), "demoted"),
        "deactivate" => (flags(Some(false), None), "deactivated"),
        "activate" => (flags(Some(true), None), "activated"),
        _ => return Err(ApiError::invalid_parameter("action", "unknown action")),
    };
    match ctx.services().auth.update_user(actor, user, update).await {
        Ok(_) => {
            let q = form.q.unwrap_or_default();
            let q = url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>();
            Ok(see_other(&format!(
                "/admin/users/?q={q}&notice={notice}#user-{}",
                user.0
            )))
        }
        Err(e @ Error::Conflict(_)) => {
            let status = ApiError::from(e.clone()).status();
            let text = Page::new(&ctx).error_text(&e);
            users_page(&ctx, status, Some(text)).await
        }
        Err(e) => Err(e.into()),
    }
}

fn flags(is_active: Option<bool>, is_superuser: Option<bool>) -> UserFlagsUpdate {
    UserFlagsUpdate {
        is_active,
        is_superuser,
    }
}

/// `GET /admin/chats/`: every chat, and the form to create one.
pub async fn chats(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    chats_page(&ctx, StatusCode::OK, "", None).await
}

async fn chats_page(
    ctx: &Ctx,
    status: StatusCode,
    name: &str,
    error: Option<String>,
) -> Result<Response<Body>, ApiError> {
    let actor = require_admin(ctx)?;
    let mut chats = ctx.services().membership.list_chats(actor).await?;
    chats.sort_by_key(|c| c.name.to_lowercase());
    let chats: Vec<ChatView> = chats.iter().map(|c| ChatView::of(c, actor)).collect();
    Page::new(ctx).nav("admin").render(
        status,
        "admin/chats.html",
        context! { section => "chats", chats => Serde(&chats), name => name, error => error },
    )
}

/// A chat's name, from the create and rename forms.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NameForm {
    name: String,
}

/// `POST /admin/chats/`: creates the chat and opens its page to add members.
pub async fn create_chat(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let actor = require_admin(&ctx)?;
    let form: NameForm = ctx.body()?;
    let new = NewChat {
        name: form.name.clone(),
        participants: Vec::new(),
    };
    match ctx.services().membership.create_chat(actor, new).await {
        Ok(chat) => Ok(see_other(&format!(
            "/admin/chats/{}/?notice=chat_created",
            chat.id.0
        ))),
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_))) => {
            let status = ApiError::from(e.clone()).status();
            let text = Page::new(&ctx).error_text(&e);
            chats_page(&ctx, status, &form.name, Some(text)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// What the chat page shows again after a refused form.
#[derive(Debug, Default)]
struct ChatForms {
    /// The rename field and its error.
    name: Option<(String, String)>,
    /// The add-member field and its error.
    member: Option<(String, String)>,
    /// A refusal of anything else (removing a member).
    error: Option<String>,
}

/// `GET /admin/chats/{id}/`: members, rename, delete.
pub async fn chat(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    chat_page(&ctx, StatusCode::OK, ChatForms::default()).await
}

async fn chat_page(
    ctx: &Ctx,
    status: StatusCode,
    forms: ChatForms,
) -> Result<Response<Body>, ApiError> {
    let actor = require_admin(ctx)?;
    let id: ChatId = ctx.id("id")?;
    let services = ctx.services();
    let chat = services.membership.get_chat(actor, id).await?;
    let members: Vec<Person> = chat
        .participants
        .iter()
        .map(|u| Person::of(u, Some(actor)))
        .collect();
    // Who could be added: active accounts not in the chat yet (scripts refine this as
    // the admin types, from `/api/users/?q=`).
    let suggestions: Vec<Person> = services
        .auth
        .list_users(actor, "", LARGEST_PAGE, 0)
        .await?
        .iter()
        .filter(|u| u.is_active && !chat.participants.iter().any(|p| p.id == u.user.id))
        .take(SUGGESTIONS)
        .map(|u| Person::detail(u, actor))
        .collect();
    let (name, name_error) = forms
        .name
        .map_or((chat.name.clone(), None), |(v, e)| (v, Some(e)));
    let (username, member_error) = forms
        .member
        .map_or((String::new(), None), |(v, e)| (v, Some(e)));
    Page::new(ctx).nav("admin").render(
        status,
        "admin/chat.html",
        context! {
            section => "chats",
            chat => Serde(ChatView::of(&chat, actor)),
            members => Serde(&members),
            suggestions => Serde(&suggestions),
            name => name,
            name_error => name_error,
            username => username,
            member_error => member_error,
            error => forms.error,
        },
    )
}

/// `POST /admin/chats/{id}/` `name=`: renames.
pub async fn rename_chat(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let actor = require_admin(&ctx)?;
    let id: ChatId = ctx.id("id")?;
    let form: NameForm = ctx.body()?;
    match ctx
        .services()
        .membership
        .rename_chat(actor, id, &form.name)
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/admin/chats/{}/?notice=chat_renamed",
            id.0
        ))),
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_))) => {
            let status = ApiError::from(e.clone()).status();
            let text = Page::new(&ctx).error_text(&e);
            let forms = ChatForms {
                name: Some((form.name, text)),
                ..ChatForms::default()
            };
            chat_page(&ctx, status, forms).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /admin/chats/{id}/delete/`: are you sure?
pub async fn delete_page(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let actor = require_admin(&ctx)?;
    let id: ChatId = ctx.id("id")?;
    let chat = ctx.services().membership.get_chat(actor, id).await?;
    Page::new(&ctx).nav("admin").render(
        StatusCode::OK,
        "admin/delete.html",
        context! { chat => Serde(ChatView::of(&chat, actor)) },
    )
}

/// `POST /admin/chats/{id}/delete/`: deletes the chat with its history.
pub async fn delete_chat(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let actor = require_admin(&ctx)?;
    let id: ChatId = ctx.id("id")?;
    ctx.services().membership.delete_chat(actor, id).await?;
    Ok(see_other("/admin/chats/?notice=chat_deleted"))
}

/// The add-member form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MemberForm {
    username: String,
}

/// `POST /admin/chats/{id}/members/` `username=`: adds the account of that name (as login
/// matches names: NFKC, ignoring case).
pub async fn add_member(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let actor = require_admin(&ctx)?;
    let id: ChatId = ctx.id("id")?;
    let form: MemberForm = ctx.body()?;
    let username = form.username.trim().trim_start_matches('@').to_owned();
    let page = Page::new(&ctx);
    let refused = |text: String| ChatForms {
        member: Some((form.username.clone(), text)),
        ..ChatForms::default()
    };
    let Some(user) = find_by_username(&ctx, actor, &username).await? else {
        let text = page.tr("admin_unknown_user", &[("username", &username)]);
        return chat_page(&ctx, StatusCode::NOT_FOUND, refused(text)).await;
    };
    match ctx
        .services()
        .membership
        .add_member(actor, id, user.user.id)
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/admin/chats/{}/?notice=member_added",
            id.0
        ))),
        Err(e @ Error::Conflict(_)) => {
            let status = ApiError::from(e.clone()).status();
            chat_page(&ctx, status, refused(page.error_text(&e))).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The account whose username is `username` (the same key login uses), walking the
/// core's search results a page at a time.
async fn find_by_username(
    ctx: &Ctx,
    actor: &Actor,
    username: &str,
) -> Result<Option<UserDetail>, ApiError> {
    if username.is_empty() {
        return Ok(None);
    }
    let key = chatcore::validate::username_key(username);
    let mut offset = 0;
    loop {
        let page = ctx
            .services()
            .auth
            .list_users(actor, username, LARGEST_PAGE, offset)
            .await?;
        if let Some(found) = page
            .iter()
            .find(|u| chatcore::validate::username_key(&u.user.username) == key)
        {
            return Ok(Some(found.clone()));
        }
        if page.len() < LARGEST_PAGE as usize {
            return Ok(None);
        }
        offset += LARGEST_PAGE;
    }
}

/// `POST /admin/chats/{id}/members/{uid}/remove/`: removes a member.
pub async fn remove_member(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let actor = require_admin(&ctx)?;
    let (id, user): (ChatId, UserId) = (ctx.id("id")?, ctx.id("uid")?);
    match ctx
        .services()
        .membership
        .remove_member(actor, id, user)
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/admin/chats/{}/?notice=member_removed",
            id.0
        ))),
        Err(e @ Error::NotFound("Member")) => {
            let status = ApiError::from(e.clone()).status();
            let forms = ChatForms {
                error: Some(Page::new(&ctx).error_text(&e)),
                ..ChatForms::default()
            };
            chat_page(&ctx, status, forms).await
        }
        Err(e) => Err(e.into()),
    }
}
