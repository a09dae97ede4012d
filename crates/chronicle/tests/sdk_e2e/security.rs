//! The official Rust SDK over TLS, mutual TLS and API keys: a worker and a
//! client with a key for namespace `a` (presenting a client certificate)
//! run a workflow there; the same key is refused in namespace `b`, and a
//! connection without a client certificate does not get through.

use super::server::TestServer;
use super::worker::{Credentials, await_with_workers, start_worker_with, try_connect_with};
use super::workflows::HelloWorkflow;
use super::{RESULT_TIMEOUT, hello_worker_options, unique};
use std::path::Path;
use std::process::Command;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use temporalio_client::{
    Client, ClientOptions, ClientTlsOptions, Connection, ConnectionOptions, TlsOptions, Url, WorkflowGetResultOptions,
    WorkflowStartOptions,
};

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().expect("openssl is installed");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA, a server certificate for 127.0.0.1/localhost and a client
/// certificate, all signed by the CA, in `dir`.
fn certificates(dir: &Path) {
    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &p("ca.key"),
        "-out",
        &p("ca.pem"),
        "-days",
        "2",
        "-subj",
        "/CN=e2e CA",
    ]);
    for (name, usage) in [("server", "serverAuth"), ("client", "clientAuth")] {
        std::fs::write(
            dir.join(format!("{name}.ext")),
            format!("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage={usage}\n"),
        )
        .unwrap();
        openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &p(&format!("{name}.key")),
            "-out",
            &p(&format!("{name}.csr")),
            "-subj",
            &format!("/CN={name}"),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &p(&format!("{name}.csr")),
            "-CA",
            &p("ca.pem"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-out",
            &p(&format!("{name}.pem")),
            "-days",
            "2",
            "-extfile",
            &p(&format!("{name}.ext")),
        ]);
    }
}

/// `chronicle auth key create`'s key, its line appended to `keys`.
fn create_key(keys: &Path, name: &str, namespace: &str, role: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_chronicle"))
        .args(["auth", "key", "create", "--name", name, "--namespace", namespace, "--role", role, "--auth-keys"])
        .arg(keys)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().find_map(|l| l.strip_prefix("key: ")).expect("a key line").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tls_client_certificates_and_api_keys_scope_the_sdk_to_its_namespace() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let keys = dir.path().join("keys");
    let key = create_key(&keys, "e2e-worker", "a", "worker");
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let args = [
        "--tls-cert".to_string(),
        path("server.pem"),
        "--tls-key".into(),
        path("server.key"),
        "--tls-client-ca".into(),
        path("ca.pem"),
        "--auth-keys".into(),
        path("keys"),
    ];
    let server = TestServer::start_with_args(&["a", "b"], &args).await;
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    let tls = TlsOptions::builder()
        .server_root_ca_cert(read("ca.pem"))
        .domain("localhost".to_string())
        .client_tls_options(
            ClientTlsOptions::builder().client_cert(read("client.pem")).client_private_key(read("client.key")).build(),
        )
        .build();
    let credentials = Credentials { tls: Some(tls.clone()), api_key: Some(key.clone()) };

    // A worker and a client in namespace a run a workflow with an activity.
    let client = try_connect_with(server.addr(), "a", &credentials).await.expect("connect with mTLS and a key");
    let tq = unique("secure");
    let calls = Arc::new(AtomicU32::new(0));
    let options_queue = tq.clone();
    let counted = calls.clone();
    let worker = start_worker_with(server.addr(), "a", &credentials, "secure", move || {
        hello_worker_options(options_queue, counted)
    })
    .await;
    let handle = client
        .start_workflow(
            HelloWorkflow::run,
            "TLS".to_owned(),
            WorkflowStartOptions::new(tq.clone(), unique("wf")).build(),
        )
        .await
        .expect("start in a");
    let result = await_with_workers(
        handle.get_result(WorkflowGetResultOptions::default()),
        &[&worker],
        RESULT_TIMEOUT,
        "result",
    )
    .await
    .expect("result");
    assert_eq!(result, "Hello, TLS!");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    worker.shutdown().await;

    // The same key in namespace b: PermissionDenied.
    let elsewhere = try_connect_with(server.addr(), "b", &credentials).await.expect("connect");
    let Err(refused) = elsewhere
        .start_workflow(
            HelloWorkflow::run,
            "no".to_owned(),
            WorkflowStartOptions::new(tq.clone(), unique("wf")).build(),
        )
        .await
    else {
        panic!("a key for a was let into b");
    };
    assert!(format!("{refused:?}").contains("PermissionDenied"), "{refused:?}");

    // No client certificate: the handshake fails.
    let no_cert = TlsOptions::builder().server_root_ca_cert(read("ca.pem")).domain("localhost".to_string()).build();
    let url = Url::from_str(&format!("https://{}", server.addr())).unwrap();
    let options = ConnectionOptions::new(url).tls_options(no_cert).api_key(key).build();
    let refused = match Connection::connect(options).await {
        Err(_) => true,
        Ok(connection) => Client::new(connection, ClientOptions::new("a").build())
            .unwrap()
            .start_workflow(HelloWorkflow::run, "no".to_owned(), WorkflowStartOptions::new(tq, unique("wf")).build())
            .await
            .is_err(),
    };
    assert!(refused, "a client without a certificate is refused");
}
