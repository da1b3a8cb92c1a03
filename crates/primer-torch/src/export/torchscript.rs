//! The TorchScript export: [`Model::forward`] traced into a module `torch.jit.load` reads.

use std::path::Path;

use tch::Tensor;

use super::ExportError;
use crate::compile::Model;

/// Traces [`Model::forward`] on `example` tokens into a TorchScript module saved at `path`
/// (`torch.jit.load` reads it). The weights are constants of the trace; any batch size works,
/// the sequence length is the example's.
pub fn trace(model: &Model, example: &Tensor, path: &Path) -> Result<(), ExportError> {
    // The tracer keeps weights as constants, which it refuses while they require gradients.
    let params: Vec<Tensor> = model.parameters().into_values().collect();
    let grads: Vec<bool> = params.iter().map(Tensor::requires_grad).collect();
    for p in &params {
        let _ = p.f_set_requires_grad(false)?;
    }
    let traced = trace_frozen(model, example, path);
    for (p, g) in params.iter().zip(grads) {
        let _ = p.f_set_requires_grad(g)?;
    }
    traced
}

fn trace_frozen(model: &Model, example: &Tensor, path: &Path) -> Result<(), ExportError> {
    let mut failure = None;
    let module = tch::no_grad(|| {
        let mut closure = |inputs: &[Tensor]| match model.forward(&inputs[0]) {
            Ok(y) => vec![y],
            Err(e) => {
                failure = Some(e);
                vec![inputs[0].shallow_clone()]
            }
        };
        tch::CModule::create_by_tracing("PrimerModel", "forward", &[example.shallow_clone()], &mut closure)
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    module.save(path)?;
    Ok(())
}
