//! A lease on a seller's credentials while one process refreshes them.
//! Refresh tokens are single-use: two processes refreshing at once would
//! make the second one fail and wrongly flag the seller for reconnection.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("seller_credentials"))
                    .add_column(
                        ColumnDef::new(Alias::new("refresh_lease_until"))
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("seller_credentials"))
                    .drop_column(Alias::new("refresh_lease_until"))
                    .to_owned(),
            )
            .await
    }
}
