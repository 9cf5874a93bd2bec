//! The demo account's password. Loading the demo market is an application service
//! ([`quantdesk_app::demo`]).

pub use quantdesk_app::demo::*;

/// The demo account's password: the configured `demo_password`, or a new random one when none
/// is configured, with whether it was generated.
pub fn demo_password(configured: &crate::config::Secret) -> (String, bool) {
    match configured.expose() {
        "" => (crate::auth::secrets::random_hex(8), true),
        p => (p.to_string(), false),
    }
}
