//! Configuration: every setting from an environment variable or the flag of the same name.
//!
//! Raw values arrive as strings (clap reads flag, then variable) so that validation can report
//! every problem at once instead of stopping at the first one clap would reject.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// Every variable Docket reads. The README's configuration table is checked against this list.
pub const VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "DOCKET_DATA_DIR",
    "DOCKET_LISTEN",
    "PORT",
    "DOCKET_PUBLIC_URL",
    "DOCKET_JWT_SECRET",
    "DOCKET_JWT_SECRET_PREVIOUS",
    "DOCKET_ENCRYPTION_KEY",
    "DOCKET_REGISTRATION",
    "DOCKET_DB_MAX_CONNECTIONS",
    "DOCKET_DB_ACQUIRE_TIMEOUT_MS",
    "DOCKET_DB_STATEMENT_TIMEOUT_MS",
    "DOCKET_DB_POOLER",
    "DOCKET_DATABASE_LISTEN_URL",
    "DOCKET_RATE_LIMIT_PER_MINUTE",
    "DOCKET_TRUSTED_PROXIES",
    "DOCKET_GITHUB_API_URL",
    "DOCKET_GITHUB_TOKEN",
    "DOCKET_GITHUB_SYNC_INTERVAL_S",
    "DOCKET_SHUTDOWN_GRACE_S",
    "DOCKET_REMINDER_SCAN_S",
    "DOCKET_LOG",
    "DOCKET_LOG_FORMAT",
    "DOCKET_MAX_CONNECTIONS",
    "DOCKET_METRICS_TOKEN",
    "DOCKET_MIN_FREE_DISK_MB",
    "DOCKET_WEBHOOK_ALLOW_PRIVATE",
    "DOCKET_SMTP_URL",
    "DOCKET_MAIL_FROM",
    "DOCKET_DIGEST_INTERVAL_S",
    "DOCKET_REQUIRE_2FA",
    "DOCKET_STORAGE",
    "DOCKET_S3_ENDPOINT",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "DOCKET_ATTACHMENT_MAX_BYTES",
    "DOCKET_PROJECT_STORAGE_BYTES",
];

/// The settings of a single sign-on provider, `DOCKET_OIDC_<NAME>_<SETTING>` (API.md §21): any
/// number of `<NAME>`s, read from the environment (there are no flags for them).
pub const OIDC_SETTINGS: &[&str] = &[
    "ISSUER",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "SCOPES",
    "LABEL",
    "ALLOWED_DOMAINS",
    "CREATE_USERS",
];

const OIDC_PREFIX: &str = "DOCKET_OIDC_";

/// Raw settings as given on the command line or in the environment.
#[derive(Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    #[arg(long = "database-url", env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    #[arg(long = "data-dir", env = "DOCKET_DATA_DIR")]
    pub data_dir: Option<String>,
    #[arg(long = "listen", env = "DOCKET_LISTEN")]
    pub listen: Option<String>,
    #[arg(long = "port", env = "PORT")]
    pub port: Option<String>,
    #[arg(long = "public-url", env = "DOCKET_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[arg(long = "jwt-secret", env = "DOCKET_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    #[arg(
        long = "jwt-secret-previous",
        env = "DOCKET_JWT_SECRET_PREVIOUS",
        hide_env_values = true
    )]
    pub jwt_secret_previous: Option<String>,
    #[arg(
        long = "encryption-key",
        env = "DOCKET_ENCRYPTION_KEY",
        hide_env_values = true
    )]
    pub encryption_key: Option<String>,
    #[arg(long = "registration", env = "DOCKET_REGISTRATION")]
    pub registration: Option<String>,
    #[arg(long = "db-max-connections", env = "DOCKET_DB_MAX_CONNECTIONS")]
    pub db_max_connections: Option<String>,
    #[arg(long = "db-acquire-timeout-ms", env = "DOCKET_DB_ACQUIRE_TIMEOUT_MS")]
    pub db_acquire_timeout_ms: Option<String>,
    #[arg(
        long = "db-statement-timeout-ms",
        env = "DOCKET_DB_STATEMENT_TIMEOUT_MS"
    )]
    pub db_statement_timeout_ms: Option<String>,
    #[arg(long = "db-pooler", env = "DOCKET_DB_POOLER")]
    pub db_pooler: Option<String>,
    #[arg(
        long = "database-listen-url",
        env = "DOCKET_DATABASE_LISTEN_URL",
        hide_env_values = true
    )]
    pub database_listen_url: Option<String>,
    #[arg(long = "rate-limit-per-minute", env = "DOCKET_RATE_LIMIT_PER_MINUTE")]
    pub rate_limit_per_minute: Option<String>,
    #[arg(long = "trusted-proxies", env = "DOCKET_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    #[arg(long = "github-api-url", env = "DOCKET_GITHUB_API_URL")]
    pub github_api_url: Option<String>,
    #[arg(
        long = "github-token",
        env = "DOCKET_GITHUB_TOKEN",
        hide_env_values = true
    )]
    pub github_token: Option<String>,
    #[arg(long = "github-sync-interval-s", env = "DOCKET_GITHUB_SYNC_INTERVAL_S")]
    pub github_sync_interval_s: Option<String>,
    #[arg(long = "shutdown-grace-s", env = "DOCKET_SHUTDOWN_GRACE_S")]
    pub shutdown_grace_s: Option<String>,
    #[arg(long = "reminder-scan-s", env = "DOCKET_REMINDER_SCAN_S")]
    pub reminder_scan_s: Option<String>,
    #[arg(long = "log", env = "DOCKET_LOG")]
    pub log: Option<String>,
    #[arg(long = "log-format", env = "DOCKET_LOG_FORMAT")]
    pub log_format: Option<String>,
    #[arg(long = "max-connections", env = "DOCKET_MAX_CONNECTIONS")]
    pub max_connections: Option<String>,
    #[arg(
        long = "metrics-token",
        env = "DOCKET_METRICS_TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    #[arg(long = "min-free-disk-mb", env = "DOCKET_MIN_FREE_DISK_MB")]
    pub min_free_disk_mb: Option<String>,
    #[arg(long = "webhook-allow-private", env = "DOCKET_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: Option<String>,
    #[arg(long = "smtp-url", env = "DOCKET_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    #[arg(long = "mail-from", env = "DOCKET_MAIL_FROM")]
    pub mail_from: Option<String>,
    #[arg(long = "digest-interval-s", env = "DOCKET_DIGEST_INTERVAL_S")]
    pub digest_interval_s: Option<String>,

    #[arg(long = "require-2fa", env = "DOCKET_REQUIRE_2FA")]
    pub require_2fa: Option<String>,
    /// Every `DOCKET_OIDC_*` variable as `(name, value)` (`oidc_variables`).
    #[arg(skip)]
    pub oidc: Vec<(String, String)>,
    #[arg(long = "storage", env = "DOCKET_STORAGE")]
    pub storage: Option<String>,
    #[arg(long = "s3-endpoint", env = "DOCKET_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    #[arg(
        long = "aws-access-key-id",
        env = "AWS_ACCESS_KEY_ID",
        hide_env_values = true
    )]
    pub aws_access_key_id: Option<String>,
    #[arg(
        long = "aws-secret-access-key",
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub aws_secret_access_key: Option<String>,
    #[arg(long = "aws-region", env = "AWS_REGION")]
    pub aws_region: Option<String>,
    #[arg(long = "attachment-max-bytes", env = "DOCKET_ATTACHMENT_MAX_BYTES")]
    pub attachment_max_bytes: Option<String>,
    #[arg(long = "project-storage-bytes", env = "DOCKET_PROJECT_STORAGE_BYTES")]
    pub project_storage_bytes: Option<String>,
}

/// Where attachments live (API.md §20): `local` (under the data dir) or an S3 bucket and
/// key prefix. Its text form is what rows record as their store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StorageUrl {
    Local,
    S3 { bucket: String, prefix: String },
}

impl StorageUrl {
    /// `local`, or `s3://bucket` with an optional `/prefix` (no empty segments, no `..`).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw == "local" {
            return Ok(Self::Local);
        }
        let rest = raw
            .strip_prefix("s3://")
            .ok_or_else(|| format!("must be local or s3://bucket/prefix (got {raw:?})"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_end_matches('/');
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(format!("{bucket:?} is not an S3 bucket name"));
        }
        let prefix_ok = prefix.is_empty()
            || prefix.split('/').all(|segment| {
                !segment.is_empty()
                    && segment != "."
                    && segment != ".."
                    && segment.bytes().all(|b| b.is_ascii_graphic() && b != b'#')
            });
        if !prefix_ok {
            return Err(format!("{prefix:?} is not a key prefix"));
        }
        Ok(Self::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

impl fmt::Display for StorageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageUrl::Local => f.write_str("local"),
            StorageUrl::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            StorageUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// How S3 is reached: the endpoint of an S3-compatible server and credentials given as
/// settings (the other `AWS_*` variables are read by the S3 client itself).
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    pub endpoint: Option<Url>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    pub region: Option<String>,
}

/// The `DOCKET_OIDC_*` variables of this process's environment (values that are not Unicode
/// are kept as a problem for `Config::from_args` to report).
pub fn oidc_variables() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(name, value)| {
            let name = name.into_string().ok()?;
            name.starts_with(OIDC_PREFIX).then(|| {
                let value = value
                    .into_string()
                    .unwrap_or_else(|_| "\u{fffd}".to_owned());
                (name, value)
            })
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    Open,
    Closed,
}

/// Who must have a second factor (`DOCKET_REQUIRE_2FA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Require2fa {
    None,
    Admins,
    All,
}

impl Require2fa {
    pub fn as_str(self) -> &'static str {
        match self {
            Require2fa::None => "none",
            Require2fa::Admins => "admins",
            Require2fa::All => "all",
        }
    }
}

/// One single sign-on provider, validated.
#[derive(Debug, Clone)]
pub struct OidcProvider {
    /// `<NAME>` lower-cased: the id in paths and in stored identities.
    pub id: String,
    /// `<NAME>` as written, for messages.
    pub name: String,
    /// As configured; matched against what the provider publishes with or without a trailing
    /// slash.
    pub issuer: Url,
    pub client_id: String,
    /// `None`: a public client (PKCE alone).
    pub client_secret: Option<SecretString>,
    pub scopes: Vec<String>,
    pub label: String,
    /// Lower-case email domains; empty: any.
    pub allowed_domains: Vec<String>,
    pub create_users: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// A secret that is at least 32 bytes; its `Debug` never shows the value.
#[derive(Clone)]
pub struct KeyMaterial(SecretString);

impl KeyMaterial {
    pub const MIN_LEN: usize = 32;

    pub fn new(value: String) -> Result<Self, String> {
        if value.len() < Self::MIN_LEN {
            return Err(format!(
                "must be at least {} bytes (got {})",
                Self::MIN_LEN,
                value.len()
            ));
        }
        Ok(Self(SecretString::from(value)))
    }

    pub fn bytes(&self) -> &[u8] {
        self.0.expose_secret().as_bytes()
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Whether a `DOCKET_SMTP_URL` can be used; the problem never repeats the URL (it holds a
/// password).
fn check_smtp_url(raw: &str) -> Result<(), String> {
    let url = url::Url::parse(raw).map_err(|_| "is not a URL".to_owned())?;
    if !matches!(url.scheme(), "smtp" | "smtps") || url.host_str().is_none() {
        return Err("must be smtp://host[:port] or smtps://host[:port]".into());
    }
    lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(raw)
        .map(|_| ())
        .map_err(|_| "is not a usable SMTP URL".into())
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Option<SecretString>,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub public_url: Url,
    /// `None` only when the database is embedded: the secret is then generated in the data dir.
    pub jwt_secret: Option<KeyMaterial>,
    pub jwt_secret_previous: Option<KeyMaterial>,
    pub encryption_key: Option<KeyMaterial>,
    pub registration: Registration,
    pub db_max_connections: u32,
    pub db_acquire_timeout: Duration,
    /// A statement running longer is cancelled (the request gets 503).
    pub db_statement_timeout: Duration,
    /// `DATABASE_URL` goes through a transaction-mode pooler: no prepared statement or
    /// session state may outlive a transaction.
    pub db_pooler_transaction: bool,
    /// A direct connection for `LISTEN` (a transaction-mode pooler cannot carry it).
    pub database_listen_url: Option<SecretString>,
    pub rate_limit_per_minute: u32,
    pub trusted_proxies: Vec<IpNet>,
    pub github_api_url: Url,
    pub github_token: Option<SecretString>,
    pub github_sync_interval: Duration,
    pub shutdown_grace: Duration,
    /// How often the task reminders that came due are looked for (API.md §19).
    pub reminder_scan: Duration,
    pub log: String,
    pub log_format: LogFormat,
    /// Open client connections; past it new ones are closed at once.
    pub max_connections: usize,
    /// When set, `/metrics` wants it as a bearer token.
    pub metrics_token: Option<SecretString>,
    /// With the embedded database: below this much free space on its file system, writes
    /// are refused (507). Zero refuses nothing.
    pub min_free_disk_bytes: u64,
    /// Webhook URLs may reach loopback, private and link-local addresses (tests, private
    /// networks); otherwise such addresses are refused when connecting (API.md §13).
    pub webhook_allow_private: bool,
    /// Where email goes (`smtp://` or `smtps://`, credentials in it); `None`: no email.
    pub smtp_url: Option<SecretString>,
    /// The sender of every email.
    pub mail_from: lettre::message::Mailbox,
    /// The least time between two notification emails to one user, and how long a
    /// notification waits for others to join it (API.md §14: 5 minutes; tests shorten it).
    pub digest_interval: Duration,

    pub require_2fa: Require2fa,
    /// Sorted by id.
    pub oidc_providers: Vec<OidcProvider>,
    /// Where new attachments go (until `docket storage migrate` switches the instance).
    pub storage: StorageUrl,
    pub s3: S3Settings,
    /// The largest attachment, in bytes.
    pub attachment_max_bytes: u64,
    /// Attachment bytes one project may hold.
    pub project_storage_bytes: u64,
}

/// One thing wrong with the configuration: which variable and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub variable: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.message)
    }
}

struct Problems(Vec<ConfigProblem>);

impl Problems {
    /// A problem with a variable whose name is made at run time (`DOCKET_OIDC_<NAME>_…`).
    fn push_owned(&mut self, variable: &str, message: String) {
        self.0.push(ConfigProblem {
            variable: variable.to_owned(),
            message,
        });
    }

    fn push(&mut self, variable: &'static str, message: impl Into<String>) {
        self.0.push(ConfigProblem {
            variable: variable.to_owned(),
            message: message.into(),
        });
    }

    /// Parses `raw` with `parse`, or returns `default` when unset; records a problem on failure.
    fn parse<T>(
        &mut self,
        variable: &'static str,
        raw: &Option<String>,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T
    where
        T: Clone,
    {
        match raw.as_deref().map(str::trim) {
            None | Some("") => default,
            Some(value) => match parse(value) {
                Ok(parsed) => parsed,
                Err(message) => {
                    self.push(variable, message);
                    default
                }
            },
        }
    }
}

fn integer_in(min: u64, max: u64) -> impl Fn(&str) -> Result<u64, String> {
    move |value| match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "must be a whole number from {min} to {max} (got {value:?})"
        )),
    }
}

/// A `postgres://` or `postgresql://` URL, or `None` when unset.
fn postgres_url(
    problems: &mut Problems,
    variable: &'static str,
    raw: &Option<String>,
) -> Option<SecretString> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => match Url::parse(raw) {
            Ok(url) if matches!(url.scheme(), "postgres" | "postgresql") => {
                Some(SecretString::from(raw.to_owned()))
            }
            _ => {
                problems.push(variable, "must be a postgres:// or postgresql:// URL");
                None
            }
        },
    }
}

/// A secret given as plain text (a token), or `None` when unset or blank.
fn secret(raw: &Option<String>) -> Option<SecretString> {
    raw.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| SecretString::from(t.to_owned()))
}

/// Where to listen (`DOCKET_LISTEN`, else `PORT` on every interface, else 127.0.0.1:8080) and
/// the URL people reach the server at.
fn addresses(problems: &mut Problems, args: &ConfigArgs) -> (SocketAddr, Url) {
    let port = problems.parse("PORT", &args.port, None, |value| {
        value
            .parse::<u16>()
            .map(Some)
            .map_err(|_| format!("must be a port number from 1 to 65535 (got {value:?})"))
    });
    let default_listen: SocketAddr = match port {
        Some(port) => SocketAddr::from(([0, 0, 0, 0], port)),
        None => SocketAddr::from(([127, 0, 0, 1], 8080)),
    };
    let listen = problems.parse("DOCKET_LISTEN", &args.listen, default_listen, |value| {
        value
            .parse::<SocketAddr>()
            .map_err(|_| format!("must be an address like 127.0.0.1:8080 (got {value:?})"))
    });
    let default_public = Url::parse(&format!("http://{listen}")).expect("valid URL");
    let public_url = problems.parse(
        "DOCKET_PUBLIC_URL",
        &args.public_url,
        default_public,
        |value| match Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(url),
            _ => Err(format!(
                "must be an http:// or https:// URL (got {value:?})"
            )),
        },
    );
    (listen, public_url)
}

struct Keys {
    jwt_secret: Option<KeyMaterial>,
    jwt_secret_previous: Option<KeyMaterial>,
    encryption_key: Option<KeyMaterial>,
}

/// The secrets; with an external database both must be given (the embedded set-up keeps
/// generated ones in its data dir).
fn keys(problems: &mut Problems, args: &ConfigArgs, external_database: bool) -> Keys {
    let mut key = |variable: &'static str, raw: &Option<String>| -> Option<KeyMaterial> {
        match raw.as_deref() {
            None | Some("") => None,
            Some(value) => match KeyMaterial::new(value.to_owned()) {
                Ok(key) => Some(key),
                Err(message) => {
                    problems.push(variable, message);
                    None
                }
            },
        }
    };
    let keys = Keys {
        jwt_secret: key("DOCKET_JWT_SECRET", &args.jwt_secret),
        jwt_secret_previous: key("DOCKET_JWT_SECRET_PREVIOUS", &args.jwt_secret_previous),
        encryption_key: key("DOCKET_ENCRYPTION_KEY", &args.encryption_key),
    };
    if external_database {
        for (variable, raw) in [
            ("DOCKET_JWT_SECRET", &args.jwt_secret),
            ("DOCKET_ENCRYPTION_KEY", &args.encryption_key),
        ] {
            if raw.as_deref().unwrap_or("").is_empty() {
                problems.push(
                    variable,
                    "is required when DATABASE_URL is set (at least 32 bytes)",
                );
            }
        }
    }
    keys
}

struct Pool {
    max_connections: u32,
    acquire_timeout: Duration,
    statement_timeout: Duration,
    pooler_transaction: bool,
}

fn pool(problems: &mut Problems, args: &ConfigArgs) -> Pool {
    Pool {
        max_connections: problems.parse(
            "DOCKET_DB_MAX_CONNECTIONS",
            &args.db_max_connections,
            10,
            integer_in(1, 1000),
        ) as u32,
        acquire_timeout: Duration::from_millis(problems.parse(
            "DOCKET_DB_ACQUIRE_TIMEOUT_MS",
            &args.db_acquire_timeout_ms,
            2000,
            integer_in(1, 600_000),
        )),
        statement_timeout: Duration::from_millis(problems.parse(
            "DOCKET_DB_STATEMENT_TIMEOUT_MS",
            &args.db_statement_timeout_ms,
            10_000,
            integer_in(1, 3_600_000),
        )),
        pooler_transaction: problems.parse("DOCKET_DB_POOLER", &args.db_pooler, false, |value| {
            match value {
                "none" => Ok(false),
                "transaction" => Ok(true),
                _ => Err(format!("must be none or transaction (got {value:?})")),
            }
        }),
    }
}

/// The per-principal request limit, and the proxies whose `X-Forwarded-For` is believed.
fn edge_limits(problems: &mut Problems, args: &ConfigArgs) -> (u32, Vec<IpNet>) {
    let rate_limit_per_minute = problems.parse(
        "DOCKET_RATE_LIMIT_PER_MINUTE",
        &args.rate_limit_per_minute,
        600,
        integer_in(1, 1_000_000),
    ) as u32;
    let trusted_proxies = problems.parse(
        "DOCKET_TRUSTED_PROXIES",
        &args.trusted_proxies,
        Vec::new(),
        |value| {
            value
                .split(',')
                .map(str::trim)
                .filter(|part| !part.is_empty())
                .map(|part| {
                    part.parse::<IpNet>()
                        .or_else(|_| part.parse::<std::net::IpAddr>().map(IpNet::from))
                        .map_err(|_| format!("{part:?} is not a CIDR like 10.0.0.0/8"))
                })
                .collect()
        },
    );
    (rate_limit_per_minute, trusted_proxies)
}

fn github(problems: &mut Problems, args: &ConfigArgs) -> (Url, Duration) {
    let api_url = problems.parse(
        "DOCKET_GITHUB_API_URL",
        &args.github_api_url,
        Url::parse("https://api.github.com").expect("valid URL"),
        |value| match Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(url),
            _ => Err(format!("must be an http(s) URL (got {value:?})")),
        },
    );
    let sync_interval = Duration::from_secs(problems.parse(
        "DOCKET_GITHUB_SYNC_INTERVAL_S",
        &args.github_sync_interval_s,
        900,
        integer_in(10, 7 * 24 * 3600),
    ));
    (api_url, sync_interval)
}

struct Attachments {
    storage: StorageUrl,
    s3: S3Settings,
    max_bytes: u64,
    project_bytes: u64,
}

fn attachments(problems: &mut Problems, args: &ConfigArgs) -> Attachments {
    let storage = problems.parse(
        "DOCKET_STORAGE",
        &args.storage,
        StorageUrl::Local,
        StorageUrl::parse,
    );
    let endpoint =
        problems.parse(
            "DOCKET_S3_ENDPOINT",
            &args.s3_endpoint,
            None,
            |value| match Url::parse(value) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(Some(url)),
                _ => Err(format!("must be an http(s) URL (got {value:?})")),
            },
        );
    let text = |raw: &Option<String>| {
        raw.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    Attachments {
        storage,
        s3: S3Settings {
            endpoint,
            access_key_id: text(&args.aws_access_key_id),
            secret_access_key: secret(&args.aws_secret_access_key),
            region: text(&args.aws_region),
        },
        max_bytes: problems.parse(
            "DOCKET_ATTACHMENT_MAX_BYTES",
            &args.attachment_max_bytes,
            25 * 1024 * 1024,
            integer_in(1, 5 * 1024 * 1024 * 1024),
        ),
        project_bytes: problems.parse(
            "DOCKET_PROJECT_STORAGE_BYTES",
            &args.project_storage_bytes,
            5 * 1024 * 1024 * 1024,
            integer_in(0, u64::MAX / 2),
        ),
    }
}

fn logging(problems: &mut Problems, args: &ConfigArgs) -> (String, LogFormat) {
    let log = problems.parse("DOCKET_LOG", &args.log, "info".to_owned(), |value| {
        tracing_subscriber::EnvFilter::try_new(value)
            .map(|_| value.to_owned())
            .map_err(|e| format!("is not a valid log filter: {e}"))
    });
    let default_format = if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        LogFormat::Pretty
    } else {
        LogFormat::Json
    };
    let log_format = problems.parse(
        "DOCKET_LOG_FORMAT",
        &args.log_format,
        default_format,
        |value| match value {
            "json" => Ok(LogFormat::Json),
            "pretty" => Ok(LogFormat::Pretty),
            _ => Err(format!("must be json or pretty (got {value:?})")),
        },
    );
    (log, log_format)
}

/// The single sign-on providers of the `DOCKET_OIDC_*` variables; each problem is reported with
/// its variable.
fn oidc_providers(problems: &mut Problems, variables: &[(String, String)]) -> Vec<OidcProvider> {
    use std::collections::BTreeMap;
    let mut by_name: BTreeMap<String, BTreeMap<&'static str, &str>> = BTreeMap::new();
    for (variable, value) in variables {
        let Some(rest) = variable.strip_prefix(OIDC_PREFIX) else {
            continue;
        };
        // The longest setting that ends the name wins (`CLIENT_ID`, not a name ending `_CLIENT`).
        let setting = OIDC_SETTINGS
            .iter()
            .filter(|s| rest.len() > s.len() + 1 && rest.ends_with(&format!("_{s}")))
            .max_by_key(|s| s.len());
        let Some(setting) = setting else {
            problems.push_owned(
                variable,
                format!(
                    "is not a setting; use DOCKET_OIDC_<NAME>_{}",
                    OIDC_SETTINGS.join("|")
                ),
            );
            continue;
        };
        let name = &rest[..rest.len() - setting.len() - 1];
        if name.len() > 32
            || !name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            problems.push_owned(
                variable,
                "<NAME> must be 1 to 32 of A-Z, 0-9 and _".to_owned(),
            );
            continue;
        }
        by_name
            .entry(name.to_owned())
            .or_default()
            .insert(setting, value.trim());
    }
    by_name
        .into_iter()
        .filter_map(|(name, settings)| oidc_provider(problems, name, &settings))
        .collect()
}

fn oidc_provider(
    problems: &mut Problems,
    name: String,
    settings: &std::collections::BTreeMap<&'static str, &str>,
) -> Option<OidcProvider> {
    let variable = |setting: &str| format!("{OIDC_PREFIX}{name}_{setting}");
    let before = problems.0.len();
    let get = |setting: &str| settings.get(setting).copied().filter(|v| !v.is_empty());
    let issuer = match get("ISSUER").map(Url::parse) {
        Some(Ok(url))
            if matches!(url.scheme(), "http" | "https")
                && url.host().is_some()
                && url.query().is_none()
                && url.fragment().is_none() =>
        {
            Some(url)
        }
        Some(_) => {
            problems.push_owned(
                &variable("ISSUER"),
                "must be an http(s) URL without query or fragment".to_owned(),
            );
            None
        }
        None => {
            problems.push_owned(
                &variable("ISSUER"),
                "is required for this provider".to_owned(),
            );
            None
        }
    };
    let client_id = get("CLIENT_ID");
    if client_id.is_none() {
        problems.push_owned(
            &variable("CLIENT_ID"),
            "is required for this provider".to_owned(),
        );
    }
    let scopes: Vec<String> = get("SCOPES")
        .unwrap_or("openid email profile")
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        problems.push_owned(&variable("SCOPES"), "must include openid".to_owned());
    }
    let allowed_domains: Vec<String> = get("ALLOWED_DOMAINS")
        .unwrap_or("")
        .split(',')
        .map(|d| d.trim().trim_start_matches('@').to_lowercase())
        .filter(|d| !d.is_empty())
        .collect();
    if allowed_domains
        .iter()
        .any(|d| !d.contains('.') || d.contains(['@', ' ', '/']))
    {
        problems.push_owned(
            &variable("ALLOWED_DOMAINS"),
            "must be email domains separated by commas (example.com,example.org)".to_owned(),
        );
    }
    let create_users = match get("CREATE_USERS") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            problems.push_owned(
                &variable("CREATE_USERS"),
                format!("must be true or false (got {other:?})"),
            );
            false
        }
    };
    let label = get("LABEL").map(str::to_owned).unwrap_or_else(|| {
        let lower = name.to_lowercase().replace('_', " ");
        let mut chars = lower.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    });
    if label.chars().count() > 100 || label.chars().any(char::is_control) {
        problems.push_owned(
            &variable("LABEL"),
            "must be at most 100 characters, no control characters".to_owned(),
        );
    }
    if problems.0.len() > before {
        return None;
    }
    Some(OidcProvider {
        id: name.to_lowercase(),
        issuer: issuer?,
        client_id: client_id?.to_owned(),
        client_secret: get("CLIENT_SECRET").map(|s| SecretString::from(s.to_owned())),
        scopes,
        label,
        allowed_domains,
        create_users,
        name,
    })
}

impl Config {
    /// Validates every setting and reports every problem at once.
    pub fn from_args(args: &ConfigArgs) -> Result<Config, Vec<ConfigProblem>> {
        let mut problems = Problems(Vec::new());
        let database_url = postgres_url(&mut problems, "DATABASE_URL", &args.database_url);
        let data_dir = PathBuf::from(
            args.data_dir
                .as_deref()
                .filter(|d| !d.trim().is_empty())
                .unwrap_or("./docket-data"),
        );
        let (listen, public_url) = addresses(&mut problems, args);
        let keys = keys(&mut problems, args, database_url.is_some());
        let registration = problems.parse(
            "DOCKET_REGISTRATION",
            &args.registration,
            Registration::Open,
            |value| match value {
                "open" => Ok(Registration::Open),
                "closed" => Ok(Registration::Closed),
                _ => Err(format!("must be open or closed (got {value:?})")),
            },
        );
        let pool = pool(&mut problems, args);
        let database_listen_url = postgres_url(
            &mut problems,
            "DOCKET_DATABASE_LISTEN_URL",
            &args.database_listen_url,
        );
        let (rate_limit_per_minute, trusted_proxies) = edge_limits(&mut problems, args);
        let (github_api_url, github_sync_interval) = github(&mut problems, args);
        let shutdown_grace = Duration::from_secs(problems.parse(
            "DOCKET_SHUTDOWN_GRACE_S",
            &args.shutdown_grace_s,
            20,
            integer_in(0, 3600),
        ));
        let reminder_scan = Duration::from_secs(problems.parse(
            "DOCKET_REMINDER_SCAN_S",
            &args.reminder_scan_s,
            15,
            integer_in(1, 3600),
        ));
        let (log, log_format) = logging(&mut problems, args);
        let max_connections = problems.parse(
            "DOCKET_MAX_CONNECTIONS",
            &args.max_connections,
            4096,
            integer_in(1, 1_000_000),
        ) as usize;
        let min_free_disk_mb = problems.parse(
            "DOCKET_MIN_FREE_DISK_MB",
            &args.min_free_disk_mb,
            256,
            integer_in(0, 16 * 1024 * 1024),
        );
        let webhook_allow_private = problems.parse(
            "DOCKET_WEBHOOK_ALLOW_PRIVATE",
            &args.webhook_allow_private,
            false,
            |value| match value {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(format!("must be true or false (got {value:?})")),
            },
        );
        let smtp_url = secret(&args.smtp_url);
        if let Some(url) = &smtp_url {
            use secrecy::ExposeSecret;
            // The URL holds a password: the problem never repeats it.
            if let Err(problem) = check_smtp_url(url.expose_secret()) {
                problems.push("DOCKET_SMTP_URL", problem);
            }
        }
        let default_from = format!(
            "Docket <docket@{}>",
            public_url.host_str().unwrap_or("localhost")
        );
        let mail_from = problems.parse(
            "DOCKET_MAIL_FROM",
            &args.mail_from,
            default_from.parse().ok(),
            |value| {
                value
                    .parse::<lettre::message::Mailbox>()
                    .map(Some)
                    .map_err(|_| {
                        format!(
                            "must be an address like Docket <docket@example.com> (got {value:?})"
                        )
                    })
            },
        );
        let digest_interval = Duration::from_secs(problems.parse(
            "DOCKET_DIGEST_INTERVAL_S",
            &args.digest_interval_s,
            300,
            integer_in(1, 24 * 3600),
        ));
        let attachments = attachments(&mut problems, args);

        let require_2fa = problems.parse(
            "DOCKET_REQUIRE_2FA",
            &args.require_2fa,
            Require2fa::None,
            |value| match value {
                "none" => Ok(Require2fa::None),
                "admins" => Ok(Require2fa::Admins),
                "all" => Ok(Require2fa::All),
                _ => Err(format!("must be none, admins or all (got {value:?})")),
            },
        );
        let oidc_providers = oidc_providers(&mut problems, &args.oidc);

        if !problems.0.is_empty() {
            return Err(problems.0);
        }
        let mail_from = mail_from.unwrap_or_else(|| {
            "Docket <docket@localhost>"
                .parse()
                .expect("a valid mailbox")
        });
        Ok(Config {
            database_url,
            data_dir,
            listen,
            public_url,
            jwt_secret: keys.jwt_secret,
            jwt_secret_previous: keys.jwt_secret_previous,
            encryption_key: keys.encryption_key,
            registration,
            db_max_connections: pool.max_connections,
            db_acquire_timeout: pool.acquire_timeout,
            db_statement_timeout: pool.statement_timeout,
            db_pooler_transaction: pool.pooler_transaction,
            database_listen_url,
            rate_limit_per_minute,
            trusted_proxies,
            github_api_url,
            github_token: secret(&args.github_token),
            github_sync_interval,
            shutdown_grace,
            reminder_scan,
            log,
            log_format,
            max_connections,
            metrics_token: secret(&args.metrics_token),
            min_free_disk_bytes: min_free_disk_mb << 20,
            webhook_allow_private,
            smtp_url,
            mail_from,
            digest_interval,

            require_2fa,
            oidc_providers,
            storage: attachments.storage,
            s3: attachments.s3,
            attachment_max_bytes: attachments.max_bytes,
            project_storage_bytes: attachments.project_bytes,
        })
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// The session cookie's name: with an https public URL the `__Host-` prefix, which
    /// browsers accept only with `Secure`, `Path=/` and no `Domain`, so that no sibling
    /// subdomain or plain-http page can plant or overwrite it.
    pub fn session_cookie(&self) -> &'static str {
        if self.secure_cookies() {
            "__Host-docket_session"
        } else {
            "docket_session"
        }
    }

    /// The effective configuration, one `NAME=value` a line, secrets redacted.
    pub fn describe(&self) -> String {
        let secret = |set: bool| if set { "[redacted]" } else { "(unset)" }.to_owned();
        let rows: Vec<(&str, String)> = vec![
            (
                "DATABASE_URL",
                match &self.database_url {
                    Some(_) => "[redacted]".to_owned(),
                    None => "(unset: embedded PostgreSQL)".to_owned(),
                },
            ),
            ("DOCKET_DATA_DIR", self.data_dir.display().to_string()),
            ("DOCKET_LISTEN", self.listen.to_string()),
            ("DOCKET_PUBLIC_URL", self.public_url.to_string()),
            (
                "DOCKET_JWT_SECRET",
                match (&self.jwt_secret, &self.database_url) {
                    (Some(_), _) => "[redacted]".to_owned(),
                    (None, None) => "(generated in the data dir)".to_owned(),
                    (None, Some(_)) => "(unset)".to_owned(),
                },
            ),
            (
                "DOCKET_JWT_SECRET_PREVIOUS",
                secret(self.jwt_secret_previous.is_some()),
            ),
            (
                "DOCKET_ENCRYPTION_KEY",
                match (&self.encryption_key, &self.database_url) {
                    (Some(_), _) => "[redacted]".to_owned(),
                    (None, None) => "(generated in the data dir)".to_owned(),
                    (None, Some(_)) => "(unset)".to_owned(),
                },
            ),
            (
                "DOCKET_REGISTRATION",
                match self.registration {
                    Registration::Open => "open",
                    Registration::Closed => "closed",
                }
                .to_owned(),
            ),
            (
                "DOCKET_DB_MAX_CONNECTIONS",
                self.db_max_connections.to_string(),
            ),
            (
                "DOCKET_DB_ACQUIRE_TIMEOUT_MS",
                self.db_acquire_timeout.as_millis().to_string(),
            ),
            (
                "DOCKET_DB_STATEMENT_TIMEOUT_MS",
                self.db_statement_timeout.as_millis().to_string(),
            ),
            (
                "DOCKET_DB_POOLER",
                if self.db_pooler_transaction {
                    "transaction"
                } else {
                    "none"
                }
                .to_owned(),
            ),
            (
                "DOCKET_DATABASE_LISTEN_URL",
                secret(self.database_listen_url.is_some()),
            ),
            (
                "DOCKET_RATE_LIMIT_PER_MINUTE",
                self.rate_limit_per_minute.to_string(),
            ),
            (
                "DOCKET_TRUSTED_PROXIES",
                self.trusted_proxies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("DOCKET_GITHUB_API_URL", self.github_api_url.to_string()),
            ("DOCKET_GITHUB_TOKEN", secret(self.github_token.is_some())),
            (
                "DOCKET_GITHUB_SYNC_INTERVAL_S",
                self.github_sync_interval.as_secs().to_string(),
            ),
            (
                "DOCKET_SHUTDOWN_GRACE_S",
                self.shutdown_grace.as_secs().to_string(),
            ),
            (
                "DOCKET_REMINDER_SCAN_S",
                self.reminder_scan.as_secs().to_string(),
            ),
            ("DOCKET_LOG", self.log.clone()),
            (
                "DOCKET_LOG_FORMAT",
                match self.log_format {
                    LogFormat::Json => "json",
                    LogFormat::Pretty => "pretty",
                }
                .to_owned(),
            ),
            ("DOCKET_MAX_CONNECTIONS", self.max_connections.to_string()),
            ("DOCKET_METRICS_TOKEN", secret(self.metrics_token.is_some())),
            (
                "DOCKET_MIN_FREE_DISK_MB",
                format!(
                    "{}{}",
                    self.min_free_disk_bytes >> 20,
                    if self.database_url.is_some() {
                        " (not used: the database is external)"
                    } else {
                        ""
                    }
                ),
            ),
            (
                "DOCKET_WEBHOOK_ALLOW_PRIVATE",
                self.webhook_allow_private.to_string(),
            ),
            ("DOCKET_SMTP_URL", secret(self.smtp_url.is_some())),
            ("DOCKET_MAIL_FROM", self.mail_from.to_string()),
            (
                "DOCKET_DIGEST_INTERVAL_S",
                self.digest_interval.as_secs().to_string(),
            ),
            ("DOCKET_REQUIRE_2FA", self.require_2fa.as_str().to_owned()),
            ("DOCKET_STORAGE", self.storage.to_string()),
            (
                "DOCKET_S3_ENDPOINT",
                self.s3
                    .endpoint
                    .as_ref()
                    .map_or("(unset)".to_owned(), ToString::to_string),
            ),
            ("AWS_ACCESS_KEY_ID", secret(self.s3.access_key_id.is_some())),
            (
                "AWS_SECRET_ACCESS_KEY",
                secret(self.s3.secret_access_key.is_some()),
            ),
            (
                "AWS_REGION",
                self.s3
                    .region
                    .clone()
                    .unwrap_or_else(|| "(unset)".to_owned()),
            ),
            (
                "DOCKET_ATTACHMENT_MAX_BYTES",
                self.attachment_max_bytes.to_string(),
            ),
            (
                "DOCKET_PROJECT_STORAGE_BYTES",
                self.project_storage_bytes.to_string(),
            ),
        ];
        let mut out: String = rows
            .into_iter()
            .map(|(name, value)| format!("{name}={value}\n"))
            .collect();
        for provider in &self.oidc_providers {
            let name = format!("DOCKET_OIDC_{}", provider.name);
            out += &format!("{name}_ISSUER={}\n", provider.issuer);
            out += &format!("{name}_CLIENT_ID={}\n", provider.client_id);
            out += &format!(
                "{name}_CLIENT_SECRET={}\n",
                secret(provider.client_secret.is_some())
            );
            out += &format!("{name}_SCOPES={}\n", provider.scopes.join(" "));
            out += &format!("{name}_LABEL={}\n", provider.label);
            out += &format!(
                "{name}_ALLOWED_DOMAINS={}\n",
                provider.allowed_domains.join(",")
            );
            out += &format!("{name}_CREATE_USERS={}\n", provider.create_users);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = Config::from_args(&ConfigArgs::default()).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.db_max_connections, 10);
        assert!(!config.secure_cookies());
        assert_eq!(config.max_connections, 4096);
        assert_eq!(config.session_cookie(), "docket_session");
        assert_eq!(config.min_free_disk_bytes, 256 << 20);
        assert!(config.describe().contains("DOCKET_MIN_FREE_DISK_MB=256\n"));
    }

    #[test]
    fn the_disk_minimum_is_megabytes_and_zero_turns_it_off() {
        let args = ConfigArgs {
            min_free_disk_mb: Some("0".into()),
            ..Default::default()
        };
        assert_eq!(Config::from_args(&args).unwrap().min_free_disk_bytes, 0);
        let args = ConfigArgs {
            min_free_disk_mb: Some("-1".into()),
            ..Default::default()
        };
        let problems = Config::from_args(&args).unwrap_err();
        assert_eq!(problems[0].variable, "DOCKET_MIN_FREE_DISK_MB");
    }

    #[test]
    fn https_public_urls_use_the_host_prefixed_cookie() {
        let args = ConfigArgs {
            public_url: Some("https://docket.example.com".into()),
            ..Default::default()
        };
        let config = Config::from_args(&args).unwrap();
        assert_eq!(config.session_cookie(), "__Host-docket_session");
    }

    #[test]
    fn port_changes_the_default_listen_address() {
        let args = ConfigArgs {
            port: Some("9999".into()),
            ..Default::default()
        };
        let config = Config::from_args(&args).unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:9999");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let args = ConfigArgs {
            listen: Some("nowhere".into()),
            jwt_secret: Some("short".into()),
            registration: Some("maybe".into()),
            ..Default::default()
        };
        let problems = Config::from_args(&args).unwrap_err();
        let variables: Vec<_> = problems.iter().map(|p| p.variable.as_str()).collect();
        assert_eq!(
            variables,
            ["DOCKET_LISTEN", "DOCKET_JWT_SECRET", "DOCKET_REGISTRATION"]
        );
    }

    #[test]
    fn external_database_requires_secrets() {
        let args = ConfigArgs {
            database_url: Some("postgres://localhost/docket".into()),
            ..Default::default()
        };
        let problems = Config::from_args(&args).unwrap_err();
        assert!(problems.iter().any(|p| p.variable == "DOCKET_JWT_SECRET"));
        assert!(problems
            .iter()
            .any(|p| p.variable == "DOCKET_ENCRYPTION_KEY"));
    }

    fn oidc_args(variables: &[(&str, &str)]) -> ConfigArgs {
        ConfigArgs {
            oidc: variables
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn single_sign_on_providers_come_from_their_variables() {
        let args = oidc_args(&[
            (
                "DOCKET_OIDC_CORP_SSO_ISSUER",
                "https://id.example.com/realms/corp/",
            ),
            ("DOCKET_OIDC_CORP_SSO_CLIENT_ID", "docket"),
            ("DOCKET_OIDC_CORP_SSO_CLIENT_SECRET", "s3cret-value"),
            (
                "DOCKET_OIDC_CORP_SSO_ALLOWED_DOMAINS",
                "Example.com, @example.org",
            ),
            ("DOCKET_OIDC_CORP_SSO_CREATE_USERS", "true"),
            ("DOCKET_OIDC_GOOGLE_ISSUER", "https://accounts.google.com"),
            (
                "DOCKET_OIDC_GOOGLE_CLIENT_ID",
                "abc.apps.googleusercontent.com",
            ),
            ("DOCKET_OIDC_GOOGLE_LABEL", "Google Workspace"),
        ]);
        let config = Config::from_args(&args).unwrap();
        let [corp, google] = &config.oidc_providers[..] else {
            panic!("two providers: {:?}", config.oidc_providers)
        };
        assert_eq!(corp.id, "corp_sso");
        assert_eq!(corp.label, "Corp sso");
        assert_eq!(corp.scopes, ["openid", "email", "profile"]);
        assert_eq!(corp.allowed_domains, ["example.com", "example.org"]);
        assert!(corp.create_users && corp.client_secret.is_some());
        assert_eq!(google.label, "Google Workspace");
        assert!(!google.create_users && google.client_secret.is_none());
        let described = config.describe();
        assert!(described.contains("DOCKET_OIDC_CORP_SSO_CLIENT_SECRET=[redacted]"));
        assert!(!described.contains("s3cret-value"));
    }

    /// A provider set up wrongly is refused when the server starts, with every problem named
    /// (not discovered at the first sign-in, as with Vikunja #1447).
    #[test]
    fn every_single_sign_on_problem_is_named_at_start() {
        let args = oidc_args(&[
            ("DOCKET_OIDC_CORP_ISSUER", "not a url"),
            ("DOCKET_OIDC_CORP_SCOPES", "email profile"),
            ("DOCKET_OIDC_CORP_CREATE_USERS", "yes"),
            ("DOCKET_OIDC_OTHER_CLIENT_ID", "x"),
            ("DOCKET_OIDC_OTHER_REDIRECT", "x"),
            ("DOCKET_OIDC_bad_ISSUER", "https://x.example"),
        ]);
        let problems = Config::from_args(&args).unwrap_err();
        let mut variables: Vec<_> = problems.iter().map(|p| p.variable.as_str()).collect();
        variables.sort_unstable();
        assert_eq!(
            variables,
            [
                "DOCKET_OIDC_CORP_CLIENT_ID",
                "DOCKET_OIDC_CORP_CREATE_USERS",
                "DOCKET_OIDC_CORP_ISSUER",
                "DOCKET_OIDC_CORP_SCOPES",
                "DOCKET_OIDC_OTHER_ISSUER",
                "DOCKET_OIDC_OTHER_REDIRECT",
                "DOCKET_OIDC_bad_ISSUER",
            ]
        );
    }

    #[test]
    fn require_2fa_takes_three_values() {
        for (raw, expected) in [
            ("none", Require2fa::None),
            ("admins", Require2fa::Admins),
            ("all", Require2fa::All),
        ] {
            let args = ConfigArgs {
                require_2fa: Some(raw.into()),
                ..Default::default()
            };
            assert_eq!(Config::from_args(&args).unwrap().require_2fa, expected);
        }
        let args = ConfigArgs {
            require_2fa: Some("some".into()),
            ..Default::default()
        };
        assert_eq!(
            Config::from_args(&args).unwrap_err()[0].variable,
            "DOCKET_REQUIRE_2FA"
        );
    }

    #[test]
    fn storage_urls_are_local_or_s3() {
        assert_eq!(StorageUrl::parse("local").unwrap(), StorageUrl::Local);
        let url = StorageUrl::parse("s3://my-bucket/docket/files/").unwrap();
        assert_eq!(
            url,
            StorageUrl::S3 {
                bucket: "my-bucket".into(),
                prefix: "docket/files".into()
            }
        );
        assert_eq!(url.to_string(), "s3://my-bucket/docket/files");
        assert_eq!(
            StorageUrl::parse("s3://bucket").unwrap().to_string(),
            "s3://bucket"
        );
        for bad in [
            "s3://",
            "s3://B",
            "s3://ok-bucket/a//b",
            "s3://ok-bucket/../x",
            "gs://x",
            "/tmp",
        ] {
            assert!(StorageUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn smtp_urls() {
        for good in [
            "smtp://localhost:2525",
            "smtps://u:p@mail.example.com:465",
            "smtp://h?tls=required",
        ] {
            assert!(check_smtp_url(good).is_ok(), "{good}");
        }
        for bad in ["http://mail.example.com", "smtp://", "mail.example.com"] {
            assert!(check_smtp_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_never_print() {
        let args = ConfigArgs {
            jwt_secret: Some("x".repeat(40)),
            ..Default::default()
        };
        let config = Config::from_args(&args).unwrap();
        assert!(!format!("{config:?}").contains(&"x".repeat(40)));
        assert!(!config.describe().contains(&"x".repeat(40)));
    }
}
