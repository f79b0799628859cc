//! What the templates show, built from chatcore's types: people, chats and messages with
//! their display names, initials and avatar colours, times as `<time datetime>` values (the
//! browser shows them in the viewer's own time zone; the UTC label is for pages read without
//! scripts). No rule is decided here: who may see what was decided by the service that
//! returned the data.

use super::unread;
use chatcore::Actor;
use chatcore::model::{Chat, Message, User, UserDetail, timestamp};
use serde::Serialize;
use time::OffsetDateTime;

/// How many avatar colours the stylesheet has (`.hue-0` … `.hue-7`).
const HUES: i64 = 8;

/// A person as pages show them.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    /// The account's id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Full name, or the username when the account has none.
    pub name: String,
    /// One or two letters for the avatar.
    pub initials: String,
    /// Avatar colour, `0..8`.
    pub hue: i64,
    /// E-mail address (empty where the viewer may not see it).
    pub email: String,
    /// Whether the account is an administrator (known for the viewer and in admin lists).
    pub is_admin: bool,
    /// Whether the account may log in.
    pub is_active: bool,
    /// Whether this is the viewer.
    pub is_me: bool,
}

impl Person {
    /// A user as the core showed them to the viewer.
    pub fn of(user: &User, viewer: Option<&Actor>) -> Self {
        Self {
            id: user.id.0,
            username: user.username.clone(),
            name: display_name(user),
            initials: initials(&user.first_name, &user.last_name, &user.username),
            hue: user.id.0.rem_euclid(HUES),
            email: user.email.clone(),
            is_admin: false,
            is_active: true,
            is_me: viewer.is_some_and(|v| v.id() == user.id),
        }
    }

    /// The signed-in user, with their admin flag.
    pub fn viewer(actor: &Actor) -> Self {
        Self {
            is_admin: actor.is_admin(),
            ..Self::of(actor.user(), Some(actor))
        }
    }

    /// An account with its flags (admin lists).
    pub fn detail(detail: &UserDetail, viewer: &Actor) -> Self {
        Self {
            is_admin: detail.is_superuser,
            is_active: detail.is_active,
            ..Self::of(&detail.user, Some(viewer))
        }
    }
}

/// "First Last", or the username when both are empty.
pub fn display_name(user: &User) -> String {
    let full = format!("{} {}", user.first_name.trim(), user.last_name.trim());
    let full = full.trim();
    if full.is_empty() {
        user.username.clone()
    } else {
        full.to_owned()
    }
}

/// The first letters of the given and family names, or of the name alone.
fn initials(first: &str, last: &str, fallback: &str) -> String {
    let letter = |s: &str| s.trim().chars().find(|c| c.is_alphanumeric());
    let letters: String = match (letter(first), letter(last)) {
        (Some(a), Some(b)) => [a, b].iter().collect(),
        (Some(a), None) | (None, Some(a)) => a.to_string(),
        (None, None) => fallback
            .split(|c: char| !c.is_alphanumeric())
            .filter_map(letter)
            .take(2)
            .collect(),
    };
    let letters = if letters.is_empty() {
        "?".to_owned()
    } else {
        letters
    };
    letters.to_uppercase()
}

/// A chat as lists and headers show it.
#[derive(Debug, Clone, Serialize)]
pub struct ChatView {
    /// The chat's id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Letters for its avatar.
    pub initials: String,
    /// Avatar colour.
    pub hue: i64,
    /// How many members it has.
    pub member_count: usize,
    /// Whether the viewer is one of them (an admin may look at any chat).
    pub is_member: bool,
    /// When it was created (`<time datetime>`).
    pub created_at: String,
    /// Its creation date, UTC.
    pub created_label: String,
    /// The newest message's time (`<time datetime>`), if any.
    pub last_time: Option<String>,
    /// The newest message's time, UTC, for pages read without scripts.
    pub last_time_label: Option<String>,
    /// The newest message's author.
    pub last_author: Option<String>,
    /// The start of the newest message, on one line.
    pub last_text: Option<String>,
    /// Unread messages for the viewer, when the server knows them ([`unread::count`]).
    pub unread: Option<i64>,
    /// `seq` of the newest message.
    pub last_seq: i64,
}

impl ChatView {
    /// A chat as the viewer sees it.
    pub fn of(chat: &Chat, viewer: &Actor) -> Self {
        let last = chat.last_message.as_ref();
        Self {
            id: chat.id.0,
            name: chat.name.clone(),
            initials: initials(&chat.name, "", &chat.name)
                .chars()
                .take(1)
                .collect(),
            hue: chat.id.0.rem_euclid(HUES),
            member_count: chat.participants.len(),
            is_member: chat.participants.iter().any(|p| p.id == viewer.id()),
            created_at: timestamp::format(&chat.created_at),
            created_label: date_label(chat.created_at),
            last_time: last.map(|m| timestamp::format(&m.timestamp)),
            last_time_label: last.map(|m| time_label(m.timestamp)),
            last_author: last.map(|m| display_name(&m.user)),
            last_text: last.map(|m| preview(&m.content)),
            unread: unread::count(chat, viewer),
            last_seq: chat.last_seq,
        }
    }

    /// When the chat was last active: its newest message, else its creation.
    pub fn activity(chat: &Chat) -> OffsetDateTime {
        chat.last_message
            .as_ref()
            .map_or(chat.created_at, |m| m.timestamp)
    }
}

/// A message as the room shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    /// Its place in the chat.
    pub seq: i64,
    /// The author's id.
    pub user_id: i64,
    /// The author's name.
    pub author: String,
    /// The author's initials.
    pub initials: String,
    /// The author's avatar colour.
    pub hue: i64,
    /// The text, shown as text (autoescaped, whitespace kept by the stylesheet).
    pub content: String,
    /// When it was stored (`<time datetime>`).
    pub timestamp: String,
    /// Its time of day, UTC, for pages read without scripts.
    pub time_label: String,
    /// Whether the viewer wrote it.
    pub own: bool,
    /// Whether it continues the previous message's run (same author, within five minutes):
    /// the room then leaves out the repeated name and avatar.
    pub cont: bool,
}

/// Messages, oldest first, as the room shows them.
pub fn messages(list: &[Message], viewer: &Actor) -> Vec<MessageView> {
    let mut out: Vec<MessageView> = Vec::with_capacity(list.len());
    let mut previous: Option<&Message> = None;
    for m in list {
        let cont = previous.is_some_and(|p| {
            p.user.id == m.user.id && (m.timestamp - p.timestamp) < time::Duration::minutes(5)
        });
        let person = Person::of(&m.user, Some(viewer));
        out.push(MessageView {
            seq: m.seq,
            user_id: m.user.id.0,
            author: person.name,
            initials: person.initials,
            hue: person.hue,
            content: m.content.clone(),
            timestamp: timestamp::format(&m.timestamp),
            time_label: time_label(m.timestamp),
            own: m.user.id == viewer.id(),
            cont,
        });
        previous = Some(m);
    }
    out
}

/// `HH:MM`, UTC.
pub fn time_label(t: OffsetDateTime) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// `YYYY-MM-DD`, UTC.
pub fn date_label(t: OffsetDateTime) -> String {
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// The first line of a message, at most 80 characters.
fn preview(content: &str) -> String {
    let line = content.lines().next().unwrap_or_default().trim();
    let mut out: String = line.chars().take(80).collect();
    if line.chars().count() > 80 || content.trim().lines().nth(1).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_come_from_names_or_the_username() {
        assert_eq!(initials("Анна", "Петрова", "anna"), "АП");
        assert_eq!(initials("", "", "ivan.petrov"), "IP");
        assert_eq!(initials("", "", "bob"), "B");
        assert_eq!(initials("", "", "__"), "?");
        assert_eq!(initials("  zoë", "", "z"), "Z");
    }

    #[test]
    fn a_preview_is_one_short_line() {
        assert_eq!(preview("hi"), "hi");
        assert_eq!(preview("one\ntwo"), "one…");
        assert_eq!(preview(&"x".repeat(100)).chars().count(), 81);
    }
}
