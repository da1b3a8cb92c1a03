//! Hand-written reference models, readable like nanoGPT: the pre-norm Transformer of
//! `transformer.prim` and Primer-EZ (squared ReLU, and a causal width-3 depthwise convolution
//! after each of the Q, K and V projections). Plain tch code with fused kernels (layer norm,
//! softmax); tests check that compiled programs agree with them, benchmarks compare speed.

use tch::nn::{Init, VarStore};
use tch::{Device, TchError, Tensor};

use primer_dsl::ModelConfig;

use crate::compile::{EMBEDDING_STD, Model, cross_entropy};
use crate::train::LanguageModel;

/// Which reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Transformer,
    PrimerEz,
}

/// One decoder layer's weights. Projections are `[in, out]`; heads are contiguous slices of
/// the D channels of Q, K and V.
struct Block {
    ln1: (Tensor, Tensor),
    q: (Tensor, Tensor),
    k: (Tensor, Tensor),
    v: (Tensor, Tensor),
    /// Primer-EZ: depthwise kernels `[D, 1, 3]` for Q, K, V.
    dconv: Option<[Tensor; 3]>,
    proj: (Tensor, Tensor),
    ln2: (Tensor, Tensor),
    up: (Tensor, Tensor),
    down: (Tensor, Tensor),
}

/// A reference model.
pub struct Reference {
    pub vs: VarStore,
    pub variant: Variant,
    pub config: ModelConfig,
    pub heads: i64,
    tok: Tensor,
    pos: Tensor,
    blocks: Vec<Block>,
    norm: (Tensor, Tensor),
    head: (Tensor, Tensor),
}

impl Reference {
    /// 8 heads, a 4x feed-forward, as in the `.prim` files.
    pub fn new(variant: Variant, config: ModelConfig, device: Device) -> Result<Reference, TchError> {
        let vs = VarStore::new(device);
        let root = vs.root();
        let (d, t, vocab) = (config.d_model as i64, config.seq_len as i64, config.vocab as i64);
        let dense = |name: &str, i: i64, o: i64| -> Result<(Tensor, Tensor), TchError> {
            let w =
                root.f_var(&format!("{name}_w"), &[i, o], Init::Randn { mean: 0.0, stdev: 1.0 / (i as f64).sqrt() })?;
            Ok((w, root.f_var(&format!("{name}_b"), &[o], Init::Const(0.0))?))
        };
        let norm = |name: &str| -> Result<(Tensor, Tensor), TchError> {
            Ok((
                root.f_var(&format!("{name}_g"), &[d], Init::Const(1.0))?,
                root.f_var(&format!("{name}_b"), &[d], Init::Const(0.0))?,
            ))
        };
        let mut blocks = Vec::new();
        for l in 0..config.n_layers {
            let dconv = match variant {
                Variant::Transformer => None,
                Variant::PrimerEz => {
                    let kernel = Tensor::from_slice(&[0.5f32 / 3.0, 0.5 / 3.0, 0.5]).view([1, 1, 3]).repeat([d, 1, 1]);
                    Some([
                        root.f_var_copy(&format!("l{l}_dconv_q"), &kernel)?,
                        root.f_var_copy(&format!("l{l}_dconv_k"), &kernel)?,
                        root.f_var_copy(&format!("l{l}_dconv_v"), &kernel)?,
                    ])
                }
            };
            blocks.push(Block {
                ln1: norm(&format!("l{l}_ln1"))?,
                q: dense(&format!("l{l}_q"), d, d)?,
                k: dense(&format!("l{l}_k"), d, d)?,
                v: dense(&format!("l{l}_v"), d, d)?,
                dconv,
                proj: dense(&format!("l{l}_proj"), d, d)?,
                ln2: norm(&format!("l{l}_ln2"))?,
                up: dense(&format!("l{l}_up"), d, 4 * d)?,
                down: dense(&format!("l{l}_down"), 4 * d, d)?,
            });
        }
        let emb = Init::Randn { mean: 0.0, stdev: EMBEDDING_STD };
        Ok(Reference {
            tok: root.f_var("tok", &[vocab, d], emb)?,
            pos: root.f_var("pos", &[t, d], emb)?,
            norm: norm("norm")?,
            head: dense("head", d, vocab)?,
            blocks,
            heads: 8,
            variant,
            config,
            vs,
        })
    }

    /// Copies the weights of a compiled `transformer.prim` / `primer_ez.prim` (8 heads).
    pub fn copy_from(&mut self, m: &Model) -> Result<(), TchError> {
        let p = m.parameters();
        let get =
            |name: &str| p.get(name).unwrap_or_else(|| panic!("the compiled model has no `{name}`")).shallow_clone();
        let d = self.config.d_model as i64;
        let set = |dst: &Tensor, src: Tensor| -> Result<(), TchError> {
            tch::no_grad(|| dst.shallow_clone().f_copy_(&src.f_reshape(dst.size())?))
        };
        // Heads `[8, D, hd]` -> `[D, 8·hd]` with head h in columns h·hd..(h+1)·hd.
        let heads = |name: &str| -> Result<(Tensor, Tensor), TchError> {
            Ok((
                get(&format!("{name}.w")).f_permute([1, 0, 2])?.f_reshape([d, d])?,
                get(&format!("{name}.b")).f_reshape([d])?,
            ))
        };
        let (q_name, k_name, v_name) = match self.variant {
            Variant::Transformer => ("q", "k", "v"),
            Variant::PrimerEz => ("q_proj", "k_proj", "v_proj"),
        };
        tch::no_grad(|| -> Result<(), TchError> {
            set(&self.tok, get("tok"))?;
            set(&self.pos, get("pos"))?;
            for (l, b) in self.blocks.iter().enumerate() {
                let at = |s: &str| format!("l{l}.{s}");
                set(&b.ln1.0, get(&at("n1.gained.g")))?;
                set(&b.ln1.1, get(&at("n1.out.g")))?;
                for (dst, name) in [(&b.q, q_name), (&b.k, k_name), (&b.v, v_name)] {
                    let (w, bias) = heads(&at(&format!("heads.{name}")))?;
                    set(&dst.0, w)?;
                    set(&dst.1, bias)?;
                }
                if let Some(conv) = &b.dconv {
                    for (dst, name) in conv.iter().zip(["q", "k", "v"]) {
                        set(dst, get(&at(&format!("heads.{name}.w"))))?;
                    }
                }
                set(&b.proj.0, get(&at("attn.w")))?;
                set(&b.proj.1, get(&at("attn.b")))?;
                set(&b.ln2.0, get(&at("n2.gained.g")))?;
                set(&b.ln2.1, get(&at("n2.out.g")))?;
                set(&b.up.0, get(&at("up.w")))?;
                set(&b.up.1, get(&at("up.b")))?;
                set(&b.down.0, get(&at("down.w")))?;
                set(&b.down.1, get(&at("down.b")))?;
            }
            set(&self.norm.0, get("norm_g"))?;
            set(&self.norm.1, get("norm_b"))?;
            set(&self.head.0, get("head_w"))?;
            set(&self.head.1, get("head_b"))
        })
    }

    /// Logits `[B, T, vocab]`.
    pub fn forward(&self, idx: &Tensor) -> Result<Tensor, TchError> {
        let (b, t) = (idx.size()[0], idx.size()[1]);
        let d = self.config.d_model as i64;
        let (nh, hd) = (self.heads, d / self.heads);
        let ln = |x: &Tensor, (g, bias): &(Tensor, Tensor)| x.f_layer_norm([d], Some(g), Some(bias), 1e-5, false);
        let linear = |x: &Tensor, (w, bias): &(Tensor, Tensor)| x.f_matmul(w)?.f_add(bias);
        // Causal depthwise convolution over time, per channel: [B, T, D] -> [B, T, D].
        // (Made contiguous again: a transposed view would keep the attention below off libtorch's
        // flash kernel, which needs unit stride on the channels.)
        let causal_dconv = |x: &Tensor, w: &Tensor| -> Result<Tensor, TchError> {
            let y = x.f_transpose(1, 2)?.f_constant_pad_nd([2, 0])?.f_conv1d(w, None::<&Tensor>, [1], [0], [1], d)?;
            y.f_transpose(1, 2)?.f_contiguous()
        };
        let split_heads = |x: Tensor| x.f_view([b, t, nh, hd])?.f_transpose(1, 2);

        let mut x = Tensor::f_embedding(&self.tok, idx, -1, false, false)?.f_add(&self.pos.f_narrow(0, 0, t)?)?;
        for blk in &self.blocks {
            // Attention.
            let h = ln(&x, &blk.ln1)?;
            let (mut q, mut k, mut v) = (linear(&h, &blk.q)?, linear(&h, &blk.k)?, linear(&h, &blk.v)?);
            if let Some([cq, ck, cv]) = &blk.dconv {
                q = causal_dconv(&q, cq)?;
                k = causal_dconv(&k, ck)?;
                v = causal_dconv(&v, cv)?;
            }
            let (q, k, v) = (split_heads(q)?, split_heads(k)?, split_heads(v)?);
            // Causal softmax(q·kᵀ / sqrt(hd))·v, fused as nanoGPT does (flash attention).
            let y = Tensor::f_scaled_dot_product_attention(&q, &k, &v, None::<&Tensor>, 0.0, true, None, false)?;
            let y = y.f_transpose(1, 2)?.f_reshape([b, t, d])?;
            x = x.f_add(&linear(&y, &blk.proj)?)?;
            // Feed-forward.
            let h = ln(&x, &blk.ln2)?;
            let mut u = linear(&h, &blk.up)?.f_relu()?;
            if self.variant == Variant::PrimerEz {
                u = u.f_square()?;
            }
            x = x.f_add(&linear(&u, &blk.down)?)?;
        }
        linear(&ln(&x, &self.norm)?, &self.head)
    }
}

impl LanguageModel for Reference {
    fn loss(&self, window: &Tensor) -> Result<Tensor, TchError> {
        let t = window.size()[1] - 1;
        cross_entropy(&self.forward(&window.f_narrow(1, 0, t)?)?, &window.f_narrow(1, 1, t)?)
    }
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
}
