//! Generates tonic server traits for Temporal's WorkflowService,
//! OperatorService and TestService (the test server's time skipping) over
//! the message types compiled by `temporalio-protos`, so the messages we
//! serve are exactly the SDKs' own.
//!
//! `temporalio-protos` exports its FileDescriptorSet path to dependents'
//! build scripts as `DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH`; we keep only the
//! service files and map every `.temporal` type to the existing crate.

use prost::Message;
use std::{env, fs, path::PathBuf};

const SERVICE_FILES: &[&str] = &[
    "temporal/api/workflowservice/v1/service.proto",
    "temporal/api/operatorservice/v1/service.proto",
    "temporal/api/testservice/v1/service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let descriptor_path = env::var("DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH")
        .map_err(|_| "temporalio-protos did not export DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH")?;
    println!("cargo:rerun-if-changed={descriptor_path}");
    println!("cargo:rerun-if-env-changed=DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH");
    let descriptor_bytes = fs::read(&descriptor_path)?;
    // Every message's descriptor, for protobuf JSON (`json.rs`).
    fs::write(PathBuf::from(env::var("OUT_DIR")?).join("temporal_descriptors.bin"), &descriptor_bytes)?;
    let mut fds = prost_types::FileDescriptorSet::decode(descriptor_bytes.as_slice())?;
    fs::write(PathBuf::from(env::var("OUT_DIR")?).join("guarded.rs"), guarded_services(&fds)?)?;
    fds.file.retain(|f| SERVICE_FILES.contains(&f.name.as_deref().unwrap_or_default()));
    if fds.file.len() != SERVICE_FILES.len() {
        return Err("service protos missing from the temporalio-protos descriptor set".into());
    }

    let out = PathBuf::from(env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .generate_default_stubs(true)
        .extern_path(".temporal", "::temporalio_protos::temporal")
        .compile_fds(fds)?;

    // tonic's default stubs answer "Not yet implemented" without naming the
    // method; name it, so a user knows which RPC Chronicle lacks.
    for (file, service) in [
        ("temporal.api.workflowservice.v1.rs", "WorkflowService"),
        ("temporal.api.operatorservice.v1.rs", "OperatorService"),
        ("temporal.api.testservice.v1.rs", "TestService"),
    ] {
        let path = out.join(file);
        let src = fs::read_to_string(&path)?;
        fs::write(&path, name_unimplemented_stubs(&src, service))?;
    }
    cluster_service();
    Ok(())
}

/// Chronicle's own node-to-node service (`src/cluster.rs` holds its
/// messages, written by hand: no .proto file to compile).
fn cluster_service() {
    let method = |name: &str, route: &str, input: &str, output: &str| {
        tonic_build::manual::Method::builder()
            .name(name)
            .route_name(route)
            .input_type(format!("crate::cluster::{input}"))
            .output_type(format!("crate::cluster::{output}"))
            .codec_path("tonic_prost::ProstCodec")
            .build()
    };
    let service = tonic_build::manual::Service::builder()
        .name("Cluster")
        .package("chronicle.cluster.v1")
        .method(method("describe", "Describe", "DescribeRequest", "DescribeResponse"))
        .method(method("add_task", "AddTask", "AddTaskRequest", "AddTaskResponse"))
        .method(method("start_task", "StartTask", "StartTaskRequest", "StartTaskResponse"))
        .method(method("apply", "Apply", "ApplyRequest", "ApplyResponse"))
        .method(method("start", "Start", "StartRequest", "StartResponse"))
        .method(method("refresh", "Refresh", "RefreshRequest", "RefreshResponse"))
        .build();
    tonic_build::manual::Builder::new().compile(&[service]);
}

fn name_unimplemented_stubs(src: &str, service: &str) -> String {
    let mut out = String::with_capacity(src.len() + 16 * 1024);
    let mut current_fn = String::new();
    for line in src.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("async fn ") {
            current_fn = rest.split(['(', '<']).next().unwrap_or_default().to_string();
        }
        if line.contains("\"Not yet implemented\"") {
            let msg = format!("\"{service}/{} is not implemented by Chronicle\"", pascal_case(&current_fn));
            out.push_str(&line.replace("\"Not yet implemented\"", &msg));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

fn pascal_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// `Guarded<S>`: WorkflowService and OperatorService implemented over any
/// implementation `S`, each call first put to an `Admission` with its
/// method and the namespace it names (the request's `namespace` field,
/// where the message has one), as Temporal's authorization interceptor
/// sees calls.
fn guarded_services(fds: &prost_types::FileDescriptorSet) -> Result<String, Box<dyn std::error::Error>> {
    use prost_types::field_descriptor_proto::Type;
    let mut has_namespace = std::collections::HashSet::new();
    let mut has_identity = std::collections::HashSet::new();
    // How to read the workflow a request is about, by message.
    let mut workflow_of = std::collections::HashMap::new();
    for file in &fds.file {
        let package = file.package.as_deref().unwrap_or_default();
        for message in &file.message_type {
            let string_namespace = message.field.iter().any(|f| {
                f.name.as_deref() == Some("namespace")
                    && f.r#type() == Type::String
                    && f.label() != prost_types::field_descriptor_proto::Label::Repeated
            });
            let full_name = format!(".{package}.{}", message.name.as_deref().unwrap_or_default());
            if string_namespace {
                has_namespace.insert(full_name.clone());
            }
            if message.field.iter().any(|f| f.name.as_deref() == Some("identity") && f.r#type() == Type::String) {
                has_identity.insert(full_name.clone());
            }
            let execution = message.field.iter().find(|f| {
                matches!(f.name.as_deref(), Some("workflow_execution" | "execution"))
                    && f.type_name.as_deref() == Some(".temporal.api.common.v1.WorkflowExecution")
            });
            let string_field = |name: &str| {
                message.field.iter().any(|f| f.name.as_deref() == Some(name) && f.r#type() == Type::String)
            };
            if let Some(field) = execution {
                let name = field.name.as_deref().unwrap_or_default();
                workflow_of.insert(
                    full_name,
                    format!("request.get_ref().{name}.as_ref().map(|e| (e.workflow_id.clone(), e.run_id.clone()))"),
                );
            } else if string_field("workflow_id") {
                let run = if string_field("run_id") { "request.get_ref().run_id.clone()" } else { "String::new()" };
                workflow_of.insert(full_name, format!("Some((request.get_ref().workflow_id.clone(), {run}))"));
            }
        }
    }
    let mut out = String::from("// Generated by chronicle-proto's build script.\n");
    for (file, module) in [
        ("temporal/api/workflowservice/v1/service.proto", "workflowservice"),
        ("temporal/api/operatorservice/v1/service.proto", "operatorservice"),
    ] {
        let descriptor = fds.file.iter().find(|f| f.name.as_deref() == Some(file)).ok_or("service file missing")?;
        for service in &descriptor.service {
            let name = service.name.as_deref().unwrap_or_default();
            let server = format!("crate::{module}::{}_server::{name}", snake_case(name));
            out.push_str(&format!(
                "#[tonic::async_trait]\nimpl<S: {server}, A: Admission> {server} for Guarded<S, A> {{\n"
            ));
            for method in &service.method {
                if method.client_streaming() || method.server_streaming() {
                    return Err(format!("{name}/{:?} streams: Guarded serves unary calls only", method.name).into());
                }
                let method_name = method.name.as_deref().unwrap_or_default();
                let input = method.input_type.as_deref().unwrap_or_default();
                let output = method.output_type.as_deref().unwrap_or_default();
                let namespace =
                    if has_namespace.contains(input) { "Some(request.get_ref().namespace.as_str())" } else { "None" };
                let identity =
                    if has_identity.contains(input) { "Some(request.get_ref().identity.as_str())" } else { "None" };
                let function = snake_case(method_name);
                let workflow = workflow_of.get(input).map_or("None", String::as_str);
                let owned_namespace =
                    if has_namespace.contains(input) { "Some(request.get_ref().namespace.clone())" } else { "None" };
                out.push_str(&format!(
                    "    async fn {function}(&self, request: tonic::Request<{input_ty}>) -> std::result::Result<tonic::Response<{output_ty}>, tonic::Status> {{\n\
                     \x20       let namespace: Option<String> = {owned_namespace};\n\
                     \x20       let workflow: Option<(String, String)> = {workflow};\n\
                     \x20       let failed = |status: &tonic::Status| self.admission.failed(&Failure {{ service: {name:?}, method: {method_name:?}, namespace: namespace.as_deref(), workflow: workflow.as_ref().map(|(w, r)| (w.as_str(), r.as_str())), status }});\n\
                     \x20       let call = Call {{ service: {name:?}, method: {method_name:?}, namespace: {namespace}, identity: {identity}, workflow: workflow.as_ref().map(|(w, r)| (w.as_str(), r.as_str())), metadata: request.metadata(), extensions: request.extensions(), message: request.get_ref() }};\n\
                     \x20       let span = self.admission.span(&call);\n\
                     \x20       let admitted = span.in_scope(|| self.admission.admit(&call));\n\
                     \x20       let _ticket = match admitted {{\n\
                     \x20           Ok(ticket) => ticket,\n\
                     \x20           Err(status) => {{\n\
                     \x20               failed(&status);\n\
                     \x20               self.admission.ended(&span, Some(&status));\n\
                     \x20               return Err(status);\n\
                     \x20           }}\n\
                     \x20       }};\n\
                     \x20       let answer = tracing::Instrument::instrument(self.inner.{function}(request), span.clone()).await;\n\
                     \x20       if let Err(status) = &answer {{\n\
                     \x20           failed(status);\n\
                     \x20       }}\n\
                     \x20       self.admission.ended(&span, answer.as_ref().err());\n\
                     \x20       answer\n    }}\n",
                    input_ty = rust_path(input),
                    output_ty = rust_path(output),
                ));
            }
            out.push_str("}\n");
        }
    }
    Ok(out)
}

/// `.temporal.api.x.v1.Message` as the Rust path temporalio-protos gives it.
fn rust_path(proto: &str) -> String {
    let mut parts: Vec<&str> = proto.trim_start_matches('.').split('.').collect();
    let message = parts.pop().unwrap_or_default();
    format!("::temporalio_protos::{}::{message}", parts.join("::"))
}

fn snake_case(pascal: &str) -> String {
    let mut out = String::with_capacity(pascal.len() + 8);
    for (i, c) in pascal.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
