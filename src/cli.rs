//! The `docket` command line: `serve` (default), `migrate`, `check-config`, `healthcheck`,
//! `admin create-user`, `db url`, `storage migrate`.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigArgs, KeyMaterial};
use crate::db::embedded::{self, DataDirLock, Durability, EmbeddedPostgres};
use crate::db::postmaster::{RestartPolicy, Supervisor};
use crate::server::{shutdown_signal, Application};

#[derive(Parser, Debug)]
#[command(
    name = "docket",
    version,
    about = "A self-hostable task tracker server"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server: apply pending migrations, then listen (the default).
    Serve {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Apply pending migrations and exit (for a release step).
    Migrate {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Print the effective configuration (secrets redacted); exit 1 listing every problem.
    CheckConfig {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// GET the local /healthz; exit 0 when it answers 200.
    Healthcheck {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Instance administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The embedded database.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Attachment storage.
    Storage {
        #[command(subcommand)]
        command: StorageCommand,
    },
}

#[derive(Subcommand, Debug)]
enum StorageCommand {
    /// Copy every attachment to another storage while servers run, then switch them to it.
    /// Resumable: run it again after an interruption.
    Migrate {
        /// The storage to move to: `local` or `s3://bucket/prefix`.
        #[arg(long)]
        to: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Create a user; the password is the first line of standard input.
    CreateUser {
        #[arg(long)]
        email: String,
        /// Display name (default: the part of the email before '@').
        #[arg(long)]
        name: Option<String>,
        /// Make the user an instance admin.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Subcommand, Debug)]
enum DbCommand {
    /// Print the connection URL of the embedded database (for psql).
    Url {
        #[command(flatten)]
        config: ConfigArgs,
    },
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve { config: cli.config });
    let mut config_args = match &command {
        Command::Serve { config }
        | Command::Migrate { config }
        | Command::CheckConfig { config }
        | Command::Healthcheck { config }
        | Command::Admin {
            command: AdminCommand::CreateUser { config, .. },
        }
        | Command::Db {
            command: DbCommand::Url { config },
        }
        | Command::Storage {
            command: StorageCommand::Migrate { config, .. },
        } => config.clone(),
    };
    config_args.oidc = crate::config::oidc_variables();
    let config = match Config::from_args(&config_args) {
        Ok(config) => config,
        Err(problems) => {
            eprintln!(
                "docket: the configuration has {} problem(s):",
                problems.len()
            );
            for problem in problems {
                eprintln!("  - {problem}");
            }
            return ExitCode::FAILURE;
        }
    };
    if let Command::CheckConfig { .. } = command {
        print!("{}", config.describe());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("docket: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match command {
            Command::Serve { .. } => serve(config).await,
            Command::Migrate { .. } => migrate(config).await,
            Command::Healthcheck { .. } => healthcheck(&config).await,
            Command::Admin {
                command:
                    AdminCommand::CreateUser {
                        email, name, admin, ..
                    },
            } => create_user(config, email, name, admin).await,
            Command::Db {
                command: DbCommand::Url { .. },
            } => db_url(&config),
            Command::Storage {
                command: StorageCommand::Migrate { to, .. },
            } => migrate_storage(config, &to).await,
            Command::CheckConfig { .. } => unreachable!("handled above"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("docket: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The embedded cluster this process started and supervises, stopped when the process is done
/// with it.
pub struct EmbeddedGuard {
    pub postgres: EmbeddedPostgres,
    /// Present when this process holds the data dir: it started the cluster and watches it.
    supervisor: Option<Supervisor>,
    _lock: Option<DataDirLock>,
}

impl EmbeddedGuard {
    /// Resolves with the reason when the supervisor gives up restarting the cluster.
    pub fn gave_up(&self) -> Option<impl std::future::Future<Output = String> + Send + 'static> {
        self.supervisor.as_ref().map(Supervisor::gave_up)
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        if let Some(supervisor) = self.supervisor {
            supervisor.stop().await?;
            tracing::info!("embedded PostgreSQL stopped");
        }
        Ok(())
    }
}

/// Where the database is: external (`DATABASE_URL`) or the embedded cluster, started here if
/// needed. `exclusive` demands the data-dir lock (the server); admin commands share a cluster
/// that a running server owns.
pub async fn prepare_database(
    mut config: Config,
    exclusive: bool,
) -> anyhow::Result<(Config, tokio_postgres::Config, Option<EmbeddedGuard>)> {
    if let Some(options) = crate::db::external_config(&config)? {
        return Ok((config, options, None));
    }
    let data_dir = config.data_dir.clone();
    let lock = DataDirLock::try_acquire(&data_dir)?;
    if lock.is_none() && exclusive {
        bail!(
            "another docket is already running with the data directory {} (it holds {}); stop \
             it or choose another DOCKET_DATA_DIR",
            data_dir.display(),
            data_dir.join("docket.lock").display()
        );
    }
    let postgres = EmbeddedPostgres::locate(&data_dir)?;
    let supervisor = if lock.is_some() {
        let pg = postgres.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            if pg.ensure_initialized(Durability::Durable)? {
                tracing::info!(dir = %pg.cluster_dir().display(), "created the embedded PostgreSQL cluster");
            }
            Ok(())
        })
        .await??;
        let supervisor = Supervisor::start(postgres.clone(), RestartPolicy::default()).await?;
        if let Err(error) = postgres.ensure_database(embedded::DATABASE).await {
            supervisor.stop().await?;
            return Err(error);
        }
        Some(supervisor)
    } else if !postgres.is_running() {
        bail!("the data directory is locked by another docket, but its database is not running");
    } else {
        None
    };
    if config.jwt_secret.is_none() {
        config.jwt_secret = Some(
            KeyMaterial::new(embedded::dev_secret(&data_dir, "jwt_secret")?)
                .map_err(anyhow::Error::msg)?,
        );
    }
    if config.encryption_key.is_none() {
        config.encryption_key = Some(
            KeyMaterial::new(embedded::dev_secret(&data_dir, "encryption_key")?)
                .map_err(anyhow::Error::msg)?,
        );
    }
    let options = postgres.pg_config(embedded::DATABASE);
    Ok((
        config,
        options,
        Some(EmbeddedGuard {
            postgres,
            supervisor,
            _lock: lock,
        }),
    ))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let _logs = crate::telemetry::init_logging(&config.log, config.log_format);
    let (config, options, embedded) = prepare_database(config, true).await?;
    let app = match Application::build(config, options).await {
        Ok(app) => app,
        Err(error) => {
            if let Some(embedded) = embedded {
                embedded.stop().await?;
            }
            return Err(error);
        }
    };
    let app = match &embedded {
        // The data-dir lock makes this the cluster's only server.
        Some(embedded) => app
            .watch_disk(embedded.postgres.cluster_dir())
            .sole_instance(),
        None => app,
    };
    tracing::info!(address = %app.local_addr(), "docket is listening");
    // A cluster that cannot be kept running ends the server with an error, so that the
    // service manager's restart policy takes over.
    let gave_up = embedded.as_ref().and_then(EmbeddedGuard::gave_up);
    let (failed, mut failure) = tokio::sync::oneshot::channel::<String>();
    let shutdown = async move {
        match gave_up {
            Some(gave_up) => tokio::select! {
                () = shutdown_signal() => {}
                reason = gave_up => {
                    tracing::error!("shutting down: the embedded PostgreSQL cannot be kept running");
                    let _ = failed.send(reason);
                }
            },
            None => shutdown_signal().await,
        }
    };
    let result = app.run_until(shutdown).await;
    if let Some(embedded) = embedded {
        embedded.stop().await?;
    }
    if let Ok(reason) = failure.try_recv() {
        bail!("{reason}");
    }
    tracing::info!("docket stopped");
    result
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let _logs = crate::telemetry::init_logging(&config.log, config.log_format);
    let (config, options, embedded) = prepare_database(config, false).await?;
    let result = async {
        crate::db::migrations::migrate(&crate::db::session_config(&config, &options)?).await?;
        anyhow::Ok(())
    }
    .await;
    if let Some(embedded) = embedded {
        embedded.stop().await?;
    }
    result?;
    println!("migrations are current");
    Ok(())
}

async fn healthcheck(config: &Config) -> anyhow::Result<()> {
    let mut address = config.listen;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()?;
    let response = client
        .get(format!("http://{address}/healthz"))
        .send()
        .await
        .with_context(|| format!("no answer from http://{address}/healthz"))?;
    if !response.status().is_success() {
        bail!("/healthz answered {}", response.status());
    }
    println!("ok");
    Ok(())
}

async fn create_user(
    config: Config,
    email: String,
    name: Option<String>,
    admin: bool,
) -> anyhow::Result<()> {
    let _logs = crate::telemetry::init_logging("warn", config.log_format);
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("cannot read the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or("").to_owned());
    let new_user = crate::auth::account::parse_new_user(&email, password, &name).map_err(|e| {
        let reasons: Vec<String> = e
            .errors
            .iter()
            .map(|f| format!("{} {}", f.field, f.message))
            .collect();
        anyhow::anyhow!("invalid user: {}", reasons.join("; "))
    })?;
    let (config, options, embedded) = prepare_database(config, false).await?;
    let db = crate::db::Db::new(&config, options.clone());
    let result = async {
        crate::db::migrations::migrate(&crate::db::session_config(&config, &options)?).await?;
        let hash = crate::auth::password::hash_now(new_user.password.expose())
            .map_err(|_| anyhow::anyhow!("hashing failed"))?;
        crate::auth::account::open_account(&db, hash, new_user, admin)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
    }
    .await;
    db.close();
    if let Some(embedded) = embedded {
        embedded.stop().await?;
    }
    let user = result?;
    println!(
        "created user {} ({}, role {})",
        user.email,
        user.id,
        user.role.as_str()
    );
    Ok(())
}

/// `docket storage migrate --to URL` (see `attachments::migrate`).
async fn migrate_storage(config: Config, to: &str) -> anyhow::Result<()> {
    let _logs = crate::telemetry::init_logging("warn", config.log_format);
    let target = crate::config::StorageUrl::parse(to).map_err(|e| anyhow::anyhow!("--to {e}"))?;
    let (config, options, embedded) = prepare_database(config, false).await?;
    let db = crate::db::Db::new(&config, options.clone());
    let result = async {
        crate::db::migrations::migrate(&crate::db::session_config(&config, &options)?).await?;
        db.mark_migrated();
        let attachments = crate::attachments::Attachments::new(
            &config,
            db.clone(),
            crate::attachments::Tuning::default(),
        );
        crate::attachments::migrate::run(&attachments, &db, &target, &mut |line| println!("{line}"))
            .await
    }
    .await;
    db.close();
    if let Some(embedded) = embedded {
        embedded.stop().await?;
    }
    result.map(|_| ())
}

fn db_url(config: &Config) -> anyhow::Result<()> {
    if config.database_url.is_some() {
        bail!("DATABASE_URL is set: the database is external, not embedded");
    }
    let postgres = EmbeddedPostgres::locate(&config.data_dir)?;
    println!("{}", postgres.url(embedded::DATABASE));
    Ok(())
}
