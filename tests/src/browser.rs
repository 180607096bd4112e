//! A headless Chromium for the console's tests, driven over WebDriver (the W3C protocol
//! `chromedriver` speaks, plain JSON over loopback HTTP): Debian's `chromium` and
//! `chromium-driver`, which `tests/setup` installs.
//!
//! Like the other servers the tests start, the driver and its browser run as the unprivileged
//! user when the tests run as root, in a directory of their own (profile, downloads, files to
//! upload) removed with them, on a free loopback port; dropping the [`Browser`] ends the session
//! and kills the driver's process group, browser included.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use serde_json::{Value, json};
use wharf_sim::throwaway::{TempDir, unprivileged_user};

use crate::process::free_port;

/// Where Debian puts them.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long the driver may take to answer its status once started.
const DRIVER_START: Duration = Duration::from_secs(20);
/// How long a wait for something on the page polls before failing the test.
pub const PAGE_WAIT: Duration = Duration::from_secs(20);
/// The W3C element reference's key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A browser session; the driver process group dies with it.
pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
    base: String,
    dir: TempDir,
    shots: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; screenshots go to `shots`.
    pub async fn start(shots: &Path) -> anyhow::Result<Browser> {
        for program in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(program).exists() {
                bail!("{program} is missing: install Debian's chromium and chromium-driver (tests/setup does)");
            }
        }
        let run_as = unprivileged_user()?;
        let dir = TempDir::create("browser", "", run_as.as_ref())?;
        let port = free_port();
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg(format!("--port={port}"))
            .env("HOME", &dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        if let Some(user) = &run_as {
            command.uid(user.uid).gid(user.gid);
        }
        let driver = command.spawn().context("starting chromedriver")?;
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            let ready = match http.get(format!("{base}/status")).send().await {
                Ok(r) => r.bytes().await.ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()),
                Err(_) => None,
            };
            if ready.is_some_and(|v| v["value"]["ready"] == true) {
                break;
            }
            if started.elapsed() > DRIVER_START {
                bail!("chromedriver did not answer on port {port} within {DRIVER_START:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = dir.0.join("profile");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1366,900", "--lang=zh-CN", format!("--user-data-dir={}", profile.display())],
            },
        }}});
        let answer = send(http.post(format!("{base}/session")), Some(capabilities)).await?;
        let Some(session) = answer["value"]["sessionId"].as_str() else {
            bail!("chromedriver refused the session: {answer}");
        };
        std::fs::create_dir_all(shots)?;
        Ok(Browser { driver, http, session: session.to_owned(), base, dir, shots: shots.to_owned() })
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let answer = send(self.http.request(method, url), body).await?;
        if let Some(error) = answer["value"]["error"].as_str() {
            bail!("webdriver {path}: {error}: {}", answer["value"]["message"]);
        }
        Ok(answer["value"].clone())
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.command(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await.map(drop)
    }

    /// The first element `css` selects, waiting up to [`PAGE_WAIT`] for it.
    pub async fn find(&self, css: &str) -> anyhow::Result<String> {
        let started = Instant::now();
        loop {
            let found = self
                .command(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css})))
                .await;
            match found {
                Ok(v) => match v[ELEMENT].as_str() {
                    Some(id) => return Ok(id.to_owned()),
                    None => bail!("`{css}`: no element reference in {v}"),
                },
                Err(e) if started.elapsed() > PAGE_WAIT => bail!("no `{css}` on the page: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        let id = self.find(css).await?;
        self.command(reqwest::Method::POST, &format!("/element/{id}/click"), Some(json!({}))).await.map(drop)
    }

    /// Types `text` into the element `css` selects (for a file input: the file's path).
    pub async fn type_into(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let id = self.find(css).await?;
        self.command(reqwest::Method::POST, &format!("/element/{id}/value"), Some(json!({"text": text})))
            .await
            .map(drop)
    }

    /// Chooses `value` in the `<select>` `css` selects.
    pub async fn choose(&self, css: &str, value: &str) -> anyhow::Result<()> {
        self.click(&format!("{css} option[value=\"{value}\"]")).await
    }

    /// The visible text of the element `css` selects.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        let id = self.find(css).await?;
        let v = self.command(reqwest::Method::GET, &format!("/element/{id}/text"), None).await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// Waits until the text of `css` satisfies `ok`; that text.
    pub async fn wait_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> anyhow::Result<String> {
        let started = Instant::now();
        loop {
            let text = self.text(css).await.unwrap_or_default();
            if ok(&text) {
                return Ok(text);
            }
            if started.elapsed() > PAGE_WAIT {
                bail!("{what}: `{css}` still reads {text:?} after {PAGE_WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Runs `script` in the page (its `arguments` are `args`); what it returns.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        self.command(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    /// Accepts the `confirm()` the page shows (or types `text` into its `prompt()`).
    pub async fn accept_dialog(&self, text: Option<&str>) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if self.command(reqwest::Method::GET, "/alert/text", None).await.is_ok() {
                if let Some(t) = text {
                    self.command(reqwest::Method::POST, "/alert/text", Some(json!({"text": t}))).await?;
                }
                return self.command(reqwest::Method::POST, "/alert/accept", Some(json!({}))).await.map(drop);
            }
            if started.elapsed() > PAGE_WAIT {
                bail!("no dialog within {PAGE_WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A copy of `bytes` as `name` where the browser may read it (for a file input).
    pub fn file(&self, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt as _;
        let path = self.dir.0.join(name);
        std::fs::write(&path, bytes)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        Ok(path)
    }

    /// A PNG of the window, as `<shots>/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let v = self.command(reqwest::Method::GET, "/screenshot", None).await?;
        let png = base64::engine::general_purpose::STANDARD.decode(v.as_str().context("base64 PNG")?)?;
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }
}

/// One WebDriver request with a JSON body, and its JSON answer.
async fn send(request: reqwest::RequestBuilder, body: Option<Value>) -> anyhow::Result<Value> {
    let request = match body {
        Some(b) => request.header("Content-Type", "application/json").body(serde_json::to_vec(&b)?),
        None => request,
    };
    let bytes = request.send().await?.bytes().await?;
    serde_json::from_slice(&bytes).context("a JSON answer from chromedriver")
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver's whole group: chromedriver and the browsers it started.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}
