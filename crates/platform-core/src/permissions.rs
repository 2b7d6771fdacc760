//! What each dashboard role may do: one exhaustive table.
//!
//! Every dashboard action names the [`Permission`] it needs, and
//! [`UserRole::allows`] is the only place that says which roles have it, so
//! a new role or permission is a compile error until the table covers it.
//!
//! Admins manage the team too, but only owners may make someone an owner or
//! change or remove an owner (checked in `team`, not here: it depends on the
//! member acted on, not only on the actor).

use crate::states::UserRole;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read every page (sellers, intents, keys, webhooks, audit log…).
    ViewAll,
    /// Invite, re-role and remove members, revoke invitations.
    ManageTeam,
    /// The Mercado Pago application settings.
    ManageSettings,
    /// Onboarding links, seller sync/unlink/relink, store/POS/terminal edits,
    /// test sellers.
    ManageSellers,
    /// Create and revoke API keys.
    ManageKeys,
    /// Webhook endpoints and delivery replays.
    ManageWebhooks,
    /// New payments and their cancels.
    Charge,
    Refund,
}

impl Permission {
    pub const ALL: &'static [Permission] = &[
        Permission::ViewAll,
        Permission::ManageTeam,
        Permission::ManageSettings,
        Permission::ManageSellers,
        Permission::ManageKeys,
        Permission::ManageWebhooks,
        Permission::Charge,
        Permission::Refund,
    ];
}

impl UserRole {
    /// The table. `match` on both sides so nothing is allowed by omission.
    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            UserRole::Owner | UserRole::Admin => true,
            UserRole::Developer => matches!(p, ViewAll | ManageKeys | ManageWebhooks),
            UserRole::Operator => matches!(p, ViewAll | Charge | Refund),
            UserRole::Viewer => matches!(p, ViewAll),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Permission::*;
    use super::*;

    #[test]
    fn the_role_table() {
        let expected: &[(UserRole, &[Permission])] = &[
            (UserRole::Owner, Permission::ALL),
            (UserRole::Admin, Permission::ALL),
            (UserRole::Developer, &[ViewAll, ManageKeys, ManageWebhooks]),
            (UserRole::Operator, &[ViewAll, Charge, Refund]),
            (UserRole::Viewer, &[ViewAll]),
        ];
        assert_eq!(expected.len(), UserRole::ALL.len());
        for (role, allowed) in expected {
            for p in Permission::ALL {
                assert_eq!(role.allows(*p), allowed.contains(p), "{role} {p:?}");
            }
        }
    }

    #[test]
    fn every_role_reads() {
        for role in UserRole::ALL {
            assert!(role.allows(ViewAll), "{role}");
        }
    }
}
