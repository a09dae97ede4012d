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
    Ok(())
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
