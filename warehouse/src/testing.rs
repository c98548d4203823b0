//! A throwaway PostgreSQL server for tests (feature `testing`): `initdb` into a temporary
//! directory, `pg_ctl start` on a free port of 127.0.0.1, `pg_ctl stop` when the [`PgServer`] is
//! dropped. Every wait is bounded (`pg_ctl -w -t`). Run as root (as CI is), the server runs as the
//! `postgres` user (`runuser`), in a directory that user owns.
//!
//! The binaries come from `SWITCHBOARD_PG_BIN` (a directory holding `initdb` and `pg_ctl`), else
//! the newest `/usr/lib/postgresql/<major>/bin` (Debian's `postgresql` package), else `PATH`.
//!
//! ```no_run
//! # async fn demo() {
//! use switchboard_warehouse::{testing::PgServer, Options, Warehouse};
//! let pg = PgServer::start().expect("PostgreSQL for tests");
//! let url = pg.create_database("one").expect("database");
//! let wh = Warehouse::connect(&url, Options::default()).await.unwrap();
//! # }
//! ```

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long `pg_ctl` may wait for the server to start or stop.
const PG_CTL_WAIT: Duration = Duration::from_secs(60);

/// Why the test server could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PgError(String);

fn err(msg: impl Into<String>) -> PgError {
    PgError(msg.into())
}

/// A PostgreSQL server of its own, for one test: trust authentication for the `postgres` user on
/// 127.0.0.1, `fsync` off. Stopped and deleted on drop.
#[derive(Debug)]
pub struct PgServer {
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    port: u16,
    run_as: Option<String>,
    dir: tempfile::TempDir,
}

impl PgServer {
    /// Creates a cluster in a new temporary directory and starts it on a free port.
    pub fn start() -> Result<PgServer, PgError> {
        let bin = find_bin()?;
        let run_as = running_as_root().then(|| "postgres".to_string());
        let dir = tempfile::Builder::new()
            .prefix("switchboard-pg-")
            .tempdir()
            .map_err(|e| err(format!("cannot create a temporary directory: {e}")))?;
        if let Some(user) = &run_as {
            let (uid, gid) = user_ids(user)?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).map_err(|e| {
                err(format!(
                    "cannot give {} to {user}: {e}",
                    dir.path().display()
                ))
            })?;
        }
        let mut server = PgServer {
            data: dir.path().join("data"),
            log: dir.path().join("server.log"),
            port: 0,
            bin,
            run_as,
            dir,
        };
        server.run(
            "initdb",
            &[
                "-D".as_ref(),
                server.data.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        // A free port may be taken by someone else between our probe and the server's bind:
        // try a few.
        let mut last = None;
        for _ in 0..5 {
            server.port = free_port()?;
            match server.start_again() {
                Ok(()) => return Ok(server),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| err("PostgreSQL did not start")))
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of a database of this server, as the `postgres` superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a database (a name of letters, digits and `_`) and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, PgError> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(err(format!("not a plain database name: {name:?}")));
        }
        let port = self.port.to_string();
        self.run(
            "createdb",
            &[
                "-h".as_ref(),
                "127.0.0.1".as_ref(),
                "-p".as_ref(),
                port.as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                name.as_ref(),
            ],
        )?;
        Ok(self.url(name))
    }

    /// Starts the server again after [`PgServer::stop`] or [`PgServer::kill`], on the same port
    /// and data.
    pub fn start_again(&self) -> Result<(), PgError> {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off \
             -c full_page_writes=off -c max_connections=60 -c shared_buffers=32MB",
            self.port,
            self.dir.path().display()
        );
        let wait = PG_CTL_WAIT.as_secs().to_string();
        self.run(
            "pg_ctl",
            &[
                "start".as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                wait.as_ref(),
                "-D".as_ref(),
                self.data.as_os_str(),
                "-l".as_ref(),
                self.log.as_os_str(),
                "-o".as_ref(),
                opts.as_ref(),
            ],
        )
        .map_err(|e| err(format!("{e}\nserver log:\n{}", self.log_tail())))
    }

    /// Stops the server cleanly (`pg_ctl stop -m fast`): sessions are disconnected, committed
    /// data stays.
    pub fn stop(&self) -> Result<(), PgError> {
        self.pg_ctl_stop("fast")
    }

    /// Stops the server the hard way (`pg_ctl stop -m immediate`, as a crash): it recovers from
    /// its log when started again.
    pub fn kill(&self) -> Result<(), PgError> {
        self.pg_ctl_stop("immediate")
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn pg_ctl_stop(&self, mode: &str) -> Result<(), PgError> {
        let wait = PG_CTL_WAIT.as_secs().to_string();
        self.run(
            "pg_ctl",
            &[
                "stop".as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                wait.as_ref(),
                "-m".as_ref(),
                mode.as_ref(),
                "-D".as_ref(),
                self.data.as_os_str(),
            ],
        )
    }

    /// Runs one of the server's programs (as the `postgres` user when we are root), its output
    /// into a file (a pipe could be held open by the server it starts).
    fn run(&self, prog: &str, args: &[&std::ffi::OsStr]) -> Result<(), PgError> {
        let exe = self.bin.join(prog);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out_path = self.dir.path().join(format!("{prog}.out"));
        let out = File::create(&out_path)
            .map_err(|e| err(format!("cannot create {}: {e}", out_path.display())))?;
        let out2 = out
            .try_clone()
            .map_err(|e| err(format!("cannot clone a file handle: {e}")))?;
        let status = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(out2)
            .status()
            .map_err(|e| err(format!("cannot run {}: {e}", exe.display())))?;
        if status.success() {
            Ok(())
        } else {
            let output = std::fs::read_to_string(&out_path).unwrap_or_default();
            Err(err(format!(
                "{} {} failed ({status}):\n{output}",
                exe.display(),
                args.iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" ")
            )))
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // A server already stopped makes this fail, which is fine.
        let _ = self.pg_ctl_stop("immediate");
    }
}

fn missing() -> PgError {
    err(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's `postgresql` \
         package (apt-get install -y postgresql) or point SWITCHBOARD_PG_BIN at the directory \
         that holds them",
    )
}

fn has_server(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "createdb"]
        .iter()
        .all(|p| dir.join(p).is_file())
}

fn find_bin() -> Result<PathBuf, PgError> {
    if let Some(dir) = std::env::var_os("SWITCHBOARD_PG_BIN") {
        let dir = PathBuf::from(dir);
        return if has_server(&dir) {
            Ok(dir)
        } else {
            Err(err(format!(
                "SWITCHBOARD_PG_BIN={} holds no initdb, pg_ctl and createdb; {}",
                dir.display(),
                missing()
            )))
        };
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_server(&bin).then_some((major, bin))
        })
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|d| has_server(d))
        .ok_or_else(missing)
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn user_ids(user: &str) -> Result<(u32, u32), PgError> {
    let id = |flag: &str| -> Result<u32, PgError> {
        let out = Command::new("id")
            .args([flag, user])
            .output()
            .map_err(|e| err(format!("cannot run id: {e}")))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| {
                err(format!(
                    "no `{user}` user to run PostgreSQL as root; it comes with Debian's \
                     `postgresql` package (apt-get install -y postgresql)"
                ))
            })
    };
    Ok((id("-u")?, id("-g")?))
}

fn free_port() -> Result<u16, PgError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| err(format!("no free port on 127.0.0.1: {e}")))
}
