//! What every dashboard page shows around its content: navigation, the
//! user, the language switch, the CSRF token for its forms.

use platform_core::permissions::Permission;

use super::lang::{Lang, Tr};
use super::session::Auth;
use crate::state::AppState;

pub struct Chrome {
    pub t: Tr,
    pub user_name: String,
    pub user_email: String,
    pub csrf: String,
    /// Which navigation entry is current.
    pub nav: &'static str,
    pub sandbox: bool,
    /// The current path, for the language switch to come back to.
    pub path: String,
    /// A success message key from `?done=…`, shown once at the top.
    pub notice: Option<&'static str>,
    /// What the user's role may do, so pages hide what it cannot use (the
    /// handlers check again: this is only what is shown).
    pub can: Can,
}

/// The user's permissions as template flags.
pub struct Can {
    pub team: bool,
    pub settings: bool,
    pub sellers: bool,
    pub keys: bool,
    pub webhooks: bool,
    pub charge: bool,
    pub refund: bool,
}

impl Can {
    pub fn of(auth: &Auth) -> Self {
        Can {
            team: auth.can(Permission::ManageTeam),
            settings: auth.can(Permission::ManageSettings),
            sellers: auth.can(Permission::ManageSellers),
            keys: auth.can(Permission::ManageKeys),
            webhooks: auth.can(Permission::ManageWebhooks),
            charge: auth.can(Permission::Charge),
            refund: auth.can(Permission::Refund),
        }
    }
}

/// Success messages a redirect may ask for (anything else is ignored).
const NOTICES: &[&str] = &[
    "notice.settings_saved",
    "notice.link_revoked",
    "notice.seller_unlinked",
    "notice.seller_synced",
    "notice.store_saved",
    "notice.pos_saved",
    "notice.mode_changed",
    "notice.mode_unchanged",
    "notice.key_revoked",
    "notice.intent_canceled",
    "notice.refund_requested",
    "notice.delivery_replayed",
    "notice.endpoint_saved",
    "notice.invitation_revoked",
    "notice.member_removed",
    "notice.role_changed",
];

impl Chrome {
    pub fn new(auth: &Auth, state: &AppState, nav: &'static str) -> Self {
        let done = auth
            .path
            .split_once("done=")
            .map(|(_, rest)| rest.split('&').next().unwrap_or(""))
            .and_then(|d| {
                NOTICES
                    .iter()
                    .copied()
                    .find(|n| n.strip_prefix("notice.") == Some(d))
            });
        Chrome {
            t: auth.t(),
            user_name: auth.session.user.name.clone(),
            user_email: auth.session.user.email.clone(),
            csrf: auth.session.csrf_token.clone(),
            nav,
            sandbox: state.settings.sandbox_mode(),
            path: auth.path.clone(),
            notice: done,
            can: Can::of(auth),
        }
    }

    pub fn langs(&self) -> [Lang; 3] {
        Lang::ALL
    }

    pub fn lang_code(&self) -> &'static str {
        self.t.lang().code()
    }

    pub fn switch_url(&self, lang: &Lang) -> String {
        format!(
            "/app/lang/{}?next={}",
            lang.code(),
            super::forms::urlencode(&self.path)
        )
    }

    pub fn is_lang(&self, lang: &Lang) -> bool {
        *lang == self.t.lang()
    }
}
