//! A subprogram's dataflow graph, and what of a program is live (contributes to `main`'s
//! output): what validation, analysis and the search read before anything else.

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Dfs, Reversed};

use crate::op::Op;
use crate::program::{Field, Program};

/// The dataflow DAG of one subprogram: a node per value (inputs first), an edge from each
/// input an instruction reads to that instruction, labelled with the field (`In1`/`In2`).
/// Out-of-range inputs are left out (structure validation reports them).
pub fn dataflow_graph(p: &Program, si: usize) -> DiGraph<usize, Field> {
    let sub = &p.subprograms[si];
    let mut g = DiGraph::with_capacity(sub.num_values(), 2 * sub.instructions.len());
    let nodes: Vec<NodeIndex> = (0..sub.num_values()).map(|v| g.add_node(v)).collect();
    for (i, ins) in sub.instructions.iter().enumerate() {
        let me = nodes[sub.value_of(i)];
        for (field, src) in [(Field::In1, ins.in1), (Field::In2, ins.in2)] {
            if p.reads(ins, field) && src < sub.value_of(i) {
                g.add_edge(nodes[src], me, field);
            }
        }
    }
    g
}

/// Which subprograms and instructions contribute to `main`'s output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Liveness {
    pub subprograms: Vec<bool>,
    /// `instructions[s][i]`: instruction i of subprogram s is live.
    pub instructions: Vec<Vec<bool>>,
}

impl Liveness {
    pub fn num_live(&self) -> usize {
        self.instructions.iter().map(|v| v.iter().filter(|&&l| l).count()).sum()
    }
}

/// Marks what `main`'s output depends on: a value is live if a path in the dataflow graph
/// leads from it to its subprogram's output, a subprogram if a live call reaches it.
pub fn liveness(p: &Program) -> Liveness {
    let mut subs = vec![false; p.subprograms.len()];
    let mut instructions: Vec<Vec<bool>> = p.subprograms.iter().map(|s| vec![false; s.instructions.len()]).collect();
    if let Some(first) = subs.first_mut() {
        *first = true;
    }
    // Calls go to higher indices, so callers are done before their callees.
    for si in 0..p.subprograms.len() {
        if !subs[si] || p.subprograms[si].instructions.is_empty() {
            continue;
        }
        let sub = &p.subprograms[si];
        let g = dataflow_graph(p, si);
        let mut dfs = Dfs::new(Reversed(&g), NodeIndex::new(sub.output()));
        while let Some(node) = dfs.next(Reversed(&g)) {
            let v = g[node];
            if v >= sub.inputs.len() {
                let i = v - sub.inputs.len();
                instructions[si][i] = true;
                if let Op::Call(c) = sub.instructions[i].op
                    && c < subs.len()
                {
                    subs[c] = true;
                }
            }
        }
    }
    Liveness { subprograms: subs, instructions }
}
