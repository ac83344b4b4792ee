//! A throwaway PostgreSQL server for tests: `initdb` in a temporary directory, `pg_ctl start`
//! on a loopback address of the caller's subnet, stopped and deleted on drop. The binaries
//! come from the distribution's `postgresql` package (PATH, then `/usr/lib/postgresql/*/bin`);
//! `cargo xtask ci` installs it when missing. PostgreSQL refuses to run as root, so under
//! root the server runs as the `postgres` user (or `nobody`).

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use thiserror::Error;

/// Why a PostgreSQL server could not be started.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PgError {
    /// `initdb` or `pg_ctl` is not installed.
    #[error(
        "PostgreSQL is not installed: `initdb` and `pg_ctl` are neither on PATH nor in \
         /usr/lib/postgresql/*/bin; install the distribution's package \
         (`apt-get install -y postgresql`; `cargo xtask ci` does it)"
    )]
    NotInstalled,
    /// A command could not be run.
    #[error("{0}: {1}")]
    Spawn(String, std::io::Error),
    /// A command failed.
    #[error("{command} failed: {output}")]
    Failed {
        /// The command.
        command: String,
        /// What it printed.
        output: String,
    },
}

/// The directory holding `initdb` and `pg_ctl`, if PostgreSQL is installed.
#[must_use]
pub fn bin_dir() -> Option<PathBuf> {
    let has = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has(&dir) {
                return Some(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, d)| has(d))
        .collect();
    versions.sort();
    versions.pop().map(|(_, d)| d)
}

/// A running PostgreSQL server; stopped and deleted on drop.
#[derive(Debug)]
pub struct PgServer {
    bin: PathBuf,
    dir: PathBuf,
    data: PathBuf,
    run_as: Option<&'static str>,
    url: String,
}

fn run(cmd: &mut Command) -> Result<Output, PgError> {
    let name = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| PgError::Spawn(name.clone(), e))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(PgError::Failed {
            command: name,
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        })
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PgServer {
    /// Starts a server listening on `ip` (a loopback address of the caller's subnet) and a
    /// free port, with one superuser `sotto` trusted without a password.
    pub fn start(ip: Ipv4Addr) -> Result<Self, PgError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let bin = bin_dir().ok_or(PgError::NotInstalled)?;
        let dir = std::env::temp_dir().join(format!(
            "sotto-pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| PgError::Spawn(dir.display().to_string(), e))?;
        let run_as = if is_root() {
            let user = if run(Command::new("id").arg("postgres")).is_ok() {
                "postgres"
            } else {
                "nobody"
            };
            run(Command::new("chown").arg(user).arg(&dir))?;
            Some(user)
        } else {
            None
        };
        let data = dir.join("data");
        let port = TcpListener::bind((ip, 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| PgError::Spawn(format!("bind {ip}"), e))?
            .port();
        let mut server = Self {
            url: format!("postgresql://sotto@{ip}:{port}/postgres"),
            bin,
            dir,
            data,
            run_as,
        };
        server.cmd("initdb", |c| {
            c.arg("-D")
                .arg(&server.data)
                .args(["-U", "sotto", "--auth=trust", "--no-sync", "-E", "UTF8"])
                .args(["--locale=C"]);
        })?;
        let options = format!(
            "-c listen_addresses={ip} -p {port} -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off",
            server.dir.display()
        );
        let log = server.dir.join("postgres.log");
        let started = server.cmd("pg_ctl", |c| {
            c.arg("-D")
                .arg(&server.data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o", &options, "start"]);
        });
        if let Err(e) = started {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            server.url.clear();
            return Err(PgError::Failed {
                command: format!("pg_ctl start ({e})"),
                output: log,
            });
        }
        Ok(server)
    }

    fn cmd(&self, tool: &str, args: impl FnOnce(&mut Command)) -> Result<Output, PgError> {
        let exe = self.bin.join(tool);
        let mut c = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        c.current_dir(&self.dir);
        args(&mut c);
        run(&mut c)
    }

    /// The connection URL (`postgresql://sotto@IP:PORT/postgres`).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if !self.url.is_empty() {
            let data = self.data.clone();
            let _ = self.cmd("pg_ctl", |c| {
                c.arg("-D")
                    .arg(&data)
                    .args(["-m", "immediate", "-w", "stop"]);
            });
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
