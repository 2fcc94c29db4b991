//! Users: creation (argon2id-hashed password), look-up, listing.

use crate::auth::{password, Role};
use crate::entity::user;
use crate::error::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
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
