//! JSON payloads as the `temporal` CLI writes and reads them
//! (`encoding: json/plain`).

use temporalio_protos::temporal::api::common::v1::{Payload, Payloads};

pub fn from_json_args(inputs: &[String]) -> anyhow::Result<Option<Payloads>> {
    if inputs.is_empty() {
        return Ok(None);
    }
    let payloads = inputs
        .iter()
        .map(|raw| {
            let value: serde_json::Value =
                serde_json::from_str(raw).map_err(|e| anyhow::anyhow!("--input {raw:?} is not valid JSON: {e}"))?;
            Ok(json_payload(&value))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some(Payloads { payloads }))
}

pub fn json_payload(value: &serde_json::Value) -> Payload {
    Payload {
        metadata: [("encoding".to_string(), b"json/plain".to_vec())].into_iter().collect(),
        data: serde_json::to_vec(value).unwrap_or_default(),
        ..Default::default()
    }
}

/// Renders payloads as JSON: JSON payloads as themselves, `binary/null` as
/// null, anything else as its encoding and size.
pub fn to_json(payloads: Option<&Payloads>) -> serde_json::Value {
    let values: Vec<serde_json::Value> =
        payloads.map(|p| p.payloads.iter().map(payload_json).collect()).unwrap_or_default();
    match values.len() {
        0 => serde_json::Value::Null,
        1 => values.into_iter().next().unwrap_or_default(),
        _ => serde_json::Value::Array(values),
    }
}

fn payload_json(p: &Payload) -> serde_json::Value {
    let encoding = p.metadata.get("encoding").map(|e| String::from_utf8_lossy(e).to_string()).unwrap_or_default();
    match encoding.as_str() {
        "json/plain" => serde_json::from_slice(&p.data).unwrap_or(serde_json::Value::Null),
        "binary/null" => serde_json::Value::Null,
        other => serde_json::json!({ "encoding": other, "bytes": p.data.len() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_json() {
        let p = from_json_args(&["{\"a\":1}".into(), "\"x\"".into()]).unwrap();
        assert_eq!(to_json(p.as_ref()), serde_json::json!([{"a": 1}, "x"]));
        assert!(from_json_args(&["not json".into()]).is_err());
        assert_eq!(to_json(None), serde_json::Value::Null);
    }
}
