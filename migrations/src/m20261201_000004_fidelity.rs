//! What the Mercado Pago-compatible surface shows of an order beyond the
//! intent row (the POS's `expiration_time` and integration ids, and what
//! Mercado Pago reported: the card brand, the payment's and refunds'
//! `reference_id`), and the payment that paid a QR order.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn text_null(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.text().null();
    c
}

fn mp_order_details() -> TableCreateStatement {
    Table::create()
        .table(Alias::new("mp_order_details"))
        .if_not_exists()
        .col(
            ColumnDef::new(Alias::new("intent_id"))
                .text()
                .not_null()
                .primary_key(),
        )
        .col(
            ColumnDef::new(Alias::new("integrator_id"))
                .text()
                .not_null(),
        )
        .col(text_null("expiration_time"))
        .col(text_null("platform_id"))
        .col(text_null("mp_integrator_id"))
        .col(text_null("payment_method_id"))
        .col(text_null("reference_id"))
        // JSON object: Mercado Pago refund id → its `reference_id`.
        .col(text_null("refund_references"))
        .col(
            ColumnDef::new(Alias::new("updated_at"))
                .timestamp_with_time_zone()
                .not_null(),
        )
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(mp_order_details()).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("qr_orders"))
                    .add_column(text_null("mp_payment_id"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("qr_orders"))
                    .drop_column(Alias::new("mp_payment_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new("mp_order_details"))
                    .to_owned(),
            )
            .await
    }
}
