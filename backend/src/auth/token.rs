//! JSON Web Tokens (HS256) for the API.
//!
//! A token names its principal and carries the principal's *version*; the version is
//! compared with the stored one on every request, so deactivating or deleting a user,
//! or changing their password or roles, ends every token issued before.

use super::{AuthError, Principal, PrincipalKind, Role};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A token as returned by `POST /auth/login` (upstream's shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// Always `"Bearer"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The JWT.
    pub value: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// `user:<id>` or `client:<id>`
    sub: String,
    name: String,
    roles: Vec<Role>,
    ver: i64,
    iat: i64,
    exp: i64,
}

/// Signs and checks tokens with one HMAC key.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    lifetime: Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys").field("key", &"[redacted]").field("lifetime", &self.lifetime).finish()
    }
}

/// What a valid token claims; the caller checks it against the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedClaims {
    /// Principal kind.
    pub kind: PrincipalKind,
    /// Row id.
    pub id: i64,
    /// Version the token was issued for.
    pub version: i64,
}

impl TokenKeys {
    /// Keys from a secret; tokens live `lifetime`.
    pub fn new(secret: &[u8], lifetime: Duration) -> Self {
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), lifetime }
    }

    /// Issues a token for `p`, valid from now.
    pub fn issue(&self, p: &Principal) -> Result<Token, AuthError> {
        self.issue_at(p, Utc::now())
    }

    fn issue_at(&self, p: &Principal, now: DateTime<Utc>) -> Result<Token, AuthError> {
        let lifetime = chrono::Duration::from_std(self.lifetime).map_err(|e| AuthError::Internal(e.to_string()))?;
        let exp = now + lifetime;
        let sub = match p.kind {
            PrincipalKind::User => format!("user:{}", p.id),
            PrincipalKind::Client => format!("client:{}", p.id),
            PrincipalKind::Anonymous => return Err(AuthError::Internal("no tokens for anonymous".into())),
        };
        let claims = Claims {
            sub,
            name: p.name.clone(),
            roles: p.roles.clone(),
            ver: p.version,
            iat: now.timestamp(),
            exp: exp.timestamp(),
        };
        let value = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(Token {
            kind: "Bearer".into(),
            value,
            expires_at: DateTime::from_timestamp(exp.timestamp(), 0).unwrap_or(exp),
        })
    }

    /// Checks signature and expiry; says nothing about revocation (see module docs).
    pub fn verify(&self, token: &str) -> Result<VerifiedClaims, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(|_| AuthError::Invalid)?;
        let c = data.claims;
        let (kind, id) = match c.sub.split_once(':') {
            Some(("user", id)) => (PrincipalKind::User, id.parse().map_err(|_| AuthError::Invalid)?),
            Some(("client", id)) => (PrincipalKind::Client, id.parse().map_err(|_| AuthError::Invalid)?),
            _ => return Err(AuthError::Invalid),
        };
        Ok(VerifiedClaims { kind, id, version: c.ver })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Principal {
        Principal { kind: PrincipalKind::User, id: 7, name: "alice".into(), roles: vec![Role::Viewer], version: 3 }
    }

    #[test]
    fn issue_and_verify() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60));
        let t = keys.issue(&alice()).expect("issue");
        assert_eq!(t.kind, "Bearer");
        assert_eq!(
            keys.verify(&t.value).expect("verify"),
            VerifiedClaims { kind: PrincipalKind::User, id: 7, version: 3 }
        );
    }

    #[test]
    fn clients_and_users_are_told_apart() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60));
        let ci = Principal {
            kind: PrincipalKind::Client,
            id: 7,
            name: "ci".into(),
            roles: vec![Role::Operator],
            version: 2,
        };
        let t = keys.issue(&ci).expect("issue");
        assert_eq!(
            keys.verify(&t.value).expect("verify"),
            VerifiedClaims { kind: PrincipalKind::Client, id: 7, version: 2 }
        );
    }

    #[test]
    fn rejects_other_keys_and_garbage() {
        let a = TokenKeys::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60));
        let b = TokenKeys::new(b"fedcba9876543210fedcba9876543210", Duration::from_secs(60));
        let t = a.issue(&alice()).expect("issue");
        assert!(b.verify(&t.value).is_err());
        assert!(a.verify("not.a.jwt").is_err());
    }

    #[test]
    fn rejects_expired() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60));
        let an_hour_ago = Utc::now() - chrono::Duration::hours(1);
        let t = keys.issue_at(&alice(), an_hour_ago).expect("issue");
        assert!(keys.verify(&t.value).is_err());
    }
}
