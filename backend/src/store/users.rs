//! Users: creation (argon2id-hashed password), look-up, listing, changes and deletion
//! (never leaving the daemon without an active admin).

use crate::auth::{password, Role};
use crate::entity::user;
use crate::error::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

/// A user as shown to callers: never the password hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Unique user name.
    pub username: String,
    /// Optional e-mail address.
    pub email: Option<String>,
    /// Roles.
    pub roles: Vec<Role>,
    /// Inactive users cannot sign in and their tokens stop working.
    pub active: bool,
    /// Bumped when existing tokens and sessions must end.
    pub token_version: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<user::Model> for User {
    fn from(m: user::Model) -> Self {
        Self {
            id: m.id,
            username: m.username,
            email: m.email,
            // Stored by us; an unknown name would be a corrupt row: drop it rather than grant it.
            roles: m.roles.split(',').filter_map(|r| r.parse().ok()).collect(),
            active: m.active,
            token_version: m.token_version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// What is needed to create a user.
#[derive(Clone)]
pub struct NewUser {
    /// Unique user name, `[A-Za-z0-9._@-]`, 1–64 characters.
    pub username: String,
    /// Clear-text password (hashed before it is stored).
    pub password: String,
    /// Optional e-mail address.
    pub email: Option<String>,
    /// At least one role.
    pub roles: Vec<Role>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("email", &self.email)
            .field("roles", &self.roles)
            .finish()
    }
}

/// Checks a user name.
pub fn validate_username(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err("username must be 1 to 64 characters".into());
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))) {
        return Err(format!("invalid character {c:?} in username: allowed are A-Z a-z 0-9 . _ - @"));
    }
    Ok(())
}

/// Creates a user; [`StoreError::Conflict`] when the name is taken.
pub async fn create(db: &impl ConnectionTrait, new: NewUser) -> Result<User, StoreError> {
    validate_username(&new.username).map_err(StoreError::Invalid)?;
    password::check_policy(&new.password).map_err(StoreError::Invalid)?;
    if new.roles.is_empty() {
        return Err(StoreError::Invalid("at least one role is required".into()));
    }
    if let Some(email) = &new.email {
        validate_email(email).map_err(StoreError::Invalid)?;
    }
    if find_by_username(db, &new.username).await?.is_some() {
        return Err(StoreError::Conflict(format!("user {:?} already exists", new.username)));
    }
    let pw = new.password.clone();
    let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?
        .map_err(StoreError::Internal)?;
    let now = Utc::now();
    let model = user::ActiveModel {
        username: Set(new.username.clone()),
        password_hash: Set(hash),
        email: Set(new.email),
        roles: Set(Role::join(&new.roles)),
        active: Set(true),
        token_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    match model.insert(db).await {
        Ok(m) => Ok(m.into()),
        // Lost a race with a concurrent create of the same name: the unique index decides.
        Err(e) if find_by_username(db, &new.username).await?.is_some() => {
            tracing::debug!(error = %e, "user insert lost a race");
            Err(StoreError::Conflict(format!("user {:?} already exists", new.username)))
        }
        Err(e) => Err(e.into()),
    }
}

/// The user and their password hash, by name.
pub async fn find_by_username(db: &impl ConnectionTrait, username: &str) -> Result<Option<(User, String)>, StoreError> {
    Ok(user::Entity::find().filter(user::Column::Username.eq(username)).one(db).await?.map(|m| {
        let hash = m.password_hash.clone();
        (User::from(m), hash)
    }))
}

/// The user with this id.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<User>, StoreError> {
    Ok(user::Entity::find_by_id(id).one(db).await?.map(User::from))
}

/// Every user, by id.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<User>, StoreError> {
    Ok(user::Entity::find().order_by_asc(user::Column::Id).all(db).await?.into_iter().map(User::from).collect())
}

/// How many users exist.
pub async fn count(db: &impl ConnectionTrait) -> Result<u64, StoreError> {
    Ok(user::Entity::find().count(db).await?)
}

/// A change to a user; `None` leaves a field as it is.
#[derive(Clone, Default)]
pub struct UserUpdate {
    /// A new clear-text password (hashed before it is stored).
    pub password: Option<String>,
    /// A new e-mail address; `Some(None)` removes it.
    pub email: Option<Option<String>>,
    /// New roles (at least one).
    pub roles: Option<Vec<Role>>,
    /// Activate or deactivate.
    pub active: Option<bool>,
}

impl std::fmt::Debug for UserUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserUpdate")
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("email", &self.email)
            .field("roles", &self.roles)
            .field("active", &self.active)
            .finish()
    }
}

impl UserUpdate {
    /// Every problem with the requested change, as `(key, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(pw) = &self.password {
            if let Err(e) = password::check_policy(pw) {
                out.push(("password".into(), e));
            }
        }
        if matches!(&self.roles, Some(r) if r.is_empty()) {
            out.push(("roles".into(), "at least one role is required".into()));
        }
        if let Some(Some(email)) = &self.email {
            if let Err(e) = validate_email(email) {
                out.push(("email".into(), e));
            }
        }
        out
    }
}

/// Checks an e-mail address loosely: something@something, no spaces, at most 254 bytes.
pub fn validate_email(email: &str) -> Result<(), String> {
    let ok = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty());
    if ok {
        Ok(())
    } else {
        Err(format!("{email:?} is not an e-mail address"))
    }
}

/// Is this user an active admin (one who can manage users)?
fn is_active_admin(m: &user::Model) -> bool {
    m.active && m.roles.split(',').any(|r| r == Role::Admin.as_str())
}

/// Every user, locked for the rest of the transaction (PostgreSQL `FOR UPDATE`, in id
/// order so that two changes never deadlock; SQLite serialises writers anyway). The
/// last-admin check reads them, so two concurrent changes cannot both pass it.
async fn lock_all(txn: &impl ConnectionTrait) -> Result<Vec<user::Model>, StoreError> {
    Ok(user::Entity::find().order_by_asc(user::Column::Id).lock_exclusive().all(txn).await?)
}

/// Refuses a change that would leave no active admin: `before` is the user as stored,
/// `after_is_admin` whether it is still an active admin afterwards, `all` every user.
fn keep_an_admin(all: &[user::Model], before: &user::Model, after_is_admin: bool) -> Result<(), StoreError> {
    if !is_active_admin(before) || after_is_admin {
        return Ok(());
    }
    if !all.iter().any(|m| m.id != before.id && is_active_admin(m)) {
        return Err(StoreError::Conflict(format!(
            "{:?} is the last active admin: create or activate another admin first",
            before.username
        )));
    }
    Ok(())
}

/// The user with `id` among `all`.
fn pick(all: &[user::Model], id: i64) -> Result<user::Model, StoreError> {
    all.iter().find(|m| m.id == id).cloned().ok_or_else(|| StoreError::NotFound(format!("no user with id {id}")))
}

/// Changes a user. A new password, new roles or a change of `active` bump the token
/// version, so the user's existing tokens and sessions stop working. Refuses
/// ([`StoreError::Conflict`]) to leave no active admin.
pub async fn update(db: &DatabaseConnection, id: i64, change: UserUpdate) -> Result<User, StoreError> {
    let problems = change.problems();
    if !problems.is_empty() {
        return Err(StoreError::Invalid(
            problems.into_iter().map(|(k, m)| format!("{k}: {m}")).collect::<Vec<_>>().join("; "),
        ));
    }
    let hash = match change.password.clone() {
        Some(pw) => Some(
            tokio::task::spawn_blocking(move || password::hash(&pw))
                .await
                .map_err(|e| StoreError::Internal(e.to_string()))?
                .map_err(StoreError::Internal)?,
        ),
        None => None,
    };
    let txn = db.begin().await?;
    let all = lock_all(&txn).await?;
    let before = pick(&all, id)?;
    let roles = change.roles.as_ref().map(|r| {
        let mut r = r.clone();
        r.sort();
        r.dedup();
        Role::join(&r)
    });
    let after_active = change.active.unwrap_or(before.active);
    let after_roles = roles.clone().unwrap_or_else(|| before.roles.clone());
    let after_is_admin = after_active && after_roles.split(',').any(|r| r == Role::Admin.as_str());
    keep_an_admin(&all, &before, after_is_admin)?;

    let revoke = hash.is_some()
        || roles.as_ref().is_some_and(|r| *r != before.roles)
        || change.active.is_some_and(|a| a != before.active);
    let version = before.token_version;
    let mut m: user::ActiveModel = before.into();
    if let Some(h) = hash {
        m.password_hash = Set(h);
    }
    if let Some(email) = change.email {
        m.email = Set(email);
    }
    if let Some(r) = roles {
        m.roles = Set(r);
    }
    if let Some(a) = change.active {
        m.active = Set(a);
    }
    if revoke {
        m.token_version = Set(version + 1);
    }
    m.updated_at = Set(Utc::now());
    let saved = m.update(&txn).await?;
    txn.commit().await?;
    Ok(saved.into())
}

/// Deletes a user (their tokens and sessions stop working with them). Refuses
/// ([`StoreError::Conflict`]) to delete the last active admin.
pub async fn delete(db: &DatabaseConnection, id: i64) -> Result<User, StoreError> {
    let txn = db.begin().await?;
    let all = lock_all(&txn).await?;
    let before = pick(&all, id)?;
    keep_an_admin(&all, &before, false)?;
    user::Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    Ok(before.into())
}
