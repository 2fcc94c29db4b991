//! API clients: the secret is returned once and stored hashed; changes that must end the
//! client's tokens bump its version.

use crate::helpers::{on_both_backends, TestDb};
use backend::auth::{password, Role};
use backend::store::clients::{self, ClientUpdate};
use backend::StoreError;

on_both_backends!(clients_create_find_change_delete);

async fn clients_create_find_change_delete(t: TestDb) {
    let (ci, secret) =
        clients::create(&t.db, "CI", &[Role::Viewer, Role::Operator, Role::Viewer]).await.expect("create");
    assert!(ci.client_id.starts_with("pc_"), "{}", ci.client_id);
    assert_eq!(ci.scopes, vec![Role::Operator, Role::Viewer], "sorted, without duplicates");
    let (found, hash) = clients::find_by_client_id(&t.db, &ci.client_id).await.expect("find").expect("found");
    assert_eq!(found, ci);
    assert!(hash.starts_with("$argon2id$") && !hash.contains(&secret.0), "hashed: {hash}");
    assert!(password::verify(&secret.0, &hash));
    let (other, other_secret) = clients::create(&t.db, "deploy", &[Role::Admin]).await.expect("second");
    assert_ne!(other.client_id, ci.client_id);
    assert_ne!(other_secret, secret);
    assert_eq!(clients::list(&t.db).await.expect("list").len(), 2);

    let table: Vec<(ClientUpdate, bool)> = vec![
        (ClientUpdate { name: Some("CI runner".into()), ..Default::default() }, false),
        (ClientUpdate { scopes: Some(vec![Role::Viewer, Role::Operator]), ..Default::default() }, false),
        (ClientUpdate { scopes: Some(vec![Role::Viewer]), ..Default::default() }, true),
        (ClientUpdate { active: Some(false), ..Default::default() }, true),
        (ClientUpdate { regenerate_secret: true, ..Default::default() }, true),
    ];
    let mut version = ci.token_version;
    for (change, bumps) in table {
        let what = format!("{change:?}");
        let regenerate = change.regenerate_secret;
        let (after, new_secret) = clients::update(&t.db, ci.id, change).await.expect(&what);
        assert_eq!(new_secret.is_some(), regenerate, "{what}");
        assert_eq!(after.token_version, if bumps { version + 1 } else { version }, "{what}");
        version = after.token_version;
        if let Some(s) = new_secret {
            let (_, hash) = clients::find_by_client_id(&t.db, &ci.client_id).await.expect("find").expect("found");
            assert!(password::verify(&s.0, &hash) && !password::verify(&secret.0, &hash), "the secret was replaced");
        }
    }
    let now = clients::get(&t.db, ci.id).await.expect("get").expect("exists");
    assert_eq!((now.name.as_str(), now.scopes.as_slice(), now.active), ("CI runner", &[Role::Viewer][..], false));

    for (name, scopes) in [("", vec![Role::Viewer]), ("ok", vec![])] {
        let res = clients::create(&t.db, name, &scopes).await;
        assert!(matches!(res, Err(StoreError::Invalid(_))), "{name:?} {scopes:?}: {res:?}");
    }
    assert_eq!(clients::delete(&t.db, ci.id).await.expect("delete").client_id, ci.client_id);
    assert!(matches!(clients::delete(&t.db, ci.id).await, Err(StoreError::NotFound(_))));
    assert!(matches!(clients::update(&t.db, ci.id, ClientUpdate::default()).await, Err(StoreError::NotFound(_))));
    assert_eq!(clients::list(&t.db).await.expect("list").len(), 1);
}
