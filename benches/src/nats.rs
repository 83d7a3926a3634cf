//! A real `nats-server` (Debian package `nats-server`) on a free loopback
//! port, for the benches and tests that carry bus events across processes:
//! started, stopped and restarted on the same port, killed on drop.
//!
//! ```no_run
//! use ron_benches::nats::NatsServer;
//!
//! let mut server = NatsServer::start()?;
//! println!("clients connect to {}", server.url());
//! server.down(); // SIGKILL: no goodbye to clients
//! server.up()?; // the same port again
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's package installs the server: not on a normal user's
/// `PATH` on Debian.
const DEBIAN_BINARY: &str = "/usr/sbin/nats-server";

/// `nats-server` as found on the `PATH`, else Debian's [`DEBIAN_BINARY`]
/// when it exists.
fn binary() -> &'static str {
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join("nats-server").is_file())
    });
    if !on_path && std::path::Path::new(DEBIAN_BINARY).is_file() {
        DEBIAN_BINARY
    } else {
        "nats-server"
    }
}

/// Longest [`NatsServer::up`] waits for the server to listen.
pub const START_WAIT: Duration = Duration::from_secs(20);

/// A `nats-server -a 127.0.0.1 -p PORT` child process (or a reserved port
/// with none running).
#[derive(Debug)]
pub struct NatsServer {
    port: u16,
    child: Option<Child>,
}

impl NatsServer {
    /// A free loopback port with no server on it yet ("NATS down at
    /// start-up"); [`up`](Self::up) starts one there.
    ///
    /// # Errors
    ///
    /// No loopback port could be bound.
    pub fn reserve() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        Ok(Self { port, child: None })
    }

    /// A server on a free port, listening when this returns.
    ///
    /// # Errors
    ///
    /// As [`up`](Self::up).
    pub fn start() -> io::Result<Self> {
        let mut server = Self::reserve()?;
        server.up()?;
        Ok(server)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server on this port (again, after [`down`](Self::down))
    /// and waits until it accepts connections; a no-op while it runs.
    ///
    /// # Errors
    ///
    /// `nats-server` is not installed (the error says which package gives
    /// it), exited at start (port taken?), or did not listen within
    /// [`START_WAIT`].
    pub fn up(&mut self) -> io::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let child = Command::new(binary())
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot run `nats-server` ({e}): install the Debian package `nats-server`"
                    ),
                )
            })?;
        let child = self.child.insert(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + START_WAIT;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = child.try_wait()? {
                self.child = None;
                return Err(io::Error::other(format!(
                    "nats-server exited at start: {status} (port {} taken?)",
                    self.port
                )));
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("nats-server not listening after {START_WAIT:?}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Kills the server (SIGKILL: no goodbye to clients) and waits for it;
    /// the port stays this server's for [`up`](Self::up).
    pub fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Already exited: nothing to kill; the wait reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether a server process runs.
    pub fn is_up(&self) -> bool {
        self.child.is_some()
    }

    /// The running server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Freezes the running server (SIGSTOP): its connections stay open and
    /// nothing answers on them, the way a hung server or a half-open
    /// connection looks to a client.
    ///
    /// # Errors
    ///
    /// No server runs, or `kill` failed.
    pub fn stall(&self) -> io::Result<()> {
        self.signal("-STOP")
    }

    /// Lets a [`stall`](Self::stall)ed server run again (SIGCONT).
    ///
    /// # Errors
    ///
    /// As [`stall`](Self::stall).
    pub fn resume(&self) -> io::Result<()> {
        self.signal("-CONT")
    }

    fn signal(&self, signal: &str) -> io::Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no nats-server running"))?;
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("kill {signal} {pid}: {status}")))
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.down();
    }
}

#[cfg(test)]
mod tests {
    use super::NatsServer;

    #[test]
    fn a_reserved_port_has_no_server_until_up() {
        let server = NatsServer::reserve().unwrap();
        assert!(!server.is_up());
        assert!(server.url().ends_with(&server.port().to_string()));
        assert!(std::net::TcpStream::connect(("127.0.0.1", server.port())).is_err());
    }
}
