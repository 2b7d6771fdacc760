//! Money state kept apart from what Mercado Pago reports:
//! - a pending cancel is its own columns, not a `status_detail` value that an
//!   upstream update could overwrite;
//! - `requires_attention` flags an intent whose outcome contradicts what a
//!   POS asked for (paid after a cancel was requested), so staff see it.
//!
//! SQLite alters one column per statement, so each column is its own ALTER.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn intents() -> Alias {
    Alias::new("payment_intents")
}

fn columns() -> Vec<ColumnDef> {
    vec![
        // `requested` | `accepted` | `refused` | `done`; NULL = none asked.
        ColumnDef::new(Alias::new("cancel_state"))
            .text()
            .null()
            .to_owned(),
        ColumnDef::new(Alias::new("cancel_at_terminal"))
            .boolean()
            .not_null()
            .default(false)
            .to_owned(),
        ColumnDef::new(Alias::new("cancel_requested_at"))
            .timestamp_with_time_zone()
            .null()
            .to_owned(),
        ColumnDef::new(Alias::new("requires_attention"))
            .boolean()
            .not_null()
            .default(false)
            .to_owned(),
        ColumnDef::new(Alias::new("attention_reason"))
            .text()
            .null()
            .to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for mut column in columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(intents())
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "cancel_state",
            "cancel_at_terminal",
            "cancel_requested_at",
            "requires_attention",
            "attention_reason",
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(intents())
                        .drop_column(Alias::new(name))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
