//! Membership over HTTP: add, remove, leave, list.

use crate::assert_wire_snapshot;
use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn an_admin_adds_a_member_and_adding_again_is_200_too() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    let chat = app.create_chat(&admin, "general", &[]).await;
    let path = format!("/api/chat/{}/user/{}/", chat.id, ann.id());
    let answer = app.put(&path, &admin).await;
    answer.expect(200);
    assert_wire_snapshot!("member_added", answer.json);
    let again = app.put(path.trim_end_matches('/'), &admin).await;
    again.expect(200);
    assert_eq!(again.json, answer.json);
    app.get(&format!("/api/chat/{}/message/", chat.id), &ann)
        .await
        .expect(200);
}

#[tokio::test]
async fn adding_an_unknown_or_inactive_user_fails() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let gone = app.create_user("gone").await;
    let chat = app.create_chat(&admin, "general", &[]).await;
    app.put(&format!("/api/chat/{}/user/999/", chat.id), &admin)
        .await
        .expect_error(404, "not_found");
    app.set_active(&admin, &gone, false).await;
    let answer = app
        .put(
            &format!("/api/chat/{}/user/{}/", chat.id, gone.id()),
            &admin,
        )
        .await;
    answer.expect_error(409, "conflict");
    assert_wire_snapshot!("member_inactive", answer.json);
}

#[tokio::test]
async fn an_admin_removes_a_member_and_removing_a_non_member_is_404() {
    let app = spawn_app().await;
    let (admin, [ann], chat) = app.chat_with_members(["ann"]).await;
    let path = format!("/api/chat/{}/user/{}/", chat.id, ann.id());
    let answer = app.delete(&path, &admin).await;
    answer.expect(200);
    assert_wire_snapshot!("member_removed", answer.json);
    let answer = app.delete(&path, &admin).await;
    answer.expect_error(404, "not_found");
    assert_wire_snapshot!("member_not_a_member", answer.json);
    app.get(&format!("/api/chat/{}/", chat.id), &ann)
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn a_member_cannot_add_or_remove_others() {
    let app = spawn_app().await;
    let (_, [ann, bob], chat) = app.chat_with_members(["ann", "bob"]).await;
    let eve = app.create_user("eve").await;
    app.put(&format!("/api/chat/{}/user/{}/", chat.id, eve.id()), &ann)
        .await
        .expect_error(403, "forbidden");
    app.delete(&format!("/api/chat/{}/user/{}/", chat.id, bob.id()), &ann)
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn a_member_leaves_by_deleting_their_own_membership_or_by_the_leave_endpoint() {
    let app = spawn_app().await;
    let (admin, [ann, bob], chat) = app.chat_with_members(["ann", "bob"]).await;
    let answer = app
        .delete(&format!("/api/chat/{}/user/{}", chat.id, ann.id()), &ann)
        .await;
    answer.expect(200);
    assert_eq!(
        answer.json,
        json!({"message": "User ann removed from chat"})
    );
    let answer = app
        .post_nothing(&format!("/api/chat/{}/leave", chat.id), &bob)
        .await;
    answer.expect(200);
    assert_wire_snapshot!("member_left", answer.json);
    app.post_nothing(&format!("/api/chat/{}/leave/", chat.id), &bob)
        .await
        .expect_error(404, "not_found");
    let members = app
        .get(&format!("/api/chat/{}/members/", chat.id), &admin)
        .await;
    assert_eq!(members.json, json!([]));
}

#[tokio::test]
async fn members_are_listed_with_emails_only_for_the_viewer_and_admins() {
    let app = spawn_app().await;
    let (admin, [ann, _], chat) = app.chat_with_members(["ann", "bob"]).await;
    let eve = app.create_user("eve").await;
    let path = format!("/api/chat/{}/members/", chat.id);
    let answer = app.get(&path, &ann).await;
    answer.expect(200);
    assert_wire_snapshot!("members_as_member", answer.json);
    let answer = app.get(&path, &admin).await;
    assert_wire_snapshot!("members_as_admin", answer.json);
    app.get(&path, &eve).await.expect_error(403, "forbidden");
}
