//! Weights as safetensors: the store's copy (the compiler's names), `model.py`'s copy (its
//! `state_dict()` names) and the check file `model.py` verifies itself against.

use std::collections::{BTreeMap, HashMap};

use safetensors::tensor::{Dtype, SafeTensors};
use tch::{Kind, Tensor};

use super::{ExportError, ExportNames};
use crate::compile::Model;

fn dtype(kind: Kind) -> Result<Dtype, ExportError> {
    Ok(match kind {
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        Kind::Int64 => Dtype::I64,
        Kind::Int => Dtype::I32,
        Kind::Uint8 => Dtype::U8,
        other => return Err(ExportError::SafeTensors(format!("no safetensors dtype for {other:?}"))),
    })
}

/// Named tensors as safetensors bytes, with string metadata in the header. The same tensors
/// and metadata always give the same bytes (the header's keys are sorted), unlike the
/// `safetensors` crate's writer, whose metadata order follows a hash map.
pub fn safetensors_bytes(
    tensors: &[(String, Tensor)],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, ExportError> {
    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        header.insert("__metadata__".into(), serde_json::to_value(metadata).expect("strings serialize"));
    }
    let mut sorted: Vec<&(String, Tensor)> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut data = Vec::new();
    for (name, t) in sorted {
        if name == "__metadata__" || header.contains_key(name) {
            return Err(ExportError::SafeTensors(format!("tensor name `{name}` is reserved or repeated")));
        }
        let t = t.f_to_device(tch::Device::Cpu)?.f_contiguous()?;
        let numel = t.numel();
        let start = data.len();
        data.resize(start + numel * t.kind().elt_size_in_bytes(), 0);
        t.f_copy_data_u8(&mut data[start..], numel)?;
        let dtype = format!("{:?}", dtype(t.kind())?);
        header.insert(
            name.clone(),
            serde_json::json!({ "dtype": dtype, "shape": t.size(), "data_offsets": [start, data.len()] }),
        );
    }
    let mut head = serde_json::to_string(&header).expect("json serializes").into_bytes();
    // The data starts 8-byte aligned: the header is padded with spaces.
    while !(8 + head.len()).is_multiple_of(8) {
        head.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + head.len() + data.len());
    out.extend((head.len() as u64).to_le_bytes());
    out.extend(head);
    out.extend(data);
    Ok(out)
}

/// Named tensors (CPU) from safetensors bytes.
pub fn read_safetensors(bytes: &[u8]) -> Result<Vec<(String, Tensor)>, ExportError> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| ExportError::SafeTensors(format!("{e:?}")))?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let kind = match view.dtype() {
            Dtype::F32 => Kind::Float,
            Dtype::F64 => Kind::Double,
            Dtype::I64 => Kind::Int64,
            Dtype::I32 => Kind::Int,
            Dtype::U8 => Kind::Uint8,
            other => return Err(ExportError::SafeTensors(format!("`{name}`: unsupported dtype {other:?}"))),
        };
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        out.push((name, Tensor::f_from_data_size(view.data(), &shape, kind)?));
    }
    Ok(out)
}

/// The model's weights under the compiler's names, as safetensors bytes (what the store keeps).
pub fn model_weights(model: &Model, metadata: &BTreeMap<String, String>) -> Result<Vec<u8>, ExportError> {
    let mut params: Vec<(String, Tensor)> = model.parameters().into_iter().collect();
    params.sort_by(|a, b| a.0.cmp(&b.0));
    safetensors_bytes(&params, metadata)
}

/// Loads weights (compiler names, e.g. from [`model_weights`]) into `model`: every parameter
/// must be present with its shape, and nothing else.
pub fn load_model_weights(model: &Model, bytes: &[u8]) -> Result<(), ExportError> {
    let loaded: HashMap<String, Tensor> = read_safetensors(bytes)?.into_iter().collect();
    let params = model.parameters();
    if let Some(extra) = loaded.keys().find(|k| !params.contains_key(*k)) {
        return Err(ExportError::Mismatch(format!("`{extra}` is not a parameter of this model")));
    }
    tch::no_grad(|| {
        for (name, mut p) in params {
            let t = loaded.get(&name).ok_or_else(|| ExportError::Mismatch(format!("`{name}` is missing")))?;
            if t.size() != p.size() {
                return Err(ExportError::Mismatch(format!(
                    "`{name}` has shape {:?}, the model's is {:?}",
                    t.size(),
                    p.size()
                )));
            }
            p.f_copy_(&t.f_to_device(p.device())?)?;
        }
        Ok(())
    })
}

/// The model's weights under `model.py`'s names, as safetensors bytes.
pub fn python_weights(
    model: &Model,
    names: &ExportNames,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, ExportError> {
    let params = model.parameters();
    if params.len() != names.pairs.len() {
        return Err(ExportError::Mismatch(format!(
            "the model has {} parameters, the export names {}",
            params.len(),
            names.pairs.len()
        )));
    }
    let mut out = Vec::new();
    for (rust, py) in &names.pairs {
        let t =
            params.get(rust).ok_or_else(|| ExportError::Mismatch(format!("the model has no parameter `{rust}`")))?;
        out.push((py.clone(), t.f_detach()?));
    }
    safetensors_bytes(&out, metadata)
}

/// Check data for `model.py`: `tokens` [B, T] and the model's `logits` [B, T, vocab] for them.
pub fn check_bytes(model: &Model, tokens: &Tensor) -> Result<Vec<u8>, ExportError> {
    let logits = tch::no_grad(|| model.forward(tokens))?;
    let meta = BTreeMap::from([("what".to_string(), "tokens and primer's logits for them".to_string())]);
    safetensors_bytes(&[("tokens".into(), tokens.shallow_clone()), ("logits".into(), logits)], &meta)
}
