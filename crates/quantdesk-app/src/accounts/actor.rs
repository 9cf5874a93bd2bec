//! Who acts, and what they may do: the [`Actor`] every account operation is called with.

use quantdesk_store::auth::{Role, User};

/// What a caller may do. Keys carry a subset of their user's scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Read market data and one's own objects.
    Read,
    /// Run jobs (backtests, sweeps, imports) and manage one's own schedules.
    Jobs,
    /// Administer users, keys and the system.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Jobs, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Jobs => "jobs",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s.trim())
    }

    /// The scopes a role grants.
    pub fn of_role(role: Role) -> &'static [Scope] {
        match role {
            Role::Viewer => &[Scope::Read],
            Role::Analyst => &[Scope::Read, Scope::Jobs],
            Role::Admin => &Scope::ALL,
        }
    }
}

/// How the actor came: what proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    /// A browser session: state changes need its CSRF token.
    Session { id_hash: String, csrf: String },
    /// An API key with its own scopes, and when it expires (Unix ms).
    Key { id: i64, scopes: Vec<Scope>, expires_at: Option<i64> },
    /// The command line, run by the operator of the server for an account (`quantdesk key
    /// create`): the account's role, no session, no key.
    CommandLine,
}

impl Via {
    /// `session`, `key` or `command_line`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Via::Session { .. } => "session",
            Via::Key { .. } => "key",
            Via::CommandLine => "command_line",
        }
    }
}

/// The user an operation is done for, with how they came. The HTTP layer resolves one from a
/// session or an API key; the command line makes one with [`Actor::command_line`].
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i64,
    pub email: String,
    pub role: Role,
    pub via: Via,
}

impl Actor {
    pub fn of_user(u: &User, via: Via) -> Self {
        Actor { user_id: u.id, email: u.email.clone(), role: u.role, via }
    }

    /// The operator acting for `u` from the command line, with `u`'s role.
    pub fn command_line(u: &User) -> Self {
        Self::of_user(u, Via::CommandLine)
    }

    /// What this actor may do now: the role's scopes, narrowed by the key's.
    pub fn can(&self, scope: Scope) -> bool {
        let by_role = Scope::of_role(self.role).contains(&scope);
        match &self.via {
            Via::Session { .. } | Via::CommandLine => by_role,
            Via::Key { scopes, .. } => by_role && scopes.contains(&scope),
        }
    }

    /// Every scope this actor has now, in [`Scope::ALL`]'s order.
    pub fn scopes(&self) -> Vec<Scope> {
        Scope::ALL.into_iter().filter(|s| self.can(*s)).collect()
    }

    /// Admins see everything.
    pub fn is_admin(&self) -> bool {
        self.can(Scope::Admin)
    }

    /// The owner string stored on the actor's objects.
    pub fn owner(&self) -> String {
        self.user_id.to_string()
    }

    /// Whether an object owned by `owner` is visible to the actor.
    pub fn sees(&self, owner: &str) -> bool {
        self.is_admin() || owner == self.owner()
    }

    /// The session's CSRF token, for pages.
    pub fn csrf(&self) -> Option<&str> {
        match &self.via {
            Via::Session { csrf, .. } => Some(csrf),
            Via::Key { .. } | Via::CommandLine => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_acts_with_the_accounts_role() {
        let a = |role| Actor { user_id: 7, email: "a@x.test".into(), role, via: Via::CommandLine };
        assert_eq!(a(Role::Analyst).scopes(), [Scope::Read, Scope::Jobs]);
        assert!(a(Role::Admin).is_admin() && a(Role::Admin).sees("1"));
        assert!(!a(Role::Viewer).can(Scope::Jobs) && a(Role::Viewer).sees("7") && !a(Role::Viewer).sees("8"));
        assert_eq!(a(Role::Viewer).csrf(), None);
        assert_eq!(a(Role::Viewer).via.as_str(), "command_line");
    }
}
