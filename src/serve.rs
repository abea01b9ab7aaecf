//! Live preview (`diffrepro serve`), a driver beside `pipeline::build`: build, serve
//! the output folder on 127.0.0.1, watch the inputs, rebuild on change, and make the
//! browser reload.
//!
//! - **Watching** polls the modification times and sizes of every file under
//!   `chapters/`, `templates/` and `data/` ([`fingerprint`]). Polling a few hundred
//!   files every 300 ms costs nothing, needs no platform notification API, and sees
//!   edits made through editors that replace files by renaming, which is where
//!   notification-based watchers are fragile.
//! - **Rebuilding** is an ordinary `pipeline::build`: the result cache makes unchanged
//!   experiments free, so an edit to prose or a figure re-renders in about a second.
//! - **Serving** is a small HTTP/1.1 server on `std::net` (GET and HEAD of files in the
//!   output folder, one thread per connection, `Connection: close`): a preview for one
//!   person on the loopback interface needs nothing more, and it adds no dependency.
//! - **Reloading**: HTML pages are served with a tiny script appended that polls
//!   `/__version` and reloads when a build has finished. The script exists only in
//!   what the server sends: the report files on disk stay script-free.
//! - **Errors**: a failed build does not stop the server. Pages are served with the
//!   error (the usual diagnostics) in a banner above the last good report.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::pipeline::{self, BuildOptions};

/// The folders of a project whose changes trigger a rebuild.
pub const WATCHED: &[&str] = &["chapters", "templates", "data"];
/// How often the inputs are looked at.
pub const POLL: Duration = Duration::from_millis(300);
/// Most files watched (a guard against pointing `serve` at a huge folder).
pub const MAX_WATCHED: usize = 20_000;
/// Largest request head read from a client.
const MAX_REQUEST: usize = 16 * 1024;

pub struct ServeOptions {
    pub build: BuildOptions,
    /// 0 picks a free port (printed on stdout).
    pub port: u16,
    /// Open the page in the default browser after the first build.
    pub open: bool,
}

/// What the request handlers need to know about the builds.
struct State {
    out_dir: PathBuf,
    /// Incremented after every build, successful or not; pages poll it.
    version: AtomicU64,
    /// The last build's error, if it failed.
    error: Mutex<Option<String>>,
}

/// Bind, build, then watch and rebuild until the process is stopped. Returns only on
/// a setup error (the port cannot be bound).
pub fn run(opts: ServeOptions) -> Result<(), String> {
    let listener = TcpListener::bind(("127.0.0.1", opts.port)).map_err(|e| {
        format!(
            "cannot listen on 127.0.0.1:{}: {e}; pass another --port (0 picks a free one)",
            opts.port
        )
    })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let url = format!("http://{addr}/");
    let state = Arc::new(State {
        out_dir: opts.build.out_dir(),
        version: AtomicU64::new(0),
        error: Mutex::new(None),
    });
    {
        let state = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = state.clone();
                std::thread::spawn(move || handle(stream, &state));
            }
        });
    }
    // Stdout carries the address only, so a script (or a test) can read it.
    println!("serving {url}");
    let _ = std::io::stdout().flush();
    opts.build.reporter.note(&format!(
        "watching {} of {}; Ctrl-C stops",
        WATCHED.join("/, ") + "/",
        opts.build.project.display()
    ));
    let mut seen = fingerprint(&opts.build.project);
    rebuild(&opts.build, &state, "first build");
    if opts.open {
        open_browser(&url, opts.build.reporter.as_ref());
    }
    loop {
        std::thread::sleep(POLL);
        let now = fingerprint(&opts.build.project);
        if now == seen {
            continue;
        }
        // Let a burst of writes (an editor saving, a `git checkout`) settle first.
        let mut settled = now;
        let start = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(150));
            let again = fingerprint(&opts.build.project);
            if again == settled || start.elapsed() > Duration::from_secs(3) {
                break;
            }
            settled = again;
        }
        let changed = changes(&seen, &settled);
        seen = settled;
        rebuild(&opts.build, &state, &format!("changed: {changed}"));
    }
}

/// One build; records its outcome for the pages and prints progress.
fn rebuild(opts: &BuildOptions, state: &State, why: &str) {
    if opts.verbose {
        opts.reporter.note(&format!("{why}; building…"));
    }
    let start = Instant::now();
    let result = pipeline::build(opts);
    let secs = start.elapsed().as_secs_f64();
    let error = match result {
        Ok(s) => {
            if opts.verbose {
                use crate::check::Status;
                opts.reporter.note(&format!(
                    "built in {secs:.1} s: {} chapters, {} checks reproduced, {} discrepancies, {} failed; the page reloads",
                    s.chapters,
                    s.count(Status::Reproduced),
                    s.count(Status::Discrepancy),
                    s.count(Status::Failed)
                ));
            }
            None
        }
        Err(e) => {
            // Always shown: the terminal is where the author looks when the page says so.
            opts.reporter.note(&format!("{e}\nbuild failed after {secs:.1} s; the page shows the error and the last good report"));
            Some(e.to_string())
        }
    };
    *state.error.lock().unwrap_or_else(|e| e.into_inner()) = error;
    state.version.fetch_add(1, Ordering::SeqCst);
}

/// Size and modification time of every file under the watched folders.
pub fn fingerprint(project: &Path) -> BTreeMap<PathBuf, (u64, Option<SystemTime>)> {
    let mut out = BTreeMap::new();
    for dir in WATCHED {
        let mut stack = vec![project.join(dir)];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let Ok(meta) = e.metadata() else { continue };
                if meta.is_dir() {
                    stack.push(e.path());
                } else if out.len() < MAX_WATCHED {
                    out.insert(e.path(), (meta.len(), meta.modified().ok()));
                }
            }
        }
    }
    out
}

/// The files that differ between two fingerprints, for the terminal.
fn changes(
    old: &BTreeMap<PathBuf, (u64, Option<SystemTime>)>,
    new: &BTreeMap<PathBuf, (u64, Option<SystemTime>)>,
) -> String {
    let mut names: Vec<String> = new
        .iter()
        .filter(|(p, v)| old.get(*p) != Some(v))
        .map(|(p, _)| p.display().to_string())
        .chain(
            old.keys()
                .filter(|p| !new.contains_key(*p))
                .map(|p| format!("{} (removed)", p.display())),
        )
        .collect();
    let n = names.len();
    names.truncate(3);
    if n > 3 {
        names.push(format!("and {} more", n - 3));
    }
    names.join(", ")
}

fn open_browser(url: &str, reporter: &dyn crate::reporter::Reporter) {
    let (cmd, args): (&str, Vec<&str>) = if cfg!(target_os = "macos") {
        ("open", vec![url])
    } else if cfg!(windows) {
        ("cmd", vec!["/C", "start", "", url])
    } else {
        ("xdg-open", vec![url])
    };
    let spawned = std::process::Command::new(cmd)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        reporter.warn(&format!(
            "cannot open a browser ({cmd}: {e}); open {url} yourself"
        ));
    }
}

/// A parsed request line.
struct Request {
    method: String,
    path: String,
}

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.take(MAX_REQUEST as u64));
    let mut first = String::new();
    reader.read_line(&mut first).ok()?;
    // Drain the headers; we need none of them.
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    let mut parts = first.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?;
    let path = target.split(['?', '#']).next().unwrap_or("/");
    Some(Request {
        method,
        path: percent_decode(path)?,
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn handle(mut stream: TcpStream, state: &State) {
    let Some(req) = read_request(&mut stream) else {
        let _ = respond(
            &mut stream,
            "400 Bad Request",
            "text/plain",
            b"bad request\n",
            false,
        );
        return;
    };
    let head_only = req.method == "HEAD";
    if req.method != "GET" && !head_only {
        let _ = respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"only GET and HEAD\n",
            false,
        );
        return;
    }
    let version = state.version.load(Ordering::SeqCst);
    if req.path == "/__version" {
        let body = format!("{version}\n");
        let _ = respond(
            &mut stream,
            "200 OK",
            "text/plain; charset=utf-8",
            body.as_bytes(),
            head_only,
        );
        return;
    }
    let rel = match req.path.as_str() {
        "/" | "/index.html" => "report.html".to_string(),
        p => p.trim_start_matches('/').to_string(),
    };
    let Some(file) = confined(&state.out_dir, &rel) else {
        let _ = respond(
            &mut stream,
            "404 Not Found",
            "text/plain",
            b"not found\n",
            head_only,
        );
        return;
    };
    let is_html = rel.ends_with(".html");
    let error = state
        .error
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let bytes = std::fs::read(&file);
    let (status, body) = match (bytes, is_html) {
        (Ok(b), true) => (
            "200 OK",
            page(&String::from_utf8_lossy(&b), error.as_deref(), version),
        ),
        (Ok(b), false) => ("200 OK", b),
        (Err(_), true) if rel == "report.html" => {
            // No report yet: the first build is running, or failed.
            let note = match &error {
                Some(_) => "",
                None => "<p>Building the report… this page reloads when it is ready.</p>",
            };
            let shell = format!(
                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>diffrepro serve</title></head><body>{note}</body></html>\n"
            );
            ("200 OK", page(&shell, error.as_deref(), version))
        }
        (Err(_), _) => ("404 Not Found", b"not found\n".to_vec()),
    };
    let ctype = if status.starts_with("404") {
        "text/plain"
    } else {
        content_type(&rel)
    };
    let _ = respond(&mut stream, status, ctype, &body, head_only);
}

/// `rel` inside `root`, refusing `..`, absolute paths and hidden files (the cache).
fn confined(root: &Path, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    let ok = p.components().all(|c| match c {
        Component::Normal(s) => !s.to_string_lossy().starts_with('.'),
        _ => false,
    });
    ok.then(|| root.join(p))
}

fn content_type(rel: &str) -> &'static str {
    match rel.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "pdf" => "application/pdf",
        "csv" => "text/csv; charset=utf-8",
        "json" => "application/json",
        "md" | "txt" => "text/plain; charset=utf-8",
        "css" => "text/css",
        _ => "application/octet-stream",
    }
}

/// A page as served: the error banner (if the last build failed) after `<body>`, the
/// reload script before `</body>`.
pub fn page(html: &str, error: Option<&str>, version: u64) -> Vec<u8> {
    let mut out = html.to_string();
    if let Some(e) = error {
        let banner = format!(
            "<div id=\"diffrepro-serve-error\" style=\"margin:0 0 1.5rem;padding:.8rem 1rem;border:2px solid #b42318;background:#fff1f0;font-family:system-ui,sans-serif;font-size:.9rem\"><strong style=\"color:#b42318\">Build failed.</strong> Fix the input and save: the page reloads when the next build is done. Below is the last good report.<pre style=\"white-space:pre-wrap;font-size:.82rem;margin:.6rem 0 0\">{}</pre></div>",
            escape(e)
        );
        out = insert_after_body(&out, &banner);
    }
    let script = format!(
        "<script>/* diffrepro serve: reload when a build finishes */(function(){{var v=\"{version}\";function poll(){{fetch(\"/__version\",{{cache:\"no-store\"}}).then(function(r){{return r.text()}}).then(function(t){{if(t.trim()!==v){{location.reload()}}else{{setTimeout(poll,500)}}}}).catch(function(){{setTimeout(poll,2000)}})}}setTimeout(poll,500)}})();</script>"
    );
    match out.rfind("</body>") {
        Some(i) => out.insert_str(i, &script),
        None => out.push_str(&script),
    }
    out.into_bytes()
}

fn insert_after_body(html: &str, piece: &str) -> String {
    match html.find("<body") {
        Some(i) => match html[i..].find('>') {
            Some(j) => format!("{}{piece}{}", &html[..i + j + 1], &html[i + j + 1..]),
            None => format!("{piece}{html}"),
        },
        None => format!("{piece}{html}"),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    ctype: &str,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(body)?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_get_the_script_and_the_error_banner() {
        let html = "<!DOCTYPE html><html><body class=\"x\"><p>report</p></body></html>";
        let ok = String::from_utf8(page(html, None, 3)).unwrap();
        assert!(ok.contains("<p>report</p><script>"), "{ok}");
        assert!(ok.contains("var v=\"3\""), "{ok}");
        assert!(!ok.contains("Build failed"));
        let bad = String::from_utf8(page(html, Some("error: <bad> & worse"), 4)).unwrap();
        assert!(
            bad.contains("<body class=\"x\"><div id=\"diffrepro-serve-error\""),
            "{bad}"
        );
        assert!(bad.contains("error: &lt;bad&gt; &amp; worse"), "{bad}");
    }

    #[test]
    fn paths_stay_in_the_output_folder() {
        let root = Path::new("/out");
        assert_eq!(
            confined(root, "figures/a/b.svg"),
            Some(PathBuf::from("/out/figures/a/b.svg"))
        );
        assert_eq!(confined(root, "../etc/passwd"), None);
        assert_eq!(confined(root, "/etc/passwd"), None);
        assert_eq!(confined(root, ".cache/x"), None);
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("%2e%2e/x").as_deref(), Some("../x"));
        assert_eq!(percent_decode("%zz"), None);
    }

    #[test]
    fn fingerprints_see_edits() {
        let dir = std::env::temp_dir().join(format!("diffrepro-serve-fp-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("chapters/sub")).unwrap();
        std::fs::write(dir.join("chapters/a.md"), "one").unwrap();
        let a = fingerprint(&dir);
        std::fs::write(dir.join("chapters/sub/b.csv"), "x").unwrap();
        let b = fingerprint(&dir);
        assert_ne!(a, b);
        assert!(changes(&a, &b).contains("b.csv"), "{}", changes(&a, &b));
        std::fs::write(dir.join("chapters/a.md"), "one two").unwrap();
        assert_ne!(fingerprint(&dir), b, "a size change is seen");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
