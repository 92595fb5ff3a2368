//! The HTTP surface of pairux-server: health, config.json, the app with SPA fallback.

mod scratch;

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser as _;
use pairux_server::{router, state_from_args, Args};

/// A dist/ stand-in with an index.html and one asset, one per test (tests run in parallel and
/// must not rewrite files another test's server is serving).
fn static_dir() -> PathBuf {
    let dir = scratch::dir("http");
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><html><head><title>PairUX</title><script>boot</script></head><body></body></html>",
    )
    .unwrap();
    std::fs::write(dir.join("app.js"), "export {};").unwrap();
    std::fs::write(dir.join("app-0123456789abcdef_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    dir
}

async fn spawn(extra: &[&str]) -> String {
    spawn_in(&static_dir(), extra).await
}

/// A server over `dir` (a test that puts more files in it first).
async fn spawn_in(dir: &std::path::Path, extra: &[&str]) -> String {
    let mut argv = vec!["pairux-server", "--static", dir.to_str().unwrap()];
    argv.extend_from_slice(extra);
    let args = Args::parse_from(argv);
    let state = Arc::new(state_from_args(&args, "test-secret").unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(state, args.static_dir.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn health_answers_ok() {
    let base = spawn(&[]).await;
    let res = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn config_json_has_the_documented_shape() {
    let base = spawn(&[
        "--public-url",
        "https://pairux.example",
        "--ice-servers",
        r#"[{"urls":"stun:127.0.0.1:3478"}]"#,
    ])
    .await;
    let res = reqwest::get(format!("{base}/config.json")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let config: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        config["realtimeUrl"],
        "wss://pairux.example/realtime/v1/websocket"
    );
    assert_eq!(config["iceServers"][0]["urls"], "stun:127.0.0.1:3478");
    assert!(config["sfu"].is_null());

    let key = config["anonKey"].as_str().unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_required_spec_claims(&["exp"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(
        key,
        &jsonwebtoken::DecodingKey::from_secret(b"test-secret"),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["role"], "anon");
}

/// The README opens `http://localhost:8080` while the server calls itself `127.0.0.1`: the page
/// asks `/api/access` across origins, and the browser's preflight must be answered.
#[tokio::test]
async fn the_access_endpoint_answers_a_page_of_another_origin() {
    let base = spawn(&[]).await;
    let client = reqwest::Client::new();
    let preflight = client
        .request(reqwest::Method::OPTIONS, format!("{base}/api/access"))
        .header("Origin", "http://localhost:8080")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let allowed = |res: &reqwest::Response, name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    assert_eq!(allowed(&preflight, "access-control-allow-origin"), "*");
    assert!(allowed(&preflight, "access-control-allow-methods").contains("post"));
    assert!(allowed(&preflight, "access-control-allow-headers").contains("content-type"));
    // The answer itself (a refusal here: the request proves nothing) is readable there too.
    let res = client
        .post(format!("{base}/api/access"))
        .header("Origin", "http://localhost:8080")
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(allowed(&res, "access-control-allow-origin"), "*");
}

#[tokio::test]
async fn session_paths_get_the_app_and_assets_are_served() {
    let base = spawn(&[]).await;
    // Every page carries this server's config (the same document as /config.json) as a data
    // block before its first script, for the boot script to read while the page parses.
    let config: serde_json::Value = reqwest::get(format!("{base}/config.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/",
        "/index.html",
        "/s/AAECAwQFBgcICQoLDA0ODw",
        "/anything/else",
    ] {
        let res = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let page = res.text().await.unwrap();
        assert!(page.contains("<title>PairUX</title>"), "{path}");
        let open = "<script id=\"pairux-config\" type=\"application/json\">";
        let start = page.find(open).expect("config block") + open.len();
        assert!(page[start..].contains("<script>boot</script>"), "{path}");
        let end = start + page[start..].find("</script>").unwrap();
        let inline: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(inline, config, "{path}");
    }
    let res = reqwest::get(format!("{base}/app.js")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn hashed_assets_are_kept_and_pages_are_revalidated() {
    let base = spawn(&[]).await;
    let cache =
        |res: &reqwest::Response| res.headers()["cache-control"].to_str().unwrap().to_owned();
    for path in ["/", "/index.html", "/s/AAECAwQFBgcICQoLDA0ODw", "/app.js"] {
        let res = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(cache(&res), "no-cache", "{path}");
    }
    let res = reqwest::get(format!("{base}/app-0123456789abcdef_bg.wasm"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(cache(&res), "public, max-age=31536000, immutable");
    // A hashed name that is not there (a build replaced it) is a 404, never the app's page
    // kept a year under that name; a missing page path still gets the app.
    for path in ["/app-fedcba9876543210_bg.wasm", "/gone.js", "/favicon.ico"] {
        let res = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert!(res.headers().get("cache-control").is_none(), "{path}");
    }
    // Revalidation answers 304 with the same policy; config.json keeps its own.
    let tag = reqwest::get(format!("{base}/index.html"))
        .await
        .unwrap()
        .headers()["etag"]
        .clone();
    for path in ["/", "/index.html", "/s/AAECAwQFBgcICQoLDA0ODw"] {
        let res = reqwest::Client::new()
            .get(format!("{base}{path}"))
            .header("if-none-match", tag.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 304, "{path}");
        assert_eq!(cache(&res), "no-cache", "{path}");
    }
    let res = reqwest::Client::new()
        .get(format!("{base}/"))
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = reqwest::get(format!("{base}/config.json")).await.unwrap();
    assert_eq!(cache(&res), "no-store");
}

#[tokio::test]
async fn a_file_goes_out_in_the_compressed_form_the_browser_accepts() {
    let dir = static_dir();
    let wasm = "app-0123456789abcdef_bg.wasm";
    // Stand-ins told apart by their bytes: the server picks a form, it does not compress.
    std::fs::write(dir.join(format!("{wasm}.br")), b"brotli form").unwrap();
    std::fs::write(dir.join(format!("{wasm}.gz")), b"gzip form").unwrap();
    let base = spawn_in(&dir, &[]).await;
    let base = base.as_str();
    let get = |path: String, accept: Option<&'static str>| async move {
        let mut req = reqwest::Client::new().get(format!("{base}{path}"));
        if let Some(accept) = accept {
            req = req.header("accept-encoding", accept);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200, "{path} {accept:?}");
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let encoding = header("content-encoding");
        let kind = header("content-type");
        let vary = header("vary");
        let cache = header("cache-control");
        let body = res.bytes().await.unwrap().to_vec();
        (encoding, kind, vary, cache, body)
    };
    let wasm_path = format!("/{wasm}");
    // Chrome's header: Brotli wins; the type is the file's, not the compressed form's.
    let (encoding, kind, vary, cache, body) =
        get(wasm_path.clone(), Some("gzip, deflate, br, zstd")).await;
    assert_eq!(encoding.as_deref(), Some("br"));
    assert_eq!(kind.as_deref(), Some("application/wasm"));
    assert_eq!(vary.as_deref(), Some("accept-encoding"));
    assert_eq!(
        cache.as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(body, b"brotli form");
    let (encoding, _, _, _, body) = get(wasm_path.clone(), Some("gzip")).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert_eq!(body, b"gzip form");
    // A client that accepts neither gets the file itself.
    let (encoding, kind, vary, _, body) = get(wasm_path.clone(), None).await;
    assert_eq!(encoding, None);
    assert_eq!(kind.as_deref(), Some("application/wasm"));
    assert_eq!(vary.as_deref(), Some("accept-encoding"));
    assert_eq!(body, b"\0asm\x01\0\0\0");
    // A file built without compressed forms goes out as it is, whatever is accepted.
    let (encoding, _, _, _, body) = get("/app.js".into(), Some("br, gzip")).await;
    assert_eq!(encoding, None);
    assert_eq!(body, b"export {};");
    // Revalidation (the full app's unhashed files are `no-cache`) answers 304 with `Vary`.
    let res = reqwest::Client::new()
        .get(format!("{base}{wasm_path}"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    let modified = res.headers()["last-modified"].clone();
    let res = reqwest::Client::new()
        .get(format!("{base}{wasm_path}"))
        .header("accept-encoding", "br")
        .header("if-modified-since", modified)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers()["vary"], "accept-encoding");
    // HEAD tells the form's encoding and length without the body.
    let res = reqwest::Client::new()
        .head(format!("{base}{wasm_path}"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-encoding"], "br");
    assert_eq!(res.headers()["content-length"], "11");
}

#[test]
fn bad_ice_servers_are_refused_at_start() {
    let args = Args::parse_from(["pairux-server", "--ice-servers", "{nope"]);
    assert!(state_from_args(&args, "s").is_err());
}
