//! The authentication service: credentials in, [`Principal`] out.

use super::token::TokenKeys;
use super::{password, AuthError, Principal, PrincipalKind, Role, Token};
use crate::error::StoreError;
use crate::store::{clients, settings, users};
use sea_orm::DatabaseConnection;
use std::time::Duration;

/// How auth is set up (from the `[auth]` config section).
#[derive(Clone)]
pub struct AuthSettings {
    /// `false` lets every request through as [`Principal::anonymous`].
    pub enabled: bool,
    /// HMAC secret for tokens; when `None`, a random one is generated once and kept
    /// in the store, so tokens survive daemon restarts.
    pub jwt_secret: Option<String>,
    /// How long a token lives.
    pub token_lifetime: Duration,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("enabled", &self.enabled)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "[redacted]"))
            .field("token_lifetime", &self.token_lifetime)
            .finish()
    }
}

/// The first admin, created at start when missing.
#[derive(Clone)]
pub struct AdminBootstrap {
    /// Create it at all.
    pub auto_create: bool,
    /// Its name.
    pub username: String,
    /// Its password; `None` generates a random one (returned once to the caller).
    pub password: Option<String>,
    /// Its e-mail address.
    pub email: Option<String>,
}

/// What a successful login yields.
#[derive(Clone, Debug)]
pub struct LoginOutcome {
    /// Who signed in.
    pub principal: Principal,
    /// A fresh token.
    pub token: Token,
}

/// Authenticates callers against the store.
#[derive(Debug)]
pub struct Auth {
    enabled: bool,
    keys: TokenKeys,
}

const JWT_SECRET_KEY: &str = "jwt_secret";

impl Auth {
    /// Sets up the service, generating and storing a signing secret on first start.
    pub async fn new(db: &DatabaseConnection, settings: AuthSettings) -> Result<Self, StoreError> {
        let secret = match settings.jwt_secret {
            Some(s) => s,
            None => settings::get_or_insert(db, JWT_SECRET_KEY, &password::random_secret(64)).await?,
        };
        Ok(Self { enabled: settings.enabled, keys: TokenKeys::new(secret.as_bytes(), settings.token_lifetime) })
    }

    /// Is auth enabled?
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Checks a user name and password. Unknown user, wrong password and inactive user
    /// are the same [`AuthError::Invalid`], after the same amount of hashing work.
    pub async fn login_password(
        &self,
        db: &DatabaseConnection,
        username: &str,
        password: &str,
    ) -> Result<Principal, AuthError> {
        let found = users::find_by_username(db, username).await.map_err(store_err)?;
        let pw = password.to_owned();
        let (user, ok) = match found {
            Some((user, hash)) => {
                let ok = tokio::task::spawn_blocking(move || password::verify(&pw, &hash))
                    .await
                    .map_err(|e| AuthError::Internal(e.to_string()))?;
                (Some(user), ok)
            }
            None => {
                tokio::task::spawn_blocking(move || password::verify_dummy(&pw))
                    .await
                    .map_err(|e| AuthError::Internal(e.to_string()))?;
                (None, false)
            }
        };
        match user {
            Some(u) if ok && u.active => Ok(principal_of(&u)),
            _ => Err(AuthError::Invalid),
        }
    }

    /// Checks API client credentials. Unknown client, wrong secret and inactive client
    /// are the same [`AuthError::Invalid`], after the same amount of hashing work.
    pub async fn login_client(
        &self,
        db: &DatabaseConnection,
        client_id: &str,
        secret: &str,
    ) -> Result<Principal, AuthError> {
        let found = clients::find_by_client_id(db, client_id).await.map_err(store_err)?;
        let given = secret.to_owned();
        let (client, ok) = match found {
            Some((client, hash)) => {
                let ok = tokio::task::spawn_blocking(move || password::verify(&given, &hash))
                    .await
                    .map_err(|e| AuthError::Internal(e.to_string()))?;
                (Some(client), ok)
            }
            None => {
                tokio::task::spawn_blocking(move || password::verify_dummy(&given))
                    .await
                    .map_err(|e| AuthError::Internal(e.to_string()))?;
                (None, false)
            }
        };
        match client {
            Some(c) if ok && c.active => Ok(principal_of_client(&c)),
            _ => Err(AuthError::Invalid),
        }
    }

    /// The principal of an API client token, if the client still exists, is active and
    /// has not changed (scopes, secret) since the token was issued.
    pub async fn current_client(&self, db: &DatabaseConnection, id: i64, version: i64) -> Result<Principal, AuthError> {
        match clients::get(db, id).await.map_err(store_err)? {
            Some(c) if c.active && c.token_version == version => Ok(principal_of_client(&c)),
            _ => Err(AuthError::Invalid),
        }
    }

    /// Issues a token for `p`.
    pub fn issue_token(&self, p: &Principal) -> Result<Token, AuthError> {
        self.keys.issue(p)
    }

    /// The principal a bearer token stands for, if it is valid and not revoked.
    pub async fn from_bearer(&self, db: &DatabaseConnection, token: &str) -> Result<Principal, AuthError> {
        let claims = self.keys.verify(token)?;
        match claims.kind {
            PrincipalKind::User => self.current_user(db, claims.id, claims.version).await,
            PrincipalKind::Client => self.current_client(db, claims.id, claims.version).await,
            PrincipalKind::Anonymous => Err(AuthError::Invalid),
        }
    }

    /// The principal of a console session (user id and version saved at sign-in),
    /// if the user still exists, is active and has not changed since.
    pub async fn current_user(&self, db: &DatabaseConnection, id: i64, version: i64) -> Result<Principal, AuthError> {
        match users::get(db, id).await.map_err(store_err)? {
            Some(u) if u.active && u.token_version == version => Ok(principal_of(&u)),
            _ => Err(AuthError::Invalid),
        }
    }

    /// Creates the first admin when it is missing and the config asks for it. Returns
    /// the generated password when one was generated (the caller shows it once).
    ///
    /// Nothing happens when a user of that name exists, or when other users exist and
    /// no password is configured (an admin deleted on purpose is not resurrected with a
    /// random password).
    pub async fn ensure_admin(
        &self,
        db: &DatabaseConnection,
        boot: &AdminBootstrap,
    ) -> Result<Option<String>, StoreError> {
        if !boot.auto_create || users::find_by_username(db, &boot.username).await?.is_some() {
            return Ok(None);
        }
        if boot.password.is_none() && users::count(db).await? > 0 {
            return Ok(None);
        }
        let (password, generated) = match &boot.password {
            Some(p) => (p.clone(), false),
            None => (password::random_secret(24), true),
        };
        users::create(
            db,
            users::NewUser {
                username: boot.username.clone(),
                password: password.clone(),
                email: boot.email.clone(),
                roles: vec![Role::Admin],
            },
        )
        .await?;
        tracing::info!(username = %boot.username, "created the initial admin user");
        Ok(generated.then_some(password))
    }
}

fn principal_of(u: &users::User) -> Principal {
    Principal {
        kind: PrincipalKind::User,
        id: u.id,
        name: u.username.clone(),
        roles: u.roles.clone(),
        version: u.token_version,
    }
}

fn principal_of_client(c: &clients::Client) -> Principal {
    Principal {
        kind: PrincipalKind::Client,
        id: c.id,
        name: c.name.clone(),
        roles: c.scopes.clone(),
        version: c.token_version,
    }
}

fn store_err(e: StoreError) -> AuthError {
    match e {
        StoreError::Db(e) => AuthError::Store(e),
        other => AuthError::Internal(other.to_string()),
    }
}
