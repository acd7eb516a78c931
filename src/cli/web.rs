//! `--web ADDR` and `--web-linger D` of every workload: starts the live page
//! (`report::live_page`) with a fresh per-run token, wires its controls to the run (Stop sets
//! the run's stop flag; set-rate goes to the workload's `Steer` where it has one), feeds it the
//! once-a-second figures (`report::live_view`), and after the run shows the final report.
//!
//! The address is where blast listens: `:8089` or `8089` is 127.0.0.1:8089; any other IP
//! address is served as given, with a note on stderr that the page is reachable from the
//! network. A busy or invalid address is the user's error (exit 2) before anything is sent.

use super::common::parse_listen;
use super::common::UsageError;
use crate::report::live_page::{self, Controls, PageServer};
use crate::report::live_view::{Detail, LiveView, Second};
use crate::report::progress::Reading;
use crate::units::parse_duration;
use clap::Args;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Args, Debug, Default, Clone)]
pub struct WebArgs {
    /// Serve a live page of the run on this address (:8089 is loopback; port 0 picks one):
    /// figures, charts and tables each second, a Stop button and (api) a rate to set. blast
    /// prints the address with the run's token; controls without the token are refused.
    #[arg(long, value_name = "ADDR:PORT", value_parser = parse_listen)]
    pub web: Option<SocketAddr>,
    /// With --web: keep showing the final report this long after the run (Ctrl-C ends it).
    #[arg(long, value_name = "D", value_parser = parse_duration, requires = "web")]
    pub web_linger: Option<Duration>,
}

/// Changes the load of a running workload (api and scenarios: the arrival rate).
pub trait Steer: Send + Sync {
    /// Sets the rate from the next second: what is shown when done, or why it was refused.
    fn set_rate(&self, rate: f64) -> Result<String, String>;
}

/// The page of a running run.
pub struct Web {
    server: PageServer,
    view: Arc<Mutex<LiveView>>,
    stopped_here: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    linger: Option<Duration>,
}

/// What the page says when Stop was pressed.
pub const STOPPED: &str = "stopped from the web page";

impl WebArgs {
    /// Starts the page when asked for: bound now, so that a bad or busy address fails before
    /// the run. `stop` is the run's stop flag; `steer` the workload's rate control, if any.
    pub fn start(
        &self,
        title: &str,
        stop: Arc<AtomicBool>,
        steer: Option<Arc<dyn Steer>>,
    ) -> Result<Option<Web>, UsageError> {
        let Some(addr) = self.web else { return Ok(None) };
        let token = live_page::new_token().map_err(|e| format!("--web: no random token: {e}"))?;
        let view = Arc::new(Mutex::new(LiveView::new(title)));
        let stopped_here = Arc::new(AtomicBool::new(false));
        let (flag, here, noted) = (stop.clone(), stopped_here.clone(), view.clone());
        let stop_control: live_page::Control = Box::new(move |_| {
            here.store(true, Ordering::SeqCst);
            flag.store(true, Ordering::SeqCst);
            note(&noted, STOPPED.to_string());
            Ok("stopping: the run ends and writes its reports".into())
        });
        let set_rate = steer.map(|steer| {
            let noted = view.clone();
            Box::new(move |text: &str| {
                let rate = crate::units::parse_rate(text).map_err(|e| format!("rate '{text}': {e}"))?;
                let done = steer.set_rate(rate)?;
                note(&noted, done.clone());
                Ok(done)
            }) as live_page::Control
        });
        let controls = Controls { stop: stop_control, set_rate };
        let server = PageServer::start(addr, token.clone(), controls).map_err(|e| format!("--web {addr}: {e}"))?;
        let at = server.addr();
        eprintln!("blast: live page on http://{at}/#token={token} (the token lets a browser stop or steer the run)");
        if !addr.ip().is_loopback() {
            eprintln!("blast: note: --web {addr} is not a loopback address: the page can be read from the network");
        }
        let web = Web { server, view, stopped_here, stop, linger: self.web_linger };
        web.show();
        Ok(Some(web))
    }
}

fn note(view: &Mutex<LiveView>, line: String) {
    if let Ok(mut v) = view.lock() {
        v.notes.push(line);
    }
}

impl Web {
    /// Publishes the page of the run so far.
    fn show(&self) {
        if let Ok(v) = self.view.lock() {
            let page = v.page();
            self.server.publish(&page.title, &crate::report::html::body(&page));
        }
    }

    /// One second of the run: the progress reading and what the workload adds.
    pub fn second(&mut self, r: &Reading, detail: Detail) {
        let second = Second {
            second: r.elapsed.map_or(0, |e| e.as_secs()),
            phase: r.phase,
            target: r.rate.target,
            achieved: r.rate.achieved,
            unit: r.rate.unit,
            p99_ms: r.p99_ms,
            errors: r.errors.clone(),
            more: r.more.clone(),
            cpu: r.cpu.clone(),
        };
        if let Ok(mut v) = self.view.lock() {
            let second = Second {
                second: if second.second == 0 { v.seconds().len() as u64 + 1 } else { second.second },
                ..second
            };
            v.push(second, detail);
        }
        self.show();
    }

    /// Whether Stop on the page ended the run.
    pub fn stopped_here(&self) -> bool {
        self.stopped_here.load(Ordering::SeqCst)
    }

    /// The run is over: the final report (its page, with the files written) until Ctrl-C or
    /// `--web-linger` has passed.
    pub fn finish(self, page: &crate::report::html::Page, files: Vec<String>) {
        self.server.finish(&page.title, &crate::report::html::body(page), files);
        let Some(linger) = self.linger else { return };
        eprintln!(
            "blast: the final report stays on http://{}/ for {} (Ctrl-C ends it)",
            self.server.addr(),
            crate::units::duration_text(linger)
        );
        // The next Ctrl-C (or Stop) ends the wait, whatever ended the run.
        self.stop.store(false, Ordering::SeqCst);
        let until = Instant::now() + linger;
        while Instant::now() < until && !self.stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
