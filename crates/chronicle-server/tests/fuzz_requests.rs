#![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test
//! No request panics the server. A server runs in this process; proptest
//! drives it with two kinds of input, against every WorkflowService and
//! OperatorService method:
//! - raw bytes that are rarely a valid message at all;
//! - well-formed requests of the method's type (built by reflection over
//!   Temporal's descriptors) with absurd field values: extreme integers,
//!   NaN and infinite floats, durations and timestamps out of range, ids of
//!   1,001 and 100,000 bytes, unknown enum values, nested messages.
//!
//! Every call must come back with some status within its deadline, no
//! thread may panic (a panic hook counts them), and the server must still
//! answer afterwards. `CHRONICLE_FUZZ_CASES` sets the number of calls.

use chronicle_server::{Server, ServerOptions};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use prost_reflect::{DynamicMessage, Kind, MapKey, MessageDescriptor, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// A codec that sends and receives bytes as they are.
#[derive(Default, Clone)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// A small deterministic generator: proptest picks the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<T: Clone>(&mut self, options: &[T]) -> T {
        options[self.below(options.len())].clone()
    }
}

fn string(rng: &mut Rng, field: &str) -> String {
    // Most requests name the namespace that exists, so they get past it.
    if field == "namespace" && rng.chance(75) {
        return "default".into();
    }
    match rng.below(9) {
        0 => String::new(),
        1 => "x".repeat(1001),
        2 => "y".repeat(100_000),
        3 => "\u{0}\u{1}\u{7f}".into(),
        4 => "ünïcødé 😀".into(),
        5 => "default".into(),
        6 => "' OR 1=1 --".into(),
        7 => "WorkflowType = 'a' AND (((((".into(),
        _ => (0..rng.below(12)).map(|_| char::from(b'a' + rng.below(26) as u8)).collect(),
    }
}

fn scalar(rng: &mut Rng, kind: &Kind, field: &str, depth: usize) -> Value {
    let random = rng.next();
    match kind {
        Kind::Double => Value::F64(rng.pick(&[0.0, -1.0, 1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e308])),
        Kind::Float => Value::F32(rng.pick(&[0.0, -1.0, f32::NAN, f32::INFINITY, f32::MAX])),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(rng.pick(&[0, 1, -1, 7, i32::MIN, i32::MAX, random as i32]))
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(rng.pick(&[0, 1, -1, 42, i64::MIN, i64::MAX, 1 << 62, 315_576_000_001, random as i64]))
        }
        Kind::Uint32 | Kind::Fixed32 => Value::U32(rng.pick(&[0, 1, u32::MAX, random as u32])),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(rng.pick(&[0, 1, u64::MAX, random])),
        Kind::Bool => Value::Bool(rng.chance(50)),
        Kind::String => Value::String(string(rng, field)),
        Kind::Bytes => Value::Bytes((0..rng.below(48)).map(|_| rng.next() as u8).collect::<Vec<u8>>().into()),
        Kind::Enum(e) => {
            let known: Vec<i32> = e.values().map(|v| v.number()).collect();
            Value::EnumNumber(if rng.chance(80) { rng.pick(&known) } else { rng.pick(&[-1, 99, i32::MAX]) })
        }
        Kind::Message(m) => Value::Message(message(rng, m, depth + 1)),
    }
}

/// A message of type `descriptor` with about half its fields set to odd
/// values, nested three levels at most.
fn message(rng: &mut Rng, descriptor: &MessageDescriptor, depth: usize) -> DynamicMessage {
    let mut out = DynamicMessage::new(descriptor.clone());
    if depth > 3 {
        return out;
    }
    for field in descriptor.fields() {
        if !rng.chance(if field.name() == "namespace" { 95 } else { 50 }) {
            continue;
        }
        let kind = field.kind();
        let value = if field.is_map() {
            let Kind::Message(entry) = &kind else { continue };
            let value_kind = entry.map_entry_value_field().kind();
            let mut map = HashMap::new();
            for i in 0..rng.below(3) {
                map.insert(MapKey::String(format!("k{i}")), scalar(rng, &value_kind, "", depth));
            }
            Value::Map(map)
        } else if field.is_list() {
            Value::List((0..rng.below(4)).map(|_| scalar(rng, &kind, field.name(), depth)).collect())
        } else {
            scalar(rng, &kind, field.name(), depth)
        };
        out.set_field(&field, value);
    }
    out
}

#[test]
fn no_request_panics_the_server() {
    let cases = std::env::var("CHRONICLE_FUZZ_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1500);
    let panics = Arc::new(AtomicUsize::new(0));
    let counted = panics.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        counted.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let channel = rt.block_on(async {
        let store = chronicle_store::open(&chronicle_store::StoreUrl::SqliteMemory, 0).await.unwrap();
        let server = Server::build(store, ServerOptions::default()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(server.serve(listener, std::future::pending()));
        Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap()
    });

    let pool = chronicle_proto::json::pool();
    let mut methods = Vec::new();
    for service in
        ["temporal.api.workflowservice.v1.WorkflowService", "temporal.api.operatorservice.v1.OperatorService"]
    {
        let service = pool.get_service_by_name(service).unwrap();
        for method in service.methods() {
            methods.push((format!("/{}/{}", service.full_name(), method.name()), method.input()));
        }
    }
    assert!(methods.len() > 50, "the descriptors name every method");

    let call = |path: String, body: Vec<u8>| {
        let channel = channel.clone();
        rt.block_on(async move {
            let mut grpc = tonic::client::Grpc::new(channel);
            grpc.ready().await.unwrap();
            let mut request = tonic::Request::new(body);
            // Long polls and waits end at the caller's deadline.
            request.set_timeout(Duration::from_millis(300));
            let path = tonic::codegen::http::uri::PathAndQuery::try_from(path).unwrap();
            tokio::time::timeout(Duration::from_secs(20), grpc.unary(request, path, Raw)).await
        })
    };

    // Calls Chronicle does not serve answer UNIMPLEMENTED before reading
    // anything: the cases go to the ones it does.
    methods.retain(
        |(path, _)| !matches!(call(path.clone(), Vec::new()), Ok(Err(s)) if s.code() == tonic::Code::Unimplemented),
    );
    assert!(methods.len() > 40, "{} methods served", methods.len());
    let codes = std::sync::Mutex::new(std::collections::BTreeMap::<String, usize>::new());
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let strategy = (any::<u64>(), 0..methods.len(), 0..10u8);
    runner
        .run(&strategy, |(seed, index, mode)| {
            let (path, input) = &methods[index];
            let mut rng = Rng(seed | 1);
            let body = if mode == 0 {
                (0..rng.below(200)).map(|_| rng.next() as u8).collect()
            } else {
                prost::Message::encode_to_vec(&message(&mut rng, input, 0))
            };
            let answered = call(path.clone(), body);
            prop_assert!(answered.is_ok(), "{path} did not answer within 20 s");
            let code = match answered {
                Ok(Ok(_)) => "Ok".to_string(),
                Ok(Err(status)) => format!("{:?}", status.code()),
                Err(_) => unreachable!(),
            };
            *codes.lock().unwrap().entry(code).or_default() += 1;
            prop_assert_eq!(panics.load(Ordering::SeqCst), 0, "{} panicked", path);
            Ok(())
        })
        .unwrap();

    // What the calls came back with, to see how deep they got.
    eprintln!("answers by code: {:?}", codes.lock().unwrap());
    let info = call("/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo".into(), Vec::new());
    assert!(matches!(info, Ok(Ok(_))), "the server still serves: {info:?}");
    assert_eq!(panics.load(Ordering::SeqCst), 0);
}
