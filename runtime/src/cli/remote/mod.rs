//! Commands that drive a running `wharf serve` through its HTTP API, and the local key tools for
//! signed plugins.
//!
//! Each command maps to one route of the API (`request` below, a pure function, so the mapping
//! is tested without a server), `Remote` sends it, and the server's JSON answer is printed as is.
//! An HTTP error prints the server's error object plus its `status` on stderr and exits
//! [`EXIT_CALL`]; a server that cannot be reached exits [`EXIT_HOST`]; a bad argument or input
//! file exits [`EXIT_USAGE`].

mod args;
mod client;
mod keys;
mod routes;

use std::process::ExitCode;

use wharf_runtime::model::Timestamp;

pub use args::{Command, PluginCommand, Server};
use client::{Remote, finish};
use keys::{keygen, sign};

/// Runs one of the server commands.
pub async fn run(command: Command, server: &Server) -> ExitCode {
    let now_ms = Timestamp::now().millis();
    let outcome = async {
        let request = command.request(now_ms)?;
        Remote::new(server)?.perform(&request).await
    };
    finish(outcome.await)
}

/// Runs one of the `plugin` commands of this module.
pub async fn run_plugin(command: PluginCommand, server: &Server) -> ExitCode {
    let outcome = match (&command, command.request()) {
        (_, Some(request)) => match Remote::new(server) {
            Ok(remote) => remote.perform(&request).await,
            Err(e) => Err(e),
        },
        (PluginCommand::Keygen { out }, None) => keygen(out.as_deref()),
        (PluginCommand::Sign { file, key, out }, None) => sign(file, key, out.as_deref()),
        (_, None) => unreachable!("only keygen and sign are local"),
    };
    finish(outcome)
}

#[cfg(test)]
mod tests {
    use super::super::{Args, Command as Top, PluginCommand as TopPlugin};
    use super::args::*;
    use super::client::*;
    use super::routes::*;
    use super::*;
    use clap::Parser as _;
    use reqwest::{Method, StatusCode};
    use serde_json::json;
    use url::Url;
    use wharf_runtime::registry::signature;

    /// 2026-11-11T00:00:00Z.
    const NOW: i64 = 1_794_355_200_000;

    fn base() -> Url {
        Url::parse(DEFAULT_SERVER).unwrap()
    }

    /// The server and request of a command line.
    fn request(argv: &[&str]) -> Result<(Server, Request), RemoteError> {
        let args = Args::try_parse_from(std::iter::once("wharf").chain(argv.iter().copied()))
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        match args.command {
            Top::Remote(c) => Ok((args.server, c.request(NOW)?)),
            Top::Plugin(TopPlugin::Registry(c)) => Ok((args.server, c.request().expect("a remote plugin command"))),
            other => panic!("not a remote command: {other:?}"),
        }
    }

    /// Method, URL and body of a command line.
    fn call(argv: &[&str]) -> (Method, String, Body) {
        let (_, r) = request(argv).unwrap();
        (r.method.clone(), r.url(&base()).to_string(), r.body)
    }

    const API: &str = "http://127.0.0.1:7380";

    #[test]
    fn plugin_commands_map_to_plugin_routes() {
        let (method, url, body) =
            call(&["plugin", "upload", "t/taobao.wasm", "--activate", "--grant", "a.com", "--grant", "b:81"]);
        assert_eq!(
            (method, url.as_str()),
            (Method::POST, &*format!("{API}/v1/plugins?activate=true&grant=a.com%2Cb%3A81"))
        );
        let sig = SignatureFile { path: "t/taobao.wasm.sig".into(), required: false };
        assert_eq!(body, Body::Wasm { file: "t/taobao.wasm".into(), signature: Some(sig) });

        let (_, url, body) = call(&["plugin", "upload", "x.wasm", "--signature", "s.b64"]);
        assert_eq!(url, format!("{API}/v1/plugins"));
        let sig = SignatureFile { path: "s.b64".into(), required: true };
        assert_eq!(body, Body::Wasm { file: "x.wasm".into(), signature: Some(sig) });

        let cases: [(&[&str], Method, &str, Body); 8] = [
            (&["plugin", "list"], Method::GET, "/v1/plugins", Body::Empty),
            (&["plugin", "show", "taobao"], Method::GET, "/v1/plugins/taobao", Body::Empty),
            (&["plugin", "versions", "taobao"], Method::GET, "/v1/plugins/taobao/versions", Body::Empty),
            (
                &["plugin", "activate", "taobao", "1.1.0"],
                Method::POST,
                "/v1/plugins/taobao/activate",
                Body::Json(json!({"version": "1.1.0"})),
            ),
            (&["plugin", "rollback", "taobao"], Method::POST, "/v1/plugins/taobao/rollback", Body::Empty),
            (
                &["plugin", "pin", "taobao", "acme", "1.0.0"],
                Method::PUT,
                "/v1/plugins/taobao/pins/acme",
                Body::Json(json!({"version": "1.0.0"})),
            ),
            (&["plugin", "unpin", "taobao", "acme"], Method::DELETE, "/v1/plugins/taobao/pins/acme", Body::Empty),
            (
                &["plugin", "grant", "taobao", "eco.taobao.com", "127.0.0.1:8080"],
                Method::PUT,
                "/v1/plugins/taobao/grants",
                Body::Json(json!({"hosts": ["eco.taobao.com", "127.0.0.1:8080"]})),
            ),
        ];
        for (argv, method, path, body) in cases {
            assert_eq!(call(argv), (method, format!("{API}{path}"), body), "{argv:?}");
        }
    }

    #[test]
    fn tenant_side_commands_map_to_their_routes() {
        let file = |p: &str| Body::JsonFile(p.into());
        let cases: Vec<(&[&str], Method, &str, Body)> = vec![
            (&["tenant", "list"], Method::GET, "/v1/tenants", Body::Empty),
            (&["tenant", "show", "acme"], Method::GET, "/v1/tenants/acme", Body::Empty),
            (&["progress", "acme"], Method::GET, "/v1/tenants/acme/progress", Body::Empty),
            (&["tenant", "create", "--file", "t.json"], Method::POST, "/v1/tenants", file("t.json")),
            (&["tenant", "update", "acme", "--file", "t.json"], Method::PUT, "/v1/tenants/acme", file("t.json")),
            (&["tenant", "delete", "acme"], Method::DELETE, "/v1/tenants/acme", Body::Empty),
            (&["shop", "list", "acme"], Method::GET, "/v1/tenants/acme/shops", Body::Empty),
            (&["shop", "add", "acme", "--file", "s.json"], Method::POST, "/v1/tenants/acme/shops", file("s.json")),
            (
                &["shop", "update", "acme", "tb", "--file", "s.json"],
                Method::PUT,
                "/v1/tenants/acme/shops/tb",
                file("s.json"),
            ),
            (&["shop", "remove", "acme", "tb"], Method::DELETE, "/v1/tenants/acme/shops/tb", Body::Empty),
            (
                &["token", "create", "acme", "--name", "erp"],
                Method::POST,
                "/v1/tenants/acme/tokens",
                Body::Json(json!({"name": "erp"})),
            ),
            (
                &["token", "create", "acme", "--name", "labels", "--decrypt"],
                Method::POST,
                "/v1/tenants/acme/tokens",
                Body::Json(json!({"name": "labels", "decrypt": true})),
            ),
            (&["token", "list", "acme"], Method::GET, "/v1/tenants/acme/tokens", Body::Empty),
            (
                &["token", "revoke", "acme", "0a1b2c3d4e5f"],
                Method::DELETE,
                "/v1/tenants/acme/tokens/0a1b2c3d4e5f",
                Body::Empty,
            ),
            (
                &["receivers", "acme", "--shop", "dy", "--order", "1", "--order", "2", "--reason", "print run"],
                Method::POST,
                "/v1/tenants/acme/receivers/decrypt",
                Body::Json(json!({"orders": [{"shop_id": "dy", "order_id": "1"}, {"shop_id": "dy", "order_id": "2"}],
                                  "purpose": "waybill", "reason": "print run"})),
            ),
            (&["audit", "acme"], Method::GET, "/v1/tenants/acme/audit?limit=100", Body::Empty),
            (
                &["after-sales", "acme", "--intercept", "--shop", "dy"],
                Method::GET,
                "/v1/tenants/acme/after-sales?intercept=true&shop_id=dy",
                Body::Empty,
            ),
            (
                &["switch", "module", "acme", "tb", "stock", "off"],
                Method::PUT,
                "/v1/tenants/acme/shops/tb/modules/stock",
                Body::Json(json!({"on": false})),
            ),
            (
                &["switch", "sku", "acme", "SKU-1", "prices", "on"],
                Method::PUT,
                "/v1/tenants/acme/skus/SKU-1/prices",
                Body::Json(json!({"on": true})),
            ),
            // A former name is read and sent as the current one.
            (
                &["switch", "sku", "acme", "SKU-1", "price", "on"],
                Method::PUT,
                "/v1/tenants/acme/skus/SKU-1/prices",
                Body::Json(json!({"on": true})),
            ),
            (
                &["switch", "module", "acme", "tb", "batches", "off"],
                Method::PUT,
                "/v1/tenants/acme/shops/tb/modules/lots",
                Body::Json(json!({"on": false})),
            ),
            (&["switch", "list", "acme"], Method::GET, "/v1/tenants/acme/switches", Body::Empty),
            (&["hold", "release", "acme", "SKU-1"], Method::DELETE, "/v1/tenants/acme/holds/SKU-1", Body::Empty),
            (&["dlq", "list", "acme"], Method::GET, "/v1/tenants/acme/dead-letters", Body::Empty),
            (&["quarantine", "list", "acme"], Method::GET, "/v1/tenants/acme/quarantine", Body::Empty),
            (&["waiting", "list", "acme"], Method::GET, "/v1/tenants/acme/updates/waiting", Body::Empty),
            (
                &["waiting", "purge", "acme", "--shop", "tb", "--sku", "FG-1", "--reason", "discontinued"],
                Method::POST,
                "/v1/tenants/acme/updates/waiting/purge",
                Body::Json(json!({"shop": "tb", "sku": "FG-1", "reason": "discontinued"})),
            ),
            (
                &["waiting", "purge", "acme", "--all", "--reason", "old import"],
                Method::POST,
                "/v1/tenants/acme/updates/waiting/purge",
                Body::Json(json!({"all": true, "reason": "old import"})),
            ),
            (&["unreadable", "list", "acme"], Method::GET, "/v1/tenants/acme/orders/unreadable", Body::Empty),
            (
                &["unreadable", "discard", "acme", "taobao", "tb", "7", "--reason", "year 10000"],
                Method::POST,
                "/v1/tenants/acme/orders/unreadable/taobao/tb/7/discard",
                Body::Json(json!({"reason": "year 10000"})),
            ),
            (
                &["quarantine", "retry", "acme", "dy-1", "6920000000000000001"],
                Method::POST,
                "/v1/tenants/acme/quarantine/dy-1/orders/6920000000000000001/retry",
                Body::Empty,
            ),
            (
                &["quarantine", "discard", "acme", "dy-1", "69", "--reason", "test order"],
                Method::POST,
                "/v1/tenants/acme/quarantine/dy-1/orders/69/discard",
                Body::Json(json!({"reason": "test order"})),
            ),
            (
                &["dlq", "replay", "acme", "pushes", "17"],
                Method::POST,
                "/v1/tenants/acme/dead-letters/pushes/17/replay",
                Body::Empty,
            ),
            (&["dlq", "replay", "acme", "--all"], Method::POST, "/v1/tenants/acme/dead-letters/replay", Body::Empty),
            (
                &["dlq", "replay", "acme", "--all", "--queue", "deliveries"],
                Method::POST,
                "/v1/tenants/acme/dead-letters/replay",
                Body::Json(json!({"queue": "deliveries"})),
            ),
            (
                &["dlq", "discard", "acme", "deliveries", "3", "--reason", "ERP has it"],
                Method::POST,
                "/v1/tenants/acme/dead-letters/deliveries/3/discard",
                Body::Json(json!({"reason": "ERP has it"})),
            ),
            (&["ack", "acme", "--file", "a.json"], Method::POST, "/v1/tenants/acme/orders/ack", file("a.json")),
            (
                &["push", "acme", "erp_status", "--file", "u.json"],
                Method::POST,
                "/v1/tenants/acme/updates/erp_status",
                file("u.json"),
            ),
            (
                &["push", "acme", "erp-status", "--file", "u.json"],
                Method::POST,
                "/v1/tenants/acme/updates/erp_status",
                file("u.json"),
            ),
            (
                &["import", "acme", "stock", "s.xlsx"],
                Method::POST,
                "/v1/tenants/acme/imports/stock",
                Body::Xlsx("s.xlsx".into()),
            ),
            (
                &["import-template", "acme", "prices", "--out", "p.xlsx"],
                Method::GET,
                "/v1/tenants/acme/imports/prices/template.xlsx",
                Body::Empty,
            ),
        ];
        for (argv, method, path, body) in cases {
            assert_eq!(call(argv), (method, format!("{API}{path}"), body), "{argv:?}");
        }
        let (_, r) = request(&["import", "acme", "stock", "s.xlsx"]).unwrap();
        assert_eq!(r.answer, Answer::ImportReport);
        let (_, r) = request(&["import-template", "acme", "prices", "--out", "p.xlsx"]).unwrap();
        assert_eq!(r.answer, Answer::SaveTo("p.xlsx".into()));
    }

    #[test]
    fn holds_carry_utc_ms() {
        let (_, r) =
            request(&["hold", "set", "acme", "SKU-1", "--quantity", "5", "--for", "2h", "--note", "launch"]).unwrap();
        assert_eq!(r.method, Method::PUT);
        assert_eq!(r.url(&base()).path(), "/v1/tenants/acme/holds/SKU-1");
        assert_eq!(r.body, Body::Json(json!({"quantity": 5, "until": Timestamp(NOW + 7_200_000), "note": "launch"})));

        let (_, r) =
            request(&["hold", "set", "acme", "SKU-1", "--quantity", "0", "--until", "2026-11-12T08:00:00+08:00"])
                .unwrap();
        assert_eq!(r.body, Body::Json(json!({"quantity": 0, "until": Timestamp(NOW + 86_400_000)})));

        let past =
            request(&["hold", "set", "acme", "S", "--quantity", "1", "--until", "2026-11-10T00:00:00Z"]).unwrap_err();
        assert!(past.to_string().contains("not in the future"), "{past}");
    }

    #[test]
    fn order_filters_become_the_query() {
        let (_, r) = request(&[
            "orders",
            "acme",
            "--sync",
            "any",
            "--status",
            "paid",
            "--from",
            "2026-11-11T00:00:00Z",
            "--to",
            "2026-11-11T08:00:00+08:00",
            "--shop",
            "tb",
            "--order-id",
            "42",
            "--limit",
            "50",
            "--all-pages",
        ])
        .unwrap();
        assert_eq!(
            r.url(&base()).as_str(),
            format!(
                "{API}/v1/tenants/acme/orders?any_sync=true&status=paid&shop_id=tb&order_id=42&updated_from=2026-11-11T00%3A00%3A00Z&updated_to=2026-11-11T00%3A00%3A00Z&limit=50"
            )
        );
        assert_eq!(r.answer, Answer::AllOrderPages);

        let (_, r) = request(&["orders", "acme", "--sync", "synced", "--cursor", "c1"]).unwrap();
        assert_eq!(r.url(&base()).query(), Some("sync=synced&cursor=c1"));
        assert_eq!(r.answer, Answer::Json);

        let (_, r) = request(&["export", "orders", "acme", "--out", "o.xlsx", "--status", "shipped"]).unwrap();
        assert_eq!(r.url(&base()).as_str(), format!("{API}/v1/tenants/acme/orders.xlsx?status=shipped"));
        assert_eq!(r.answer, Answer::SaveTo("o.xlsx".into()));

        let (_, r) = request(&["export", "after-sales", "acme", "--out", "a.xlsx", "--intercept"]).unwrap();
        assert_eq!(r.url(&base()).as_str(), format!("{API}/v1/tenants/acme/after-sales.xlsx?intercept=true"));
        assert_eq!(r.answer, Answer::SaveTo("a.xlsx".into()));
    }

    #[test]
    fn ids_are_escaped_and_a_base_path_is_kept() {
        let (_, r) = request(&["shop", "show", "a/b", "x y%"]).unwrap();
        assert_eq!(r.url(&base()).path(), "/v1/tenants/a%2Fb/shops/x%20y%25");
        let prefixed = Url::parse("https://wharf.example/api/").unwrap();
        assert_eq!(r.url(&prefixed).as_str(), "https://wharf.example/api/v1/tenants/a%2Fb/shops/x%20y%25");
    }

    #[test]
    fn server_and_token_go_before_or_after_the_subcommand() {
        let (server, _) = request(&["tenant", "--server", "http://h:1", "list", "--token", "t0"]).unwrap();
        assert_eq!((server.url.as_deref(), server.token.as_deref()), (Some("http://h:1"), Some("t0")));
        let (server, _) = request(&["plugin", "list", "--server", "http://h:2"]).unwrap();
        assert_eq!(server.url.as_deref(), Some("http://h:2"));
        let (server, _) = request(&["orders", "acme"]).unwrap();
        assert_eq!(server, Server::default());
        // Before the command too, as `wharf --server URL --token T tenant list`.
        let (server, _) = request(&["--server", "http://h:3", "--token", "t3", "tenant", "list"]).unwrap();
        assert_eq!((server.url.as_deref(), server.token.as_deref()), (Some("http://h:3"), Some("t3")));
        let (server, _) = request(&["--token", "t4", "plugin", "--server", "http://h:4", "versions", "jd"]).unwrap();
        assert_eq!((server.url.as_deref(), server.token.as_deref()), (Some("http://h:4"), Some("t4")));
        assert!(Remote::new(&Server { url: Some("ftp://x".into()), token: None }).is_err());
    }

    #[test]
    fn clap_refuses_incomplete_or_contradictory_commands() {
        let bad: [&[&str]; 14] = [
            &["dlq", "replay", "acme"],
            &["dlq", "replay", "acme", "pushes"],
            &["dlq", "replay", "acme", "pushes", "1", "--all"],
            &["dlq", "replay", "acme", "--queue", "pushes"],
            &["dlq", "discard", "acme", "outbox", "1", "--reason", "x"],
            &["hold", "set", "acme", "S", "--quantity", "1"],
            &["hold", "set", "acme", "S", "--quantity", "1", "--for", "2h", "--until", "2026-11-12T00:00:00Z"],
            &["hold", "set", "acme", "S", "--quantity", "1", "--for", "2 hours"],
            &["orders", "acme", "--status", "sent"],
            &["orders", "acme", "--from", "yesterday"],
            &["switch", "sku", "acme", "S", "lots", "off"],
            &["switch", "module", "acme", "tb", "ordrs", "off"],
            &["push", "acme", "orders", "--file", "o.json"],
            &["import", "acme", "listing", "l.xlsx"],
        ];
        for argv in bad {
            let argv: Vec<&str> = std::iter::once("wharf").chain(argv.iter().copied()).collect();
            assert!(Args::try_parse_from(&argv).is_err(), "{argv:?} should not parse");
        }
        let e = Args::try_parse_from(["wharf", "orders", "acme", "--status", "sent"]).unwrap_err().to_string();
        assert!(e.contains("unpaid, paid"), "{e}");
        // The local plugin commands still parse as before.
        assert!(Args::try_parse_from(["wharf", "plugin", "inspect", "x.wasm"]).is_ok());
        assert!(Args::try_parse_from(["wharf", "plugin", "keygen", "--out", "k"]).is_ok());
    }

    #[test]
    fn clap_definition_is_consistent() {
        <Args as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms("90s"), Ok(90_000));
        assert_eq!(duration_ms("2h"), Ok(7_200_000));
        assert_eq!(duration_ms("7d"), Ok(604_800_000));
        assert!(duration_ms("0m").unwrap_err().contains("release"));
        assert!(duration_ms("2").unwrap_err().contains("expected a whole number and a unit"));
        assert!(duration_ms("h").is_err());
        assert!(duration_ms("99999999999999999d").unwrap_err().contains("too long"));
    }

    #[test]
    fn http_errors_keep_the_servers_words_and_add_the_status() {
        let body = http_error(StatusCode::CONFLICT, br#"{"error":"conflict","message":"exists"}"#);
        assert_eq!(body, json!({"error": "conflict", "message": "exists", "status": 409}));
        let body = http_error(StatusCode::BAD_REQUEST, b"Failed to deserialize query string\n");
        assert_eq!(
            body,
            json!({"error": "invalid_input", "message": "Failed to deserialize query string", "status": 400})
        );
        let body = http_error(StatusCode::BAD_GATEWAY, b"");
        assert_eq!(body, json!({"error": "http_502", "message": "Bad Gateway", "status": 502}));
        let rows = br#"{"error":"rejected","applied":false,"rows":[{"row":2,"accepted":false}]}"#;
        assert_eq!(http_error(StatusCode::UNPROCESSABLE_ENTITY, rows)["status"], json!(422));
    }

    #[test]
    fn keygen_and_sign_write_files_that_verify() {
        let dir = std::env::temp_dir().join(format!("wharf-keygen-{}-{}", std::process::id(), NOW));
        std::fs::create_dir_all(&dir).unwrap();
        let prefix = dir.join("release");
        let made = keygen(Some(&prefix)).unwrap();
        let secret_file = dir.join("release.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&secret_file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(keygen(Some(&prefix)).unwrap_err().to_string().contains("not overwriting"));

        let wasm = dir.join("p.wasm");
        std::fs::write(&wasm, b"\0asm plugin").unwrap();
        let signed = sign(&wasm, &secret_file, None).unwrap();
        assert_eq!(signed["key_id"], made["key_id"]);
        let text = std::fs::read_to_string(dir.join("p.wasm.sig")).unwrap();
        let public = std::fs::read_to_string(dir.join("release.pub")).unwrap();
        let trusted = signature::TrustedKeys::parse(&[public]).unwrap();
        assert_eq!(json!(trusted.verify(b"\0asm plugin", &text).unwrap()), made["key_id"]);

        let found = SignatureFile { path: dir.join("p.wasm.sig"), required: false };
        assert_eq!(read_signature(&found).unwrap().as_deref(), Some(text.trim()));
        let absent = SignatureFile { path: dir.join("none.sig"), required: false };
        assert_eq!(read_signature(&absent).unwrap(), None);
        assert!(read_signature(&SignatureFile { required: true, ..absent }).is_err());

        let bad = sign(&wasm, &wasm, None).unwrap_err().to_string();
        assert!(bad.contains("p.wasm"), "{bad}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
