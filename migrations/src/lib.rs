//! Database migrations, shared by SQLite and PostgreSQL.
//!
//! Conventions (so one schema serves both databases):
//! - ids are text (`sel_01jq…`, see `platform_core::id`), never integers;
//! - every tenant table carries `integrator_id`, and seller-owned tables
//!   `seller_id`, so a tenant scope is a plain column filter;
//! - states are text written by Rust enums; amounts are integer minor units;
//! - JSON is stored as text (portable; never queried inside);
//! - encrypted columns hold `v1.<key id>.<base64>` text from `platform_core::crypto`.

pub use sea_orm_migration;
use sea_orm_migration::prelude::*;

mod m20261123_000001_init;
mod m20261124_000002_dashboard;
mod m20261124_000003_refresh_lease;
mod m20261201_000001_money_state;
mod m20261201_000004_fidelity;
mod m20261202_000005_security;
mod m20261204_000006_team;
mod m20261204_000007_report_indexes;
mod m20261205_000008_compat_registry;
mod m20261207_000009_due_indexes;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_init::Migration),
            Box::new(m20261124_000002_dashboard::Migration),
            Box::new(m20261124_000003_refresh_lease::Migration),
            Box::new(m20261201_000001_money_state::Migration),
            Box::new(m20261201_000004_fidelity::Migration),
            Box::new(m20261202_000005_security::Migration),
            Box::new(m20261204_000006_team::Migration),
            Box::new(m20261204_000007_report_indexes::Migration),
            Box::new(m20261205_000008_compat_registry::Migration),
            Box::new(m20261207_000009_due_indexes::Migration),
        ]
    }
}
