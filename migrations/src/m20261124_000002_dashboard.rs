//! What the dashboard needs beyond the initial schema: server-side login
//! sessions and login throttling counters.

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

fn sessions() -> TableCreateStatement {
    Table::create()
        .table(Alias::new("sessions"))
        .if_not_exists()
        // The SHA-256 of the cookie value: a leaked table opens no session.
        .col(text("id").primary_key())
        .col(text("integrator_id"))
        .col(text("user_id"))
        .col(text("csrf_token"))
        .col(ColumnDef::new(Alias::new("ip")).text().null())
        .col(ts("created_at", false))
        .col(ts("last_seen_at", false))
        .col(ts("expires_at", false))
        .to_owned()
}

fn login_throttles() -> TableCreateStatement {
    Table::create()
        .table(Alias::new("login_throttles"))
        .if_not_exists()
        // `email:<address>` or `ip:<address>`.
        .col(text("id").primary_key())
        .col(
            ColumnDef::new(Alias::new("failures"))
                .integer()
                .not_null()
                .default(0),
        )
        .col(ts("window_started_at", false))
        .col(ts("locked_until", true))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(sessions()).await?;
        manager.create_table(login_throttles()).await?;
        for (name, col) in [
            ("ix_sessions_user_id", "user_id"),
            ("ix_sessions_expires_at", "expires_at"),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Alias::new("sessions"))
                        .col(Alias::new(col))
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["login_throttles", "sessions"] {
            manager
                .drop_table(Table::drop().table(Alias::new(t)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
