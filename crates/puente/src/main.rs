//! `puente`: one binary, every role.

mod allocator;
mod boot;
mod cli;
mod demo;
mod integrator;
mod roles;
mod sandbox_app;

use std::process::ExitCode;

use clap::Parser;
use platform_core::config::{ConfigError, LogFormat, RawSettings, Settings};
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command, IntegratorCommand, KeysCommand};

/// Why the process stops: a bad setting (exit 2) or a failure (exit 1).
#[derive(Debug)]
pub enum Failure {
    Config(ConfigError),
    Other(anyhow::Error),
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Config(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

fn main() -> ExitCode {
    allocator::tune();
    let cli = Cli::parse();
    let settings = match load_settings(&cli) {
        Ok(s) => s,
        Err(e) => return report(Failure::Config(e)),
    };
    init_logging(settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return report(Failure::Other(e.into())),
    };
    let sandbox = cli.opts.sandbox_flags();
    match runtime.block_on(run(cli.command.unwrap_or(Command::All), settings, sandbox)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => report(f),
    }
}

fn load_settings(cli: &Cli) -> Result<Settings, ConfigError> {
    let file = match &cli.opts.config {
        Some(path) => RawSettings::from_toml_file(path)?,
        None => RawSettings::default(),
    };
    Settings::resolve(cli.opts.raw_settings().or(file))
}

async fn run(
    command: Command,
    settings: Settings,
    sandbox: cli::SandboxFlags,
) -> Result<(), Failure> {
    match command {
        Command::All => roles::all(settings, sandbox).await,
        Command::Web => roles::web(settings).await,
        Command::Worker => roles::worker(settings).await,
        Command::Sandbox => roles::sandbox(settings, sandbox).await,
        Command::Migrate => {
            let mut settings = settings;
            settings.migrate_on_start = true;
            boot::database(&settings).await?;
            println!("Migrations applied.");
            Ok(())
        }
        Command::Keys(KeysCommand::Generate { id }) => {
            let id = id.unwrap_or_else(|| format!("k{}", chrono::Utc::now().format("%Y%m%d")));
            platform_core::crypto::MasterKey::new(&id, &[0; 32])
                .map_err(|e| Failure::Config(ConfigError::new("--id", e.to_string())))?;
            let spec = platform_core::crypto::MasterKey::generate_spec(&id);
            println!("{}", spec.expose_secret());
            Ok(())
        }
        Command::Integrator(IntegratorCommand::Create {
            name,
            email,
            password,
            sponsor_id,
            json,
        }) => {
            let keyring = boot::keyring(&settings)?;
            let db = boot::database(&settings).await?;
            let created =
                integrator::create(&db, &keyring, &settings, name, email, password, sponsor_id)
                    .await?;
            integrator::print(&created, json);
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate { batch_size }) => {
            let keyring = boot::keyring(&settings)?;
            let db = boot::database(&settings).await?;
            let report = platform_core::keys::rotate(&db, &keyring, batch_size)
                .await
                .map_err(|e| {
                    Failure::Other(anyhow::anyhow!(
                        "rotation stopped: {e}; fix the cause and run it again (it resumes)"
                    ))
                })?;
            println!(
                "Rotated to key `{}`: {} values re-encrypted, {} already current.",
                keyring.newest_id(),
                report.rewritten,
                report.already_current
            );
            Ok(())
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,actix_server=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // Span fields on every line (the current span and its parents): a
        // request's `request_id`, `method`, `path` and, once known,
        // `integrator_id` (platform-web's request_id.rs).
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
        LogFormat::Text => builder.init(),
    }
}

fn report(failure: Failure) -> ExitCode {
    match failure {
        Failure::Config(e) => {
            eprintln!("puente: {e}");
            ExitCode::from(2)
        }
        Failure::Other(e) => {
            eprintln!("puente: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
