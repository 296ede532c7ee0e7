#include "models/ffn.h"

namespace scout {

void swiglu_ffn(backend::Backend& be, const FfnWeights& f, const backend::Tensor& x, const backend::Tensor& out,
                const ActivationRows& a) {
  const backend::Tensor gate = a.gate.prefix(x.rows, f.gate.n_out), up = a.up.prefix(x.rows, f.up.n_out);
  be.matmul(f.gate, x, gate);
  be.matmul(f.up, x, up);
  be.swiglu(gate, up, gate);
  be.matmul(f.down, gate, out);
}

}  // namespace scout
