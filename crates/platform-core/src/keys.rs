//! Master keys: where they come from, and re-encrypting under the newest.

use crate::clock;
use crate::db::Db;
use std::path::{Path, PathBuf};

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query};

use crate::config::{ConfigError, Settings};
use crate::crypto::{Aad, Keyring, MasterKey};
use crate::entities::ENCRYPTED_COLUMNS;
use crate::error::CoreError;
use crate::secret::SecretString;

pub const GENERATED_KEY_FILE: &str = "master.key";

/// How the keyring was obtained, so start-up can warn about a generated key.
#[derive(Debug)]
pub enum KeySource {
    Configured,
    /// Sandbox mode only: read from (or just written to) `data_dir/master.key`.
    LocalFile {
        path: PathBuf,
        created: bool,
    },
}

/// `PUENTE_MASTER_KEYS` if set; in sandbox mode a key generated once into
/// the data directory (0600); otherwise a start-up error.
pub fn load_keyring(settings: &Settings) -> Result<(Keyring, KeySource), ConfigError> {
    if let Some(spec) = &settings.master_keys {
        let ring = Keyring::from_spec(spec)
            .map_err(|e| ConfigError::new("PUENTE_MASTER_KEYS", e.to_string()))?;
        return Ok((ring, KeySource::Configured));
    }
    if !settings.sandbox_mode() {
        return Err(ConfigError::new(
            "PUENTE_MASTER_KEYS",
            "is required with a real Mercado Pago upstream (generate one with `puente keys generate`)",
        ));
    }
    let path = settings.data_dir.join(GENERATED_KEY_FILE);
    let (spec, created) = read_or_create_key_file(&path)
        .map_err(|e| ConfigError::new("PUENTE_MASTER_KEYS", format!("{}: {e}", path.display())))?;
    let ring = Keyring::from_spec(&spec)
        .map_err(|e| ConfigError::new("PUENTE_MASTER_KEYS", format!("{}: {e}", path.display())))?;
    Ok((ring, KeySource::LocalFile { path, created }))
}

fn read_or_create_key_file(path: &Path) -> std::io::Result<(SecretString, bool)> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((SecretString::from(text.trim()), false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let id = format!("local-{}", clock::now().format("%Y%m%d"));
            let spec = MasterKey::generate_spec(&id);
            write_private(path, spec.expose_secret())?;
            Ok((spec, true))
        }
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())?;
    f.write_all(b"\n")
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// What a rotation did, per run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RotationReport {
    pub rewritten: u64,
    pub already_current: u64,
}

/// Re-encrypts every sealed value not yet under the newest key.
///
/// Works table by table in id order, `batch_size` rows at a time. Each row
/// is rewritten only if its value is unchanged since it was read, so it is
/// safe beside running web and worker processes; an interrupted run is
/// resumed by running it again (current rows are skipped).
pub async fn rotate(
    db: &Db,
    keyring: &Keyring,
    batch_size: u64,
) -> Result<RotationReport, CoreError> {
    let mut report = RotationReport::default();
    let backend = db.get_database_backend();
    for &(table, column) in ENCRYPTED_COLUMNS {
        let mut after = String::new();
        loop {
            let select = Query::select()
                .column(Alias::new("id"))
                .column(Alias::new(column))
                .from(Alias::new(table))
                .and_where(Expr::col(Alias::new("id")).gt(after.clone()))
                .and_where(Expr::col(Alias::new(column)).is_not_null())
                .order_by(Alias::new("id"), Order::Asc)
                .limit(batch_size)
                .to_owned();
            let rows = db.query_all_raw(backend.build(&select)).await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let id: String = row.try_get("", "id")?;
                let sealed: String = row.try_get("", column)?;
                after.clone_from(&id);
                if keyring.is_current(&sealed) {
                    report.already_current += 1;
                    continue;
                }
                let aad = Aad::new(table, column, &id);
                let plain = keyring.open(&sealed, aad)?;
                let resealed = keyring.seal(&plain, aad);
                let update = Query::update()
                    .table(Alias::new(table))
                    .value(Alias::new(column), resealed)
                    .and_where(Expr::col(Alias::new("id")).eq(id.clone()))
                    .and_where(Expr::col(Alias::new(column)).eq(sealed))
                    .to_owned();
                let res = db.execute_raw(backend.build(&update)).await?;
                // 0 rows: someone rewrote it meanwhile, under the newest key.
                report.rewritten += res.rows_affected();
            }
        }
    }
    Ok(report)
}
