//! The web UI's languages and its one catalog of UI strings: Russian by default (as the
//! original), English when the browser's `Accept-Language` prefers it. Templates reach the
//! catalog through `t("key", name=…)` and `tn("key", n)` (plurals); the room's script gets
//! the strings it needs as JSON. Messages the core writes in English (validation reasons,
//! refusals) are translated here too ([`core_message`]), with the original text as the
//! fallback.

use chatcore::Error;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

/// A language of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// Russian, the default.
    Ru,
    /// English.
    En,
}

impl Lang {
    /// The language tag (`ru`, `en`), as in `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    /// The language with this tag, if the UI has it.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "ru" => Some(Lang::Ru),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language an `Accept-Language` header prefers among ours: the one with the
    /// highest quality (the earlier on a tie); Russian when it names neither.
    pub fn negotiate(accept_language: Option<&str>) -> Self {
        let mut best: Option<(f32, Lang)> = None;
        for item in accept_language.unwrap_or_default().split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if quality.is_nan() || quality <= 0.0 {
                continue;
            }
            let primary = tag.split('-').next().unwrap_or_default();
            let Some(lang) = Lang::from_code(primary) else {
                continue;
            };
            if best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, lang));
            }
        }
        best.map_or(Lang::Ru, |(_, lang)| lang)
    }

    /// The language of a request, from its headers.
    pub fn of(headers: &http::HeaderMap) -> Self {
        Lang::negotiate(
            headers
                .get(http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        )
    }
}

/// One entry of the catalog: a key and its text in each language. Plural entries hold
/// their forms separated by `|` (Russian: one, few, many; English: one, other); `{name}`
/// is a placeholder.
struct Entry {
    key: &'static str,
    ru: &'static str,
    en: &'static str,
}

macro_rules! catalog {
    ($($key:ident: $ru:literal, $en:literal;)*) => {
        /// Every UI string.
        static CATALOG: &[Entry] = &[$(Entry { key: stringify!($key), ru: $ru, en: $en },)*];
    };
}

catalog! {
    brand: "Беседа", "Beseda";
    skip_to_content: "К содержимому", "Skip to content";
    nav_main: "Основное меню", "Main menu";
    nav_home: "на главную", "home";
    nav_chats: "Чаты", "Chats";
    nav_admin: "Администрирование", "Administration";
    login: "Войти", "Log in";
    logout: "Выйти", "Log out";
    signup: "Регистрация", "Sign up";
    cancel: "Отмена", "Cancel";
    save: "Сохранить", "Save";
    search: "Найти", "Search";
    go_home: "На главную", "Go home";
    pager: "Страницы", "Pages";
    pager_prev: "← Назад", "← Previous";
    pager_next: "Дальше →", "Next →";

    home_title: "Главная", "Home";
    home_hello: "Здравствуйте, {name}!", "Hello, {name}!";
    home_signed_in_as: "Вы вошли как @{username}.", "You are signed in as @{username}.";
    home_admin_text: "Пользователи, чаты и участники", "Users, chats and members";
    home_pitch_title: "Рабочие разговоры — в одном месте", "Work conversations, in one place";
    home_pitch_text: "Беседа — закрытый мессенджер для команды: чаты создаёт администратор, а сообщения приходят мгновенно.", "Beseda is a closed messenger for your team: an administrator sets up the chats, and messages arrive instantly.";
    feature_live_title: "Мгновенно", "Live";
    feature_live_text: "Сообщения появляются у собеседников сразу, без перезагрузки страницы.", "Messages appear for everyone at once, without reloading the page.";
    feature_closed_title: "Только свои", "Private";
    feature_closed_text: "В чаты попадают только те, кого добавил администратор.", "Only the people an administrator adds can join a chat.";
    feature_history_title: "С историей", "With history";
    feature_history_text: "Вся переписка сохраняется — листайте назад сколько нужно.", "Every conversation is kept: scroll back as far as you need.";

    login_title: "Вход", "Log in";
    login_subtitle: "Войдите, чтобы продолжить разговор.", "Log in to get back to your conversations.";
    login_submit: "Войти", "Log in";
    login_no_account: "Нет учётной записи?", "No account yet?";
    login_invalid: "Неверное имя пользователя или пароль.", "Wrong username or password.";
    login_rate_limited_title: "Вход временно заблокирован.", "Logging in is paused.";
    login_rate_limited: "Слишком много неудачных попыток входа. Повторите через {wait}.", "Too many failed attempts to log in. Try again in {wait}.";
    login_missing: "Введите имя пользователя и пароль.", "Enter your username and password.";
    signup_title: "Регистрация", "Sign up";
    signup_subtitle: "Создайте учётную запись. В чаты вас добавит администратор.", "Create your account. An administrator will add you to chats.";
    signup_submit: "Создать учётную запись", "Create account";
    signup_have_account: "Уже есть учётная запись?", "Already have an account?";
    signup_closed: "Регистрация закрыта. Обратитесь к администратору.", "Registration is closed. Ask an administrator for an account.";
    field_username: "Имя пользователя", "Username";
    field_password: "Пароль", "Password";
    field_first_name: "Имя", "First name";
    field_last_name: "Фамилия", "Last name";
    field_email: "Эл. почта", "Email";
    field_chat_name: "Название чата", "Chat name";
    field_content: "Сообщение", "Message";
    hint_username: "Буквы, цифры и символы @ . + - _", "Letters, digits and @ . + - _";
    hint_email: "Необязательно.", "Optional.";
    hint_password: "Не меньше 8 символов, не только цифры.", "At least 8 characters, not only digits.";
    form_expired: "Форма устарела. Обновите страницу и попробуйте ещё раз.", "This form has expired. Reload the page and try again.";

    chats_title: "Мои чаты", "My chats";
    chats_manage: "Управление чатами", "Manage chats";
    chats_no_messages: "Сообщений пока нет", "No messages yet";
    chats_not_member: "вы не участник", "you are not a member";
    chats_empty_title: "Чатов пока нет", "No chats yet";
    chats_empty_text: "Когда администратор добавит вас в чат, он появится здесь.", "When an administrator adds you to a chat, it will show up here.";
    chats_empty_admin: "Создайте первый чат и добавьте в него коллег.", "Create the first chat and add your colleagues to it.";
    chats_count: "{n} чат|{n} чата|{n} чатов", "{n} chat|{n} chats";
    members_count: "{n} участник|{n} участника|{n} участников", "{n} member|{n} members";
    unread_count: "{n} непрочитанное|{n} непрочитанных|{n} непрочитанных", "{n} unread|{n} unread";
    users_count: "{n} пользователь|{n} пользователя|{n} пользователей", "{n} user|{n} users";
    users_count_more: "Больше {n} пользователей", "More than {n} users";

    room_back: "Назад к чатам", "Back to chats";
    room_leave: "Покинуть", "Leave";
    room_messages: "Сообщения", "Messages";
    room_load_older: "Показать более ранние", "Show earlier messages";
    room_back_to_latest: "К последним сообщениям", "Back to the latest messages";
    room_empty: "Сообщений пока нет. Напишите первым!", "No messages yet. Say hello!";
    room_message_label: "Сообщение", "Message";
    room_placeholder: "Напишите сообщение…", "Write a message…";
    room_send: "Отправить", "Send";
    room_hint: "Enter — отправить, Shift+Enter — новая строка", "Enter to send, Shift+Enter for a new line";
    room_readonly: "Вы просматриваете чат как администратор: писать в него могут только участники.", "You are viewing this chat as an administrator: only members can write here.";
    conn_connecting: "Подключение…", "Connecting…";
    conn_online: "В сети", "Online";
    conn_reconnecting: "Переподключение…", "Reconnecting…";
    conn_offline: "Нет связи", "Offline";
    conn_paused: "История", "History";
    conn_closed: "Отключено", "Disconnected";
    room_sending: "Отправка…", "Sending…";
    room_queued: "Нет связи: сообщение уйдёт после переподключения.", "Offline: the message will be sent once reconnected.";
    err_blank: "Сообщение пустое.", "The message is empty.";
    err_too_long: "Сообщение слишком длинное: {count} из {max} символов.", "The message is too long: {count} of {max} characters.";
    err_rate_limited: "Вы пишете слишком часто. Подождите немного и отправьте снова.", "You are sending too fast. Wait a moment and send again.";
    err_forbidden: "Вы не можете писать в этот чат.", "You cannot write in this chat.";
    err_send_failed: "Не удалось отправить: {reason}", "Could not send: {reason}";
    err_load_failed: "Не удалось загрузить сообщения. Попробуйте ещё раз.", "Could not load messages. Try again.";
    room_loading: "Загрузка…", "Loading…";
    banner_left: "Вы покинули этот чат.", "You left this chat.";
    banner_removed: "Вас удалили из этого чата.", "You were removed from this chat.";
    banner_deleted: "Этот чат удалён.", "This chat was deleted.";
    banner_deactivated: "Ваша учётная запись отключена.", "Your account was deactivated.";
    banner_signed_out: "Сеанс завершён. Войдите снова.", "Your session has ended. Please log in again.";
    banner_no_access: "Этот чат больше недоступен.", "This chat is no longer available.";

    leave_title: "Покинуть чат", "Leave the chat";
    leave_question: "Покинуть «{name}»?", "Leave “{name}”?";
    leave_text: "Чат исчезнет из вашего списка. Вернуть вас сможет только администратор.", "The chat will disappear from your list. Only an administrator can add you back.";
    leave_confirm: "Покинуть чат", "Leave the chat";

    admin_overview: "Обзор", "Overview";
    admin_users: "Пользователи", "Users";
    admin_chats: "Чаты", "Chats";
    admin_search_users: "Поиск пользователей", "Search users";
    admin_search_placeholder: "Имя, логин или почта", "Name, username or email";
    admin_promote: "Сделать администратором", "Make admin";
    admin_demote: "Снять права администратора", "Remove admin";
    admin_deactivate: "Отключить", "Deactivate";
    admin_activate: "Включить", "Reactivate";
    admin_no_users: "Никого не нашлось", "Nobody found";
    admin_create_chat: "Создать чат", "Create a chat";
    admin_create: "Создать", "Create";
    admin_manage: "Настроить", "Manage";
    admin_open: "Открыть чат", "Open chat";
    admin_no_chats: "Чатов пока нет", "No chats yet";
    admin_members: "Участники", "Members";
    admin_add_by_username: "Добавить по имени пользователя", "Add by username";
    admin_add: "Добавить", "Add";
    admin_remove: "Удалить", "Remove";
    admin_remove_member: "Удалить @{username} из чата", "Remove @{username} from the chat";
    admin_no_members: "В чате пока никого нет.", "Nobody is in this chat yet.";
    admin_rename: "Переименовать", "Rename";
    admin_delete_chat: "Удалить чат", "Delete the chat";
    admin_delete_text: "Чат и вся его история будут удалены безвозвратно.", "The chat and its whole history will be deleted for good.";
    admin_delete_question: "Удалить «{name}»?", "Delete “{name}”?";
    admin_delete_confirm: "Удалить навсегда", "Delete for good";
    admin_unknown_user: "Пользователь «{username}» не найден.", "There is no user “{username}”.";
    col_user: "Пользователь", "User";
    col_status: "Статус", "Status";
    col_actions: "Действия", "Actions";
    col_chat: "Чат", "Chat";
    col_members: "Участники", "Members";
    col_created: "Создан", "Created";
    badge_admin: "Администратор", "Admin";
    badge_active: "Активен", "Active";
    badge_inactive: "Отключён", "Deactivated";
    badge_you: "Это вы", "You";

    notice_left: "Вы покинули чат.", "You left the chat.";
    notice_promoted: "Пользователь стал администратором.", "The user is now an administrator.";
    notice_demoted: "Права администратора сняты.", "Admin rights were removed.";
    notice_deactivated: "Учётная запись отключена.", "The account was deactivated.";
    notice_activated: "Учётная запись снова включена.", "The account was reactivated.";
    notice_chat_created: "Чат создан. Добавьте участников.", "The chat is created. Now add members.";
    notice_chat_renamed: "Чат переименован.", "The chat was renamed.";
    notice_chat_deleted: "Чат удалён.", "The chat was deleted.";
    notice_member_added: "Участник добавлен.", "The member was added.";
    notice_member_removed: "Участник удалён из чата.", "The member was removed.";

    error_400_title: "Неверный запрос", "Bad request";
    error_400_text: "Сервер не понял запрос.", "The server could not understand the request.";
    error_403_title: "Нет доступа", "Access denied";
    error_403_text: "У вас нет прав на эту страницу.", "You do not have access to this page.";
    error_404_title: "Страница не найдена", "Page not found";
    error_404_text: "Такой страницы нет — возможно, её удалили или ссылка неверна.", "There is no such page: it may have been deleted, or the link is wrong.";
    error_405_title: "Так нельзя", "Not allowed";
    error_405_text: "Эта страница не принимает такой запрос.", "This page does not take this kind of request.";
    error_409_title: "Конфликт", "Conflict";
    error_409_text: "Действие противоречит текущему состоянию.", "The action conflicts with the current state.";
    error_413_title: "Слишком большой запрос", "Request too large";
    error_413_text: "Отправленные данные слишком велики.", "What was sent is too large.";
    error_429_title: "Слишком часто", "Too many requests";
    error_429_text: "Подождите немного и попробуйте снова.", "Wait a moment and try again.";
    error_500_title: "Что-то пошло не так", "Something went wrong";
    error_500_text: "На сервере произошла ошибка. Мы уже знаем о ней — попробуйте ещё раз чуть позже.", "The server hit an error. It is logged; please try again a little later.";
    error_503_title: "Сервис временно недоступен", "Service temporarily unavailable";
    error_503_text: "Сервер перегружен или обновляется. Попробуйте через минуту.", "The server is busy or restarting. Try again in a minute.";
    error_other_title: "Ошибка", "Error";
    error_other_text: "Запрос не выполнен.", "The request failed.";

    wait_seconds: "{n} секунду|{n} секунды|{n} секунд", "{n} second|{n} seconds";
    wait_minutes: "{n} минуту|{n} минуты|{n} минут", "{n} minute|{n} minutes";
}

fn index() -> &'static HashMap<&'static str, &'static Entry> {
    static INDEX: OnceLock<HashMap<&'static str, &'static Entry>> = OnceLock::new();
    INDEX.get_or_init(|| CATALOG.iter().map(|e| (e.key, e)).collect())
}

/// The text of `key` in `lang`, if the catalog has the key.
pub fn text(lang: Lang, key: &str) -> Option<&'static str> {
    index().get(key).map(|e| match lang {
        Lang::Ru => e.ru,
        Lang::En => e.en,
    })
}

/// Every key of the catalog (for tests and the script's strings).
pub fn keys() -> impl Iterator<Item = &'static str> {
    CATALOG.iter().map(|e| e.key)
}

/// `text` with `{name}` placeholders filled from `args`.
pub fn fill(text: &str, args: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// The text of `key` in `lang` with its placeholders filled; the key itself when the
/// catalog lacks it (a bug the catalog test catches).
pub fn tr(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    match text(lang, key) {
        Some(text) => fill(text, args),
        None => {
            tracing::error!(key, "a UI string is missing from the catalog");
            key.to_owned()
        }
    }
}

/// Which plural form `n` takes in `lang`: an index into the `|`-separated forms.
pub fn plural_form(lang: Lang, n: i64) -> usize {
    let n = n.unsigned_abs();
    match lang {
        Lang::En => usize::from(n != 1),
        Lang::Ru => {
            let (last, last_two) = (n % 10, n % 100);
            if last == 1 && last_two != 11 {
                0
            } else if (2..=4).contains(&last) && !(12..=14).contains(&last_two) {
                1
            } else {
                2
            }
        }
    }
}

/// The plural entry `key` for `n`, with `{n}` filled in.
pub fn plural(lang: Lang, key: &str, n: i64) -> String {
    let forms = tr(lang, key, &[]);
    let forms: Vec<&str> = forms.split('|').collect();
    let form = forms
        .get(plural_form(lang, n))
        .or_else(|| forms.last())
        .copied()
        .unwrap_or_default();
    fill(form, &[("n", &n.to_string())])
}

/// How long to wait, in words: seconds under two minutes, whole minutes (rounded up) above.
pub fn wait(lang: Lang, wait: Duration) -> String {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = i64::try_from(secs.max(1)).unwrap_or(i64::MAX);
    if secs < 120 {
        plural(lang, "wait_seconds", secs)
    } else {
        plural(lang, "wait_minutes", (secs + 59) / 60)
    }
}

/// The label of a form field the core names in an `Invalid` error.
pub fn field_label(lang: Lang, field: &str) -> Option<&'static str> {
    let key = match field {
        "username" => "field_username",
        "password" => "field_password",
        "first_name" => "field_first_name",
        "last_name" => "field_last_name",
        "email" => "field_email",
        "name" => "field_chat_name",
        "content" => "field_content",
        _ => return None,
    };
    text(lang, key)
}

/// Russian for the English texts the core writes (validation reasons, refusals, conflicts);
/// English, and any text not known here, pass unchanged.
pub fn core_message(lang: Lang, message: &str) -> String {
    if lang == Lang::En {
        return message.to_owned();
    }
    const EXACT: &[(&str, &str)] = &[
        ("This field may not be blank.", "Поле не может быть пустым."),
        (
            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
            "Имя пользователя может содержать только буквы, цифры и символы @ . + - _.",
        ),
        (
            "Enter a valid email address.",
            "Введите правильный адрес эл. почты.",
        ),
        (
            "This password is entirely numeric.",
            "Пароль не может состоять только из цифр.",
        ),
        (
            "This password is too common.",
            "Этот пароль слишком распространён.",
        ),
        (
            "must not contain control characters",
            "Не должно содержать управляющих символов.",
        ),
        (
            "must not contain NUL characters",
            "Не должно содержать нулевых символов.",
        ),
        (
            "A user with that username already exists.",
            "Пользователь с таким именем уже существует.",
        ),
        ("Registration is closed", "Регистрация закрыта."),
        ("Only admins may do this", "Это может только администратор."),
        (
            "You are not a member of this chat",
            "Вы не участник этого чата.",
        ),
        (
            "You cannot demote or deactivate yourself",
            "Нельзя снять права или отключить самого себя.",
        ),
        (
            "The last active admin cannot be demoted or deactivated",
            "Нельзя снять права или отключить последнего активного администратора.",
        ),
        ("Chat not found", "Чат не найден."),
        ("User not found", "Пользователь не найден."),
        ("Member not found", "Этот пользователь не участник чата."),
        ("Not found", "Не найдено."),
        (
            "Invalid credentials",
            "Неверное имя пользователя или пароль.",
        ),
        (
            "Too many attempts, try again later",
            "Слишком много попыток, попробуйте позже.",
        ),
        (
            "Service temporarily unavailable",
            "Сервис временно недоступен.",
        ),
        ("Internal server error", "Внутренняя ошибка сервера."),
        ("Request timed out", "Сервер не успел ответить."),
        (
            "CSRF token missing",
            "Форма устарела: нет проверочного кода. Обновите страницу.",
        ),
        (
            "CSRF token incorrect",
            "Форма устарела. Обновите страницу и попробуйте ещё раз.",
        ),
    ];
    if let Some((_, ru)) = EXACT.iter().find(|(en, _)| *en == message) {
        return (*ru).to_owned();
    }
    let number = |rest: &str| -> Option<String> {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        (!digits.is_empty()).then_some(digits)
    };
    if let Some(n) = message
        .strip_prefix("Ensure this field has no more than ")
        .and_then(number)
    {
        return format!("Не больше {n} символов.");
    }
    if let Some(n) = message
        .strip_prefix("This password is too short. It must contain at least ")
        .and_then(number)
    {
        return format!("Пароль слишком короткий: нужно не меньше {n} символов.");
    }
    if message.starts_with("The password is too similar to the ") {
        return "Пароль слишком похож на ваши данные (имя, логин или почту).".to_owned();
    }
    if let Some(name) = message
        .strip_prefix("User ")
        .and_then(|m| m.strip_suffix(" is inactive"))
    {
        return format!("Пользователь {name} отключён.");
    }
    message.to_owned()
}

/// A core error as the UI says it: `Invalid` errors give their reason (the field is shown
/// by the form), every other kind its translated text.
pub fn error_text(lang: Lang, error: &Error) -> String {
    match error {
        Error::Invalid { reason, .. } => core_message(lang, reason),
        Error::InvalidCredentials => tr(lang, "login_invalid", &[]),
        Error::RateLimited { retry_after } => tr(
            lang,
            "login_rate_limited",
            &[("wait", &wait(lang, *retry_after))],
        ),
        other => core_message(lang, &other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_picks_english_only_when_it_prefers_it() {
        let check = |header: &str| Lang::negotiate(Some(header)).code();
        assert_eq!(check("en-US,en;q=0.9"), "en");
        assert_eq!(check("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7"), "ru");
        assert_eq!(check("de-DE,de;q=0.9,en;q=0.8,ru;q=0.5"), "en");
        assert_eq!(check("en;q=0.5,ru;q=0.6"), "ru");
        assert_eq!(check("fr-FR"), "ru");
        assert_eq!(check("*"), "ru");
        assert_eq!(check("EN-gb"), "en");
        assert_eq!(check("en;q=0,ru;q=0.1"), "ru");
        assert_eq!(check("en;q=abc"), "en");
        assert_eq!(check(""), "ru");
        assert_eq!(Lang::negotiate(None), Lang::Ru);
    }

    #[test]
    fn every_entry_is_unique_and_written_in_both_languages() {
        let mut seen = std::collections::HashSet::new();
        for entry in CATALOG {
            assert!(
                seen.insert(entry.key),
                "`{}` is in the catalog twice",
                entry.key
            );
            assert!(
                !entry.ru.is_empty() && !entry.en.is_empty(),
                "{}",
                entry.key
            );
            assert_eq!(
                entry.ru.matches('|').count() > 0,
                entry.en.matches('|').count() > 0,
                "`{}` is plural in one language only",
                entry.key
            );
            // Placeholders are the same in both languages.
            let names = |s: &str| {
                let mut v: Vec<String> = s
                    .split('{')
                    .skip(1)
                    .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_owned()))
                    .collect();
                v.sort();
                v.dedup();
                v
            };
            assert_eq!(names(entry.ru), names(entry.en), "{}", entry.key);
        }
    }

    #[test]
    fn plurals_follow_each_languages_rules() {
        let ru = |n| plural(Lang::Ru, "members_count", n);
        assert_eq!(ru(1), "1 участник");
        assert_eq!(ru(2), "2 участника");
        assert_eq!(ru(5), "5 участников");
        assert_eq!(ru(11), "11 участников");
        assert_eq!(ru(21), "21 участник");
        assert_eq!(ru(22), "22 участника");
        assert_eq!(ru(112), "112 участников");
        assert_eq!(ru(0), "0 участников");
        assert_eq!(plural(Lang::En, "members_count", 1), "1 member");
        assert_eq!(plural(Lang::En, "members_count", 0), "0 members");
    }

    #[test]
    fn waits_read_as_seconds_then_minutes() {
        assert_eq!(wait(Lang::Ru, Duration::from_millis(1500)), "2 секунды");
        assert_eq!(wait(Lang::En, Duration::from_secs(300)), "5 minutes");
        assert_eq!(wait(Lang::Ru, Duration::from_secs(121)), "3 минуты");
        assert_eq!(wait(Lang::En, Duration::ZERO), "1 second");
    }

    #[test]
    fn core_texts_are_translated_with_the_original_as_fallback() {
        assert_eq!(
            core_message(
                Lang::Ru,
                "Ensure this field has no more than 100 characters."
            ),
            "Не больше 100 символов."
        );
        assert_eq!(
            core_message(Lang::Ru, "User ann is inactive"),
            "Пользователь ann отключён."
        );
        assert_eq!(core_message(Lang::Ru, "something new"), "something new");
        assert_eq!(
            core_message(Lang::En, "This field may not be blank."),
            "This field may not be blank."
        );
        let limited = Error::RateLimited {
            retry_after: Duration::from_secs(300),
        };
        assert_eq!(
            error_text(Lang::En, &limited),
            "Too many failed attempts to log in. Try again in 5 minutes."
        );
    }
}
