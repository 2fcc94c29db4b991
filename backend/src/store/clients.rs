//! API clients: creation (a random secret, shown once, stored argon2id-hashed), look-up,
//! listing, changes and deletion.

use crate::auth::{password, Role};
use crate::entity::api_client;
use crate::error::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};

/// Length of a generated client secret (57-symbol alphabet: about 240 bits).
const SECRET_LEN: usize = 40;

/// An API client as shown to callers: never the secret or its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// Row id.
    pub id: i64,
    /// The public identifier used to log in (`pc_…`).
    pub client_id: String,
    /// A human-readable name.
    pub name: String,
    /// Scopes, named like the roles.
    pub scopes: Vec<Role>,
    /// Inactive clients cannot log in and their tokens stop working.
    pub active: bool,
    /// Bumped when existing tokens must end.
    pub token_version: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<api_client::Model> for Client {
    fn from(m: api_client::Model) -> Self {
        Self {
            id: m.id,
            client_id: m.client_id,
            name: m.name,
            // Stored by us; an unknown name would be a corrupt row: drop it rather than grant it.
            scopes: m.scopes.split(',').filter_map(|r| r.parse().ok()).collect(),
            active: m.active,
            token_version: m.token_version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A client secret in clear text: only ever returned by [`create`] and [`update`]
/// (regeneration), never stored.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Checks a client name: 1–128 characters, no control characters.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.chars().count() > 128 {
        return Err("name must be 1 to 128 characters".into());
    }
    if name.chars().any(char::is_control) {
        return Err("name must not contain control characters".into());
    }
    Ok(())
}

fn check_scopes(scopes: &[Role]) -> Result<String, StoreError> {
    if scopes.is_empty() {
        return Err(StoreError::Invalid("scopes: at least one scope is required (admin, operator or viewer)".into()));
    }
    let mut s = scopes.to_vec();
    s.sort();
    s.dedup();
    Ok(Role::join(&s))
}

async fn hash_secret(secret: &str) -> Result<String, StoreError> {
    let s = secret.to_owned();
    tokio::task::spawn_blocking(move || password::hash(&s))
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?
        .map_err(StoreError::Internal)
}

/// Creates a client with a random `client_id` and secret; the secret is returned here
/// and only here.
pub async fn create(db: &impl ConnectionTrait, name: &str, scopes: &[Role]) -> Result<(Client, Secret), StoreError> {
    validate_name(name).map_err(|e| StoreError::Invalid(format!("name: {e}")))?;
    let scopes = check_scopes(scopes)?;
    let secret = password::random_secret(SECRET_LEN);
    let hash = hash_secret(&secret).await?;
    let now = Utc::now();
    let model = api_client::ActiveModel {
        client_id: Set(format!("pc_{}", password::random_secret(20))),
        name: Set(name.trim().to_string()),
        secret_hash: Set(hash),
        scopes: Set(scopes),
        active: Set(true),
        token_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    Ok((model.insert(db).await?.into(), Secret(secret)))
}

/// The client and its secret hash, by `client_id`.
pub async fn find_by_client_id(
    db: &impl ConnectionTrait,
    client_id: &str,
) -> Result<Option<(Client, String)>, StoreError> {
    Ok(api_client::Entity::find().filter(api_client::Column::ClientId.eq(client_id)).one(db).await?.map(|m| {
        let hash = m.secret_hash.clone();
        (Client::from(m), hash)
    }))
}

/// The client with this row id.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<Client>, StoreError> {
    Ok(api_client::Entity::find_by_id(id).one(db).await?.map(Client::from))
}

/// Every client, by id.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<Client>, StoreError> {
    Ok(api_client::Entity::find()
        .order_by_asc(api_client::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Client::from)
        .collect())
}

/// A change to a client; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ClientUpdate {
    /// A new name.
    pub name: Option<String>,
    /// New scopes (at least one).
    pub scopes: Option<Vec<Role>>,
    /// Activate or deactivate.
    pub active: Option<bool>,
    /// Replace the secret with a new random one (returned once).
    pub regenerate_secret: bool,
}

/// Changes a client. New scopes, a new secret or a change of `active` bump the token
/// version, so the client's existing tokens stop working. Returns the new secret when
/// one was generated.
pub async fn update(
    db: &impl ConnectionTrait,
    id: i64,
    change: ClientUpdate,
) -> Result<(Client, Option<Secret>), StoreError> {
    let mut problems = Vec::new();
    if let Some(name) = &change.name {
        if let Err(e) = validate_name(name) {
            problems.push(format!("name: {e}"));
        }
    }
    let scopes = match &change.scopes {
        Some(s) => match check_scopes(s) {
            Ok(s) => Some(s),
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        },
        None => None,
    };
    if !problems.is_empty() {
        return Err(StoreError::Invalid(problems.join("; ")));
    }
    let before = api_client::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no API client with id {id}")))?;
    let secret = if change.regenerate_secret { Some(Secret(password::random_secret(SECRET_LEN))) } else { None };
    let hash = match &secret {
        Some(s) => Some(hash_secret(&s.0).await?),
        None => None,
    };
    let revoke = hash.is_some()
        || scopes.as_ref().is_some_and(|s| *s != before.scopes)
        || change.active.is_some_and(|a| a != before.active);
    let version = before.token_version;
    let mut m: api_client::ActiveModel = before.into();
    if let Some(name) = change.name {
        m.name = Set(name.trim().to_string());
    }
    if let Some(s) = scopes {
        m.scopes = Set(s);
    }
    if let Some(a) = change.active {
        m.active = Set(a);
    }
    if let Some(h) = hash {
        m.secret_hash = Set(h);
    }
    if revoke {
        m.token_version = Set(version + 1);
    }
    m.updated_at = Set(Utc::now());
    Ok((m.update(db).await?.into(), secret))
}

/// Deletes a client; its tokens stop working with it.
pub async fn delete(db: &impl ConnectionTrait, id: i64) -> Result<Client, StoreError> {
    let before = get(db, id).await?.ok_or_else(|| StoreError::NotFound(format!("no API client with id {id}")))?;
    api_client::Entity::delete_by_id(id).exec(db).await?;
    Ok(before)
}
