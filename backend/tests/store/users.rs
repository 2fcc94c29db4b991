//! Users: create, find, count, list, and the conflicts and refusals.

use crate::helpers::{on_both_backends, TestDb};
use backend::auth::{password, Role};
use backend::store::users::{self, NewUser, UserUpdate};
use backend::StoreError;

on_both_backends!(
    users_create_find_count_and_conflict,
    users_refuse_invalid_input,
    users_change_bumps_the_version_and_keeps_an_admin,
    two_admins_deactivating_each_other_leave_one
);

fn new_user(name: &str, password: &str, roles: Vec<Role>) -> NewUser {
    NewUser { username: name.to_string(), password: password.to_string(), email: None, roles }
}

async fn users_create_find_count_and_conflict(t: TestDb) {
    assert_eq!(users::count(&t.db).await.expect("count"), 0);
    assert_eq!(users::find_by_username(&t.db, "alice").await.expect("find"), None);

    let mut alice = new_user("alice", "correct horse battery", vec![Role::Admin, Role::Viewer]);
    alice.email = Some("alice@example.test".into());
    let created = users::create(&t.db, alice).await.expect("create alice");
    assert_eq!(created.username, "alice");
    assert_eq!(created.email.as_deref(), Some("alice@example.test"));
    assert_eq!(created.roles, vec![Role::Admin, Role::Viewer]);
    assert!(created.active);

    let (found, hash) = users::find_by_username(&t.db, "alice").await.expect("find").expect("alice exists");
    assert_eq!(found, created);
    assert!(hash.starts_with("$argon2id$"), "the password is stored hashed with argon2id: {hash}");
    assert!(!hash.contains("correct horse"));
    assert!(password::verify("correct horse battery", &hash));
    assert!(!password::verify("wrong horse battery", &hash));
    assert_eq!(users::get(&t.db, created.id).await.expect("get"), Some(created.clone()));

    let bob =
        users::create(&t.db, new_user("bob", "another password", vec![Role::Operator])).await.expect("create bob");
    assert_ne!(bob.id, created.id);
    assert_eq!(users::count(&t.db).await.expect("count"), 2);
    let names: Vec<String> = users::list(&t.db).await.expect("list").into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["alice", "bob"], "listed by id");

    let dup = users::create(&t.db, new_user("alice", "yet another one", vec![Role::Viewer])).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "a taken name is a conflict: {dup:?}");
    assert_eq!(users::count(&t.db).await.expect("count"), 2, "the duplicate was not stored");
    let (still, _) = users::find_by_username(&t.db, "alice").await.expect("find").expect("alice");
    assert_eq!(still.roles, vec![Role::Admin, Role::Viewer], "the original is untouched");
}

async fn users_refuse_invalid_input(t: TestDb) {
    for (user, why) in [
        (new_user("", "long enough", vec![Role::Admin]), "empty name"),
        (new_user("has space", "long enough", vec![Role::Admin]), "invalid character"),
        (new_user("carol", "short", vec![Role::Admin]), "weak password"),
        (new_user("carol", "long enough", vec![]), "no role"),
    ] {
        let res = users::create(&t.db, user).await;
        assert!(matches!(res, Err(StoreError::Invalid(_))), "{why}: {res:?}");
    }
    assert_eq!(users::count(&t.db).await.expect("count"), 0);
}

async fn users_change_bumps_the_version_and_keeps_an_admin(t: TestDb) {
    let alice = users::create(&t.db, new_user("alice", "alice password", vec![Role::Admin])).await.expect("alice");
    let bob = users::create(&t.db, new_user("bob", "bob password", vec![Role::Viewer])).await.expect("bob");

    // Which changes end the tokens (a new version) and which do not.
    let table: Vec<(UserUpdate, bool)> = vec![
        (UserUpdate { email: Some(Some("bob@example.test".into())), ..Default::default() }, false),
        (UserUpdate { roles: Some(vec![Role::Viewer]), ..Default::default() }, false),
        (UserUpdate { roles: Some(vec![Role::Operator]), ..Default::default() }, true),
        (UserUpdate { password: Some("new bob password".into()), ..Default::default() }, true),
        (UserUpdate { active: Some(true), ..Default::default() }, false),
        (UserUpdate { active: Some(false), ..Default::default() }, true),
    ];
    let mut version = bob.token_version;
    for (change, bumps) in table {
        let what = format!("{change:?}");
        let after = users::update(&t.db, bob.id, change).await.expect(&what);
        assert_eq!(after.token_version, if bumps { version + 1 } else { version }, "{what}");
        version = after.token_version;
    }
    let (bob_now, hash) = users::find_by_username(&t.db, "bob").await.expect("find").expect("bob");
    assert_eq!(bob_now.email.as_deref(), Some("bob@example.test"));
    assert_eq!(bob_now.roles, vec![Role::Operator]);
    assert!(!bob_now.active);
    assert!(password::verify("new bob password", &hash));

    // Alice is the only active admin: she may not go, be deactivated or demoted.
    for change in [
        UserUpdate { active: Some(false), ..Default::default() },
        UserUpdate { roles: Some(vec![Role::Operator]), ..Default::default() },
    ] {
        let res = users::update(&t.db, alice.id, change).await;
        assert!(matches!(res, Err(StoreError::Conflict(_))), "{res:?}");
    }
    assert!(matches!(users::delete(&t.db, alice.id).await, Err(StoreError::Conflict(_))));
    // An inactive admin does not count; an active one does.
    users::update(&t.db, bob.id, UserUpdate { roles: Some(vec![Role::Admin]), ..Default::default() })
        .await
        .expect("bob an admin");
    assert!(matches!(users::delete(&t.db, alice.id).await, Err(StoreError::Conflict(_))));
    users::update(&t.db, bob.id, UserUpdate { active: Some(true), ..Default::default() }).await.expect("bob active");
    assert_eq!(users::delete(&t.db, alice.id).await.expect("alice may go now").username, "alice");
    assert_eq!(users::get(&t.db, alice.id).await.expect("get"), None);
    assert!(matches!(users::delete(&t.db, alice.id).await, Err(StoreError::NotFound(_))));
    let bad = UserUpdate { password: Some("short".into()), roles: Some(vec![]), ..Default::default() };
    match users::update(&t.db, bob.id, bad).await {
        Err(StoreError::Invalid(m)) => assert!(m.contains("password") && m.contains("roles"), "{m}"),
        other => panic!("bad input must be refused: {other:?}"),
    }
}

async fn two_admins_deactivating_each_other_leave_one(t: TestDb) {
    for round in 0..5 {
        let a = users::create(&t.db, new_user(&format!("a{round}"), "a password", vec![Role::Admin])).await.expect("a");
        let b = users::create(&t.db, new_user(&format!("b{round}"), "b password", vec![Role::Admin])).await.expect("b");
        // Only a and b are admins in this round: earlier rounds' survivors are demoted first.
        for u in users::list(&t.db).await.expect("list") {
            if u.id != a.id && u.id != b.id && u.active {
                users::update(&t.db, u.id, UserUpdate { active: Some(false), ..Default::default() })
                    .await
                    .expect("retire an earlier admin");
            }
        }
        let off = || UserUpdate { active: Some(false), ..Default::default() };
        let (ra, rb) = tokio::join!(users::update(&t.db, a.id, off()), users::update(&t.db, b.id, off()));
        assert!(!(ra.is_ok() && rb.is_ok()), "round {round}: both admins were deactivated");
        let active_admins = users::list(&t.db)
            .await
            .expect("list")
            .into_iter()
            .filter(|u| u.active && u.roles.contains(&Role::Admin))
            .count();
        assert_eq!(active_admins, 1, "round {round}: {ra:?} / {rb:?}");
    }
}
