//! What the Mercado Pago-compatible surface shows of the registry and of QR
//! orders beyond the native columns (issue 13): a store's business hours
//! and a POS's QR (image, templates, uuid, EMV code) as Mercado Pago
//! answered them, and a QR order's body as it was sent upstream (its GET
//! answers it). JSON as text, never queried inside.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: &[(&str, &str)] = &[
    ("stores", "business_hours"),
    ("pos", "qr"),
    ("qr_orders", "request"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for (table, column) in COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(*table))
                        .add_column(ColumnDef::new(Alias::new(*column)).text().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(*table))
                        .drop_column(Alias::new(*column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
