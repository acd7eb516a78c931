//! A Python ASGI app (FastAPI/Starlette) under uvicorn from the test venv, on a free port of
//! 127.0.0.1, killed when dropped: the third-party servers of the scenario and ws login tests.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The test venv's Python: `BLAST_TEST_PYTHON`, else the venv .ci/run makes.
pub fn python() -> String {
    std::env::var("BLAST_TEST_PYTHON").unwrap_or_else(|_| {
        let venv = std::env::var("HOME").unwrap_or_default() + "/.cache/blast-ci/venv/bin/python";
        if Path::new(&venv).exists() {
            venv
        } else {
            panic!("BLAST_TEST_PYTHON is not set: run the tests through .ci/run, which installs fastapi, uvicorn, python-multipart and wsproto")
        }
    })
}

/// uvicorn serving `app` of the module `source` (written to `dir/app.py`).
pub struct Uvicorn {
    child: Child,
    /// `127.0.0.1:port`.
    pub addr: String,
}

impl Drop for Uvicorn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Uvicorn {
    /// Starts `source`'s `app` with the environment `env` and waits until it accepts
    /// connections. WebSockets are wsproto's.
    pub fn start(dir: &Path, source: &str, env: &[(&str, &str)]) -> Uvicorn {
        std::fs::write(dir.join("app.py"), source).expect("app.py");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let child = Command::new(python())
            .args(["-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--log-level", "warning", "--ws", "wsproto"])
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start uvicorn");
        let app = Uvicorn { child, addr: format!("127.0.0.1:{port}") };
        // Polled every 10 ms (a refused connect costs nothing): the app is used as soon as it
        // listens, not up to 50 ms later.
        for _ in 0..1000 {
            if std::net::TcpStream::connect(&app.addr).is_ok() {
                return app;
            }
            super::wait_ms(10);
        }
        panic!("uvicorn did not start on {}", app.addr);
    }

    /// The JSON body of `method path` on the app.
    pub fn json(&self, method: &str, path: &str) -> serde_json::Value {
        super::http_json(&self.addr, method, path, None)
    }
}
