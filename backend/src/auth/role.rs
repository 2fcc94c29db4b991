//! Roles and permissions: the single table of who may do what.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A role (users) or scope (API clients).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including users, clients and settings.
    Admin,
    /// Read and write processes, jobs, cronjobs and groups.
    Operator,
    /// Read only.
    Viewer,
}

/// Something a request needs to be allowed to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// See processes, jobs, cronjobs, groups, logs and history.
    Read,
    /// Register, start, stop, change and remove processes, jobs, cronjobs and groups.
    Operate,
    /// Manage users, API clients and settings.
    Admin,
}

impl Role {
    /// Every role, in order of decreasing power.
    pub const ALL: [Role; 3] = [Role::Admin, Role::Operator, Role::Viewer];

    /// Does this role allow `perm`? The only place this is decided.
    pub fn allows(self, perm: Permission) -> bool {
        match self {
            Role::Admin => true,
            Role::Operator => matches!(perm, Permission::Read | Permission::Operate),
            Role::Viewer => matches!(perm, Permission::Read),
        }
    }

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    /// Parses a comma-separated list (`"admin,viewer"`), ignoring blanks and duplicates.
    pub fn parse_list(s: &str) -> Result<Vec<Role>, String> {
        let mut out: Vec<Role> = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let role: Role = part.parse()?;
            if !out.contains(&role) {
                out.push(role);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Formats roles as the comma-separated list stored in the database.
    pub fn join(roles: &[Role]) -> String {
        roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "operator" => Ok(Role::Operator),
            "viewer" => Ok(Role::Viewer),
            other => Err(format!("unknown role {other:?} (expected admin, operator or viewer)")),
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Permission::Read => "read",
            Permission::Operate => "operate",
            Permission::Admin => "admin",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_table() {
        use Permission::*;
        let table = [
            (Role::Admin, [true, true, true]),
            (Role::Operator, [true, true, false]),
            (Role::Viewer, [true, false, false]),
        ];
        for (role, expected) in table {
            for (perm, want) in [Read, Operate, Admin].into_iter().zip(expected) {
                assert_eq!(role.allows(perm), want, "{role} {perm}");
            }
        }
    }

    #[test]
    fn parse_list() {
        assert_eq!(Role::parse_list("viewer, admin,admin"), Ok(vec![Role::Admin, Role::Viewer]));
        assert_eq!(Role::parse_list(""), Ok(vec![]));
        assert!(Role::parse_list("root").is_err());
        assert_eq!(Role::join(&[Role::Admin, Role::Viewer]), "admin,viewer");
    }
}
