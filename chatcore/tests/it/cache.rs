//! The store cache (`chatcore::store::cache`): every core here caches (the default), and a
//! second core on the same database stands for another process or node (the CLI, a second
//! replica). What one changes, the other acts on at its next call; and whatever happens,
//! a cached answer is the answer of a core that does not cache.

use crate::fixture::{PASSWORD, TestCore, contract_tests, kind, text};
use chatcore::broker::LocalBroker;
use chatcore::model::{ChatId, Message, PageRequest, ProfileUpdate, UserFlagsUpdate};
use chatcore::store::Store;
use chatcore::store::cache::{CachedStore, one_request};
use chatcore::{Actor, CacheConfig, ChatCore, ClientInfo, Config, Credential, ErrorKind};
use std::sync::Arc;

contract_tests!(
    a_token_revoked_by_another_process_is_refused_at_once,
    a_password_set_by_the_cli_revokes_cached_tokens,
    a_member_removed_on_another_node_reads_nothing_next,
    a_deactivation_on_another_node_acts_next,
    a_chat_deleted_on_another_node_is_gone_next,
    a_post_stored_on_another_node_is_in_the_next_page,
    a_profile_changed_on_another_node_shows_in_cached_pages,
    changes_made_by_hand_in_sql_act_next,
    pages_from_the_tail_are_the_pages_the_store_holds,
    tails_stay_within_their_byte_budget,
    one_request_reads_the_counter_once_and_the_next_reads_again,
    random_interleavings_on_two_nodes_read_what_the_store_holds,
);

async fn a_token_revoked_by_another_process_is_refused_at_once(t: TestCore) {
    let (alice, token) = t.user_with_token("alice").await;
    // Read twice: the second answer comes from the cache.
    for _ in 0..2 {
        assert_eq!(t.by_token(&token).await.unwrap().id(), alice.id());
    }
    let other = t.second_core().await;
    other.auth().logout(&token).await.unwrap();
    assert_eq!(kind(t.by_token(&token).await), ErrorKind::Unauthenticated);
}

async fn a_password_set_by_the_cli_revokes_cached_tokens(t: TestCore) {
    let (_, token) = t.user_with_token("alice").await;
    t.by_token(&token).await.unwrap();
    // `chat-server changepassword` is another process on the same database.
    let cli = t.second_core().await;
    cli.auth()
        .set_password("alice", "another horse battery staple")
        .await
        .unwrap();
    assert_eq!(kind(t.by_token(&token).await), ErrorKind::Unauthenticated);
}

async fn a_member_removed_on_another_node_reads_nothing_next(t: TestCore) {
    let (admin, [alice], chat) = t.chat_with_members(["alice"]).await;
    t.post(&alice, chat, "hello").await;
    for _ in 0..2 {
        assert_eq!(t.history(&alice, chat).await.len(), 1);
    }
    let other = t.second_core().await;
    other
        .membership()
        .remove_member(&admin, chat, alice.id())
        .await
        .unwrap();
    assert_eq!(refusal(&t.core, &alice, chat).await, ErrorKind::Forbidden);
    // Added back elsewhere: readable again at once.
    other
        .membership()
        .add_member(&admin, chat, alice.id())
        .await
        .unwrap();
    assert_eq!(t.history(&alice, chat).await.len(), 1);
}

async fn a_deactivation_on_another_node_acts_next(t: TestCore) {
    let (admin, [alice], chat) = t.chat_with_members(["alice"]).await;
    t.history(&alice, chat).await;
    let other = t.second_core().await;
    let flags = UserFlagsUpdate {
        is_active: Some(false),
        ..Default::default()
    };
    other
        .auth()
        .update_user(&admin, alice.id(), flags)
        .await
        .unwrap();
    assert_eq!(
        refusal(&t.core, &alice, chat).await,
        ErrorKind::Unauthenticated
    );
}

async fn a_chat_deleted_on_another_node_is_gone_next(t: TestCore) {
    let (admin, [alice], chat) = t.chat_with_members(["alice"]).await;
    t.post(&alice, chat, "hello").await;
    t.history(&alice, chat).await;
    let other = t.second_core().await;
    other.membership().delete_chat(&admin, chat).await.unwrap();
    assert_eq!(refusal(&t.core, &alice, chat).await, ErrorKind::NotFound);
}

async fn a_post_stored_on_another_node_is_in_the_next_page(t: TestCore) {
    let (_, [alice, bob], chat) = t.chat_with_members(["alice", "bob"]).await;
    t.post(&alice, chat, "first").await;
    assert_eq!(contents(&t.history(&bob, chat).await), ["first"]);
    let other = t.second_core().await;
    other
        .messaging()
        .post(&alice, chat, text("second"))
        .await
        .unwrap();
    assert_eq!(contents(&t.history(&bob, chat).await), ["first", "second"]);
    // The node that stored it, too.
    let page = other
        .messaging()
        .history(&bob, chat, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(contents(&page), ["first", "second"]);
}

async fn a_profile_changed_on_another_node_shows_in_cached_pages(t: TestCore) {
    let (_, [alice, bob], chat) = t.chat_with_members(["alice", "bob"]).await;
    t.post(&alice, chat, "hello").await;
    assert_eq!(t.history(&bob, chat).await[0].user.first_name, "");
    let other = t.second_core().await;
    let update = ProfileUpdate {
        first_name: Some("Alice".into()),
        ..Default::default()
    };
    other.auth().update_profile(&alice, update).await.unwrap();
    assert_eq!(t.history(&bob, chat).await[0].user.first_name, "Alice");
}

async fn changes_made_by_hand_in_sql_act_next(t: TestCore) {
    let (_, [alice, bob], chat) = t.chat_with_members(["alice", "bob"]).await;
    for content in ["one", "abusive", "three"] {
        t.post(&alice, chat, content).await;
    }
    assert_eq!(contents(&t.history(&bob, chat).await).len(), 3);
    t.raw
        .execute("DELETE FROM messages WHERE content = 'abusive'")
        .await;
    assert_eq!(contents(&t.history(&bob, chat).await), ["one", "three"]);
    t.raw
        .execute("UPDATE messages SET content = 'edited' WHERE content = 'one'")
        .await;
    assert_eq!(contents(&t.history(&bob, chat).await), ["edited", "three"]);
    t.raw.execute("DELETE FROM api_tokens").await;
    let (_, token) = t.user_with_token("carol").await;
    t.by_token(&token).await.unwrap();
    t.raw.execute("UPDATE users SET is_active = FALSE").await;
    assert_eq!(kind(t.by_token(&token).await), ErrorKind::Unauthenticated);
}

async fn pages_from_the_tail_are_the_pages_the_store_holds(t: TestCore) {
    let (admin, [alice, bob], chat) = t.chat_with_members(["alice", "bob"]).await;
    let truth = uncached(&t).await;
    // Lengths around the tail's (200): a page may need what the tail has dropped. Each
    // viewer sees addresses differently: the admin all, an author their own.
    for n in 1..=230 {
        let author = if n % 3 == 0 { &bob } else { &alice };
        t.post(author, chat, &format!("m{n}")).await;
        if n % 23 != 0 && n != 1 && n < 225 {
            continue;
        }
        for page in every_page(n) {
            for viewer in [&admin, &alice, &bob] {
                let messaging = t.core.messaging();
                let cached = messaging.history(viewer, chat, page).await.unwrap();
                let json = messaging.history_json(viewer, chat, page).await.unwrap();
                let stored = truth.messaging().history(viewer, chat, page).await.unwrap();
                assert_eq!(cached, stored, "{page:?} with {n} messages");
                let expected = serde_json::to_vec(&stored).unwrap();
                assert_eq!(
                    String::from_utf8(json).unwrap(),
                    String::from_utf8(expected).unwrap(),
                    "{page:?} with {n} messages, as {}",
                    viewer.user().username
                );
            }
        }
    }
}

async fn tails_stay_within_their_byte_budget(t: TestCore) {
    let (_, [alice], _) = t.chat_with_members(["alice"]).await;
    let admin = t.admin("boss").await;
    let config = CacheConfig {
        tail_bytes: 4096,
        ..CacheConfig::default()
    };
    let cached = CachedStore::new(t.store.clone(), &config);
    let mut chats = Vec::new();
    for c in 0..5 {
        let chat = t.chat(&admin, &format!("room{c}"), &[&alice]).await;
        for n in 0..10 {
            t.post(&alice, chat, &format!("{c}/{n} {}", "x".repeat(100)))
                .await;
        }
        chats.push(chat);
    }
    for _ in 0..2 {
        for &chat in &chats {
            let page = PageRequest::latest(10).unwrap();
            let answer = cached.history(chat, page).await.unwrap();
            assert_eq!(answer, t.store.history(chat, page).await.unwrap());
            assert!(cached.tail_bytes() <= 4096, "{} bytes", cached.tail_bytes());
        }
    }
}

async fn one_request_reads_the_counter_once_and_the_next_reads_again(t: TestCore) {
    let (_, token) = t.user_with_token("alice").await;
    let hash = chatcore::auth::sha256_hex(&token);
    let cached = CachedStore::new(t.store.clone(), &CacheConfig::default());
    let other = t.second_core().await;
    one_request(async {
        assert!(cached.token_user(&hash).await.unwrap().is_some());
        other.auth().logout(&token).await.unwrap();
        // The same request: the same reading of the database.
        assert!(cached.token_user(&hash).await.unwrap().is_some());
    })
    .await;
    one_request(async {
        assert!(cached.token_user(&hash).await.unwrap().is_none());
    })
    .await;
    // Outside any request, every call reads.
    assert!(cached.token_user(&hash).await.unwrap().is_none());
}

/// Two caching nodes and a core that does not cache, all on one database; a seeded run of
/// posts, removals and additions, renames, deletions, logouts and reads, each read asked
/// of a random node and compared with the uncached answer.
async fn random_interleavings_on_two_nodes_read_what_the_store_holds(t: TestCore) {
    let nodes = [&t.core, &t.second_core().await];
    let truth = uncached(&t).await;
    let admin = t.admin("root").await;
    let (mut people, mut tokens): (Vec<Actor>, Vec<String>) = (Vec::new(), Vec::new());
    for name in ["ann", "ben", "cat", "dan"] {
        let (actor, token) = t.user_with_token(name).await;
        people.push(actor);
        tokens.push(token);
    }
    let everyone: Vec<&Actor> = people.iter().collect();
    let mut chats = vec![t.chat(&admin, "one", &everyone).await];
    for seed in [1u64, 7, 42] {
        let mut rng = Rng(seed);
        for step in 0..150 {
            let node = nodes[rng.below(2)];
            let who = rng.below(people.len());
            let chat = chats[rng.below(chats.len())];
            let context = format!("seed {seed} step {step}");
            match rng.below(20) {
                0..=6 => {
                    let _ = node
                        .messaging()
                        .post(&people[who], chat, text(&context))
                        .await;
                }
                7 => {
                    let _ = node
                        .membership()
                        .remove_member(&admin, chat, people[who].id())
                        .await;
                }
                8 => {
                    let _ = node
                        .membership()
                        .add_member(&admin, chat, people[who].id())
                        .await;
                }
                9 => {
                    let _ = node.membership().rename_chat(&admin, chat, &context).await;
                }
                10 if chats.len() > 1 => {
                    node.membership().delete_chat(&admin, chat).await.unwrap();
                    chats.retain(|&c| c != chat);
                }
                10 => chats.push(t.chat(&admin, &context, &everyone).await),
                11 => {
                    // Log out, and log back in (the new token replaces the old one).
                    node.auth().logout(&tokens[who]).await.unwrap();
                    let refused = by_token(node, &tokens[who]).await;
                    assert_eq!(kind(refused), ErrorKind::Unauthenticated);
                    let name = people[who].user().username.as_str();
                    tokens[who] = node
                        .auth()
                        .login(name, PASSWORD, &ClientInfo::default())
                        .await
                        .unwrap();
                }
                _ => {
                    let (actor, token) = (&people[who], &tokens[who]);
                    let cached = by_token(node, token).await.map(|a| a.id());
                    let stored = by_token(&truth, token).await.map(|a| a.id());
                    assert_eq!(cached.ok(), stored.ok(), "{context}: token");
                    let last = 1 + rng.below(260) as i64;
                    for page in [
                        PageRequest::default(),
                        PageRequest::new(Some(last), None, Some(1 + rng.below(200) as u32))
                            .unwrap(),
                        PageRequest::after(last, 1 + rng.below(200) as u32).unwrap(),
                    ] {
                        let cached = node.messaging().history(actor, chat, page).await;
                        let stored = truth.messaging().history(actor, chat, page).await;
                        assert_eq!(
                            cached.map_err(|e| e.kind()),
                            stored.map_err(|e| e.kind()),
                            "{context}: {page:?}"
                        );
                    }
                }
            }
        }
    }
}

/// Why `core` refuses `who` the newest page of `chat` (it must refuse).
async fn refusal(core: &ChatCore, who: &Actor, chat: ChatId) -> ErrorKind {
    kind(
        core.messaging()
            .history(who, chat, PageRequest::default())
            .await,
    )
}

/// A core that does not cache, on `t`'s database.
async fn uncached(t: &TestCore) -> ChatCore {
    let config = Config {
        cache: CacheConfig {
            enabled: false,
            ..CacheConfig::default()
        },
        ..t.core.config().clone()
    };
    let broker = Arc::new(LocalBroker::new(config.subscriber_buffer));
    ChatCore::with_parts(t.second_store().await, broker, config).unwrap()
}

/// The actor `core` authenticates `token` as.
async fn by_token(core: &ChatCore, token: &str) -> chatcore::Result<Actor> {
    core.services()
        .authenticator
        .authenticate(&Credential::Token(token.into()), &ClientInfo::default())
        .await
}

/// Every kind of page around `n` messages: the newest, before and after a few `seq`s, with
/// a few limits.
fn every_page(n: i64) -> Vec<PageRequest> {
    let mut pages = Vec::new();
    for limit in [1u32, 7, 50, 200] {
        pages.push(PageRequest::latest(limit).unwrap());
        for seq in [0, 1, n - 201, n - 200, n - 60, n - 1, n, n + 1, n + 50] {
            if seq >= 1 {
                pages.push(PageRequest::new(Some(seq), None, Some(limit)).unwrap());
            }
            if seq >= 0 {
                pages.push(PageRequest::after(seq, limit).unwrap());
            }
        }
    }
    pages
}

fn contents(page: &[Message]) -> Vec<&str> {
    page.iter().map(|m| m.content.as_str()).collect()
}

/// xorshift64*: a reproducible sequence per seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}
