//! Console sessions: `DbSessionStore` create/load/save/delete and expiry.

use crate::helpers::{on_both_backends, TestDb};
use backend::entity::session;
use backend::store::sessions::DbSessionStore;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use std::collections::HashMap;
use time::OffsetDateTime;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store::{ExpiredDeletion, SessionStore};

on_both_backends!(sessions_create_load_save_delete, sessions_expire);

fn record(data: &[(&str, serde_json::Value)], expires_in: time::Duration) -> Record {
    Record {
        id: Id::default(),
        data: data.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<HashMap<_, _>>(),
        expiry_date: OffsetDateTime::now_utc() + expires_in,
    }
}

async fn rows(t: &TestDb) -> u64 {
    session::Entity::find().count(&t.db).await.expect("count sessions")
}

async fn sessions_create_load_save_delete(t: TestDb) {
    let store = DbSessionStore::new(t.db.clone());
    let mut rec = record(&[("uid", json!(7)), ("ver", json!(1))], time::Duration::hours(1));
    store.create(&mut rec).await.expect("create");
    assert_eq!(rows(&t).await, 1);

    let loaded = store.load(&rec.id).await.expect("load").expect("the session exists");
    assert_eq!(loaded.id, rec.id);
    assert_eq!(loaded.data, rec.data);
    assert_eq!(loaded.expiry_date.unix_timestamp(), rec.expiry_date.unix_timestamp());

    // Only a digest of the id is stored: the table does not hold a usable session id.
    let stored = session::Entity::find().all(&t.db).await.expect("rows");
    assert!(!stored[0].id.contains(&rec.id.to_string()));
    assert!(!stored[0].id.contains(&rec.id.0.to_string()));

    rec.data.insert("theme".into(), json!("dark"));
    rec.expiry_date += time::Duration::hours(1);
    store.save(&rec).await.expect("save");
    let loaded = store.load(&rec.id).await.expect("load").expect("still there");
    assert_eq!(loaded.data.get("theme"), Some(&json!("dark")));
    assert_eq!(loaded.expiry_date.unix_timestamp(), rec.expiry_date.unix_timestamp());
    assert_eq!(rows(&t).await, 1, "save updates in place");

    // A create whose id is taken gets a new id and never overwrites the other session.
    let mut clash = record(&[("uid", json!(99))], time::Duration::hours(1));
    clash.id = rec.id;
    store.create(&mut clash).await.expect("create with a taken id");
    assert_ne!(clash.id, rec.id, "the colliding session got a fresh id");
    assert_eq!(store.load(&rec.id).await.expect("load").expect("original").data.get("uid"), Some(&json!(7)));
    assert_eq!(store.load(&clash.id).await.expect("load").expect("new").data.get("uid"), Some(&json!(99)));

    // Save of an unknown id creates it (tower-sessions saves after cycling an id).
    let fresh = record(&[("uid", json!(3))], time::Duration::hours(1));
    store.save(&fresh).await.expect("save new");
    assert!(store.load(&fresh.id).await.expect("load").is_some());

    store.delete(&rec.id).await.expect("delete");
    assert_eq!(store.load(&rec.id).await.expect("load"), None);
    assert!(store.load(&clash.id).await.expect("load").is_some(), "only that session is deleted");
    store.delete(&rec.id).await.expect("deleting twice is harmless");
    assert_eq!(store.load(&Id::default()).await.expect("load unknown"), None);
}

async fn sessions_expire(t: TestDb) {
    let store = DbSessionStore::new(t.db.clone());
    let mut live = record(&[("uid", json!(1))], time::Duration::hours(1));
    let mut expired = record(&[("uid", json!(2))], -time::Duration::seconds(5));
    store.create(&mut live).await.expect("create live");
    store.create(&mut expired).await.expect("create expired");
    assert_eq!(rows(&t).await, 2);

    assert_eq!(store.load(&expired.id).await.expect("load"), None, "an expired session does not load");
    assert!(store.load(&live.id).await.expect("load").is_some());

    store.delete_expired().await.expect("delete_expired");
    assert_eq!(rows(&t).await, 1, "the sweep removes expired rows only");
    assert!(store.load(&live.id).await.expect("load").is_some());
}
