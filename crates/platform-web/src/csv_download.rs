//! A CSV export as a streamed download, for the API and the dashboard
//! alike: the export is checked first (so a refusal is still a normal error
//! response), then each chunk is sent as the core produces it.

use actix_web::HttpResponse;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::web::Bytes;
use platform_core::CoreError;
use platform_core::exports::{Export, ExportKind};
use platform_core::tenancy::Scope;

use crate::state::AppState;

pub async fn respond(
    state: &AppState,
    scope: &Scope,
    kind: ExportKind,
) -> Result<HttpResponse, CoreError> {
    let name = kind.file_name();
    let export = Export::start(&state.db, scope, kind).await?;
    let db = state.db.clone();
    let chunks = futures_util::stream::try_unfold((export, db), |(mut export, db)| async move {
        match export.next_chunk(&db).await {
            Ok(Some(chunk)) => Ok(Some((Bytes::from(chunk), (export, db)))),
            Ok(None) => Ok(None),
            Err(e) => {
                // The status line is gone: all that is left is to cut the
                // body short, which the client sees as a failed download.
                tracing::warn!(error = %e, "export stopped");
                Err(e)
            }
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .streaming(chunks))
}
