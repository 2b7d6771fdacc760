//! Team roles (issue 14): single-use invitations to join an integrator, and
//! an access level on API keys (`full`, or `read_only` for reporting tools).
//!
//! Roles are text on `users.role` already, so new roles need no change.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn text(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.text().not_null();
    c
}

fn ts(name: &str, nullable: bool) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.timestamp_with_time_zone();
    if nullable {
        c.null();
    } else {
        c.not_null();
    }
    c
}

fn invitations() -> TableCreateStatement {
    Table::create()
        .table(Alias::new("invitations"))
        .if_not_exists()
        .col(text("id").primary_key())
        .col(text("integrator_id"))
        .col(text("role"))
        // The SHA-256 of the link's token: the token itself is shown once.
        .col(text("token_hash"))
        .col(text("created_by"))
        .col(ts("created_at", false))
        .col(ts("expires_at", false))
        .col(ts("accepted_at", true))
        .col(ColumnDef::new(Alias::new("accepted_by")).text().null())
        .col(ts("revoked_at", true))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(invitations()).await?;
        for (name, col, unique) in [
            ("ux_invitations_token_hash", "token_hash", true),
            ("ix_invitations_integrator_id", "integrator_id", false),
        ] {
            let mut index = Index::create();
            index
                .name(name)
                .table(Alias::new("invitations"))
                .col(Alias::new(col))
                .if_not_exists();
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("api_keys"))
                    .add_column(
                        ColumnDef::new(Alias::new("access"))
                            .text()
                            .not_null()
                            .default("full"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("api_keys"))
                    .drop_column(Alias::new("access"))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new("invitations"))
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
