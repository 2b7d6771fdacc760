//! Security hardening (issue 11): a Mercado Pago application's client id
//! belongs to one integrator.
//!
//! Existing duplicates: the oldest integrator (by `created_at`, then id)
//! keeps the client id; on every other one it is cleared, so that
//! integrator has to save (and prove, see `integrator_app::update`) its
//! application again before OAuth works for it. Empty strings become NULL
//! (NULLs do not collide in a unique index on SQLite or PostgreSQL).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "ux_integrators_mp_client_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE integrators SET mp_client_id = NULL WHERE TRIM(mp_client_id) = ''",
        )
        .await?;
        // Portable SQL (both backends): clear the id wherever an older
        // integrator (or an equally old one with a smaller id) has it too.
        db.execute_unprepared(
            "UPDATE integrators SET mp_client_id = NULL \
             WHERE mp_client_id IS NOT NULL AND EXISTS ( \
               SELECT 1 FROM integrators AS older \
               WHERE older.mp_client_id = integrators.mp_client_id \
                 AND (older.created_at < integrators.created_at \
                      OR (older.created_at = integrators.created_at AND older.id < integrators.id)))",
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Alias::new("integrators"))
                    .col(Alias::new("mp_client_id"))
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(Alias::new("integrators"))
                    .to_owned(),
            )
            .await
    }
}
