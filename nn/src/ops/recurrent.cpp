// RNN, GRU and LSTM as the ONNX specification defines them (opsets 7-14): forward, reverse and
// bidirectional; optional biases, sequence_lens, initial states and LSTM peepholes; clip;
// activations by name with their alpha/beta; layout 0 ([seq, batch, ...]) or 1 (batch first).
// Gate pre-activations are one GEMM over the whole sequence for X*W^T, then one per step for
// H*R^T. Steps past a sample's sequence length leave its state alone and output zeros.
#include "ops/recurrent.hpp"

#include <cmath>
#include <functional>

#include "ops/activations.hpp"
#include "ops/op_support.hpp"
#include "tessera/simulator/matmul.hpp"

namespace tessera::nn::ops {
namespace {

enum class CellKind { kRnn, kGru, kLstm };

using Activation = std::function<float(float)>;

// An activation from the ONNX list, consuming its alpha/beta from the attribute lists.
Activation make_activation(const std::string& name, const std::vector<float>& alphas, const std::vector<float>& betas,
                           std::size_t& alpha_at, std::size_t& beta_at, const Node& node) {
  const auto take = [&](const std::vector<float>& list, std::size_t& at, float fallback) {
    return at < list.size() ? list[at++] : fallback;
  };
  if (name == "Sigmoid") return activation::sigmoid;
  if (name == "Tanh") return activation::tanh;
  if (name == "Relu") return activation::relu;
  if (name == "Softsign") return activation::softsign;
  if (name == "Softplus") return activation::softplus;
  if (name == "Affine") {
    const float a = take(alphas, alpha_at, 1.0f), b = take(betas, beta_at, 0.0f);
    return [a, b](float x) { return a * x + b; };
  }
  if (name == "LeakyRelu") {
    const float a = take(alphas, alpha_at, 0.01f);
    return [a](float x) { return activation::leaky_relu(x, a); };
  }
  if (name == "ThresholdedRelu") {
    const float a = take(alphas, alpha_at, 1.0f);
    return [a](float x) { return x > a ? x : 0.0f; };
  }
  if (name == "ScaledTanh") {
    const float a = take(alphas, alpha_at, 1.0f), b = take(betas, beta_at, 1.0f);
    return [a, b](float x) { return a * std::tanh(b * x); };
  }
  if (name == "HardSigmoid") {
    const float a = take(alphas, alpha_at, 0.2f), b = take(betas, beta_at, 0.5f);
    return [a, b](float x) { return activation::hard_sigmoid(x, a, b); };
  }
  if (name == "Elu") {
    const float a = take(alphas, alpha_at, 1.0f);
    return [a](float x) { return activation::elu(x, a); };
  }
  unsupported(node, "activation '" + name + "' is not one ONNX defines for recurrent layers");
}

struct CellSpec {
  CellKind kind;
  std::int64_t gates;                    // 1, 3 or 4 blocks of hidden_size in W and R
  std::vector<std::string> activations;  // per direction: f (and g, h)
};

CellSpec cell_spec(const std::string& op_type) {
  if (op_type == "RNN") return {CellKind::kRnn, 1, {"Tanh"}};
  if (op_type == "GRU") return {CellKind::kGru, 3, {"Sigmoid", "Tanh"}};
  return {CellKind::kLstm, 4, {"Sigmoid", "Tanh", "Tanh"}};
}

// [rows, cols] slice of a rank-3 tensor's first index as a matrix.
Tensor matrix_of(const Tensor& t, std::int64_t index) {
  Tensor m({t.dim(1), t.dim(2)});
  std::copy(t.data() + index * m.size(), t.data() + (index + 1) * m.size(), m.data());
  return m;
}

// Swaps the first two axes of a rank-3 tensor (layout 1 <-> layout 0).
Tensor swap_leading_axes(const Tensor& t) {
  Tensor out({t.dim(1), t.dim(0), t.dim(2)});
  for (std::int64_t a = 0; a < t.dim(0); ++a) {
    for (std::int64_t b = 0; b < t.dim(1); ++b) {
      std::copy(t.data() + (a * t.dim(1) + b) * t.dim(2), t.data() + (a * t.dim(1) + b + 1) * t.dim(2),
                out.data() + (b * t.dim(0) + a) * t.dim(2));
    }
  }
  return out;
}

// The float layer: its products multiply by the node's own W and R inputs.
class FloatProducts final : public RecurrentProducts {
 public:
  Tensor input_product(int direction, const Tensor& rows, const Tensor& w) override {
    Tensor out({rows.dim(0), w.dim(1)});
    simulator::matmul_transposed(rows, matrix_of(w, direction), out);
    return out;
  }
  Tensor recurrent_product(int direction, const Tensor& h, const Tensor& r) override {
    Tensor out({h.dim(0), r.dim(1)});
    simulator::matmul_transposed(h, matrix_of(r, direction), out);
    return out;
  }
};

}  // namespace

class Recurrent::Cell {
 public:
  explicit Cell(const Node& node) : node_(node), spec_(cell_spec(node.op_type)) {
    const Attributes& a = node.attributes;
    hidden_ = a.get_int("hidden_size", 0);
    if (hidden_ < 1) invalid(node, "hidden_size must be given and >= 1");
    const std::string direction = a.get_string("direction", "forward");
    if (direction != "forward" && direction != "reverse" && direction != "bidirectional") {
      invalid(node, "direction must be forward, reverse or bidirectional, got '" + direction + "'");
    }
    reverse_only_ = direction == "reverse";
    directions_ = direction == "bidirectional" ? 2 : 1;
    clip_ = a.get_float("clip", 0.0f);
    layout_ = a.get_int("layout", 0);
    input_forget_ = a.get_int("input_forget", 0) != 0;
    linear_before_reset_ = a.get_int("linear_before_reset", 0) != 0;
    std::vector<std::string> names = a.get_strings("activations");
    const std::size_t per_direction = spec_.activations.size();
    if (names.empty()) {
      for (int d = 0; d < directions_; ++d)
        names.insert(names.end(), spec_.activations.begin(), spec_.activations.end());
    }
    if (names.size() != per_direction * static_cast<std::size_t>(directions_)) {
      invalid(node, "expects " + std::to_string(per_direction * directions_) + " activations, got " +
                        std::to_string(names.size()));
    }
    const std::vector<float> alphas =
        a.has("activation_alpha") ? a.get_floats("activation_alpha") : std::vector<float>{};
    const std::vector<float> betas = a.has("activation_beta") ? a.get_floats("activation_beta") : std::vector<float>{};
    std::size_t alpha_at = 0, beta_at = 0;
    for (const std::string& name : names)
      activations_.push_back(make_activation(name, alphas, betas, alpha_at, beta_at, node));
  }

  std::vector<Value> run(Inputs inputs, RecurrentProducts& products) const {
    Tensor x = input(inputs, 0, node_).tensor;
    if (x.rank() != 3) invalid(node_, "X must be rank 3, got " + simulator::shape_to_string(x.shape()));
    if (layout_ != 0) x = swap_leading_axes(x);  // [batch, seq, in] -> [seq, batch, in]
    const std::int64_t steps = x.dim(0), batch = x.dim(1), in = x.dim(2), g = spec_.gates * hidden_;
    const Tensor& w = input(inputs, 1, node_).tensor;
    const Tensor& r = input(inputs, 2, node_).tensor;
    expect_shape(w, {directions_, g, in}, "W");
    expect_shape(r, {directions_, g, hidden_}, "R");
    const Value* b = optional_input(inputs, 3);
    if (b != nullptr) expect_shape(b->tensor, {directions_, 2 * g}, "B");
    std::vector<std::int64_t> lengths(static_cast<std::size_t>(batch), steps);
    if (const Value* l = optional_input(inputs, 4)) {
      lengths = l->to_ints();
      if (static_cast<std::int64_t>(lengths.size()) != batch)
        invalid(node_, "sequence_lens must have one entry per sample");
      for (std::int64_t& length : lengths) {
        if (length < 0 || length > steps) invalid(node_, "sequence_lens entries must be in [0, seq_length]");
      }
    }
    Tensor initial_h = initial_state(inputs, 5, batch, "initial_h");
    Tensor initial_c = spec_.kind == CellKind::kLstm ? initial_state(inputs, 6, batch, "initial_c") : Tensor();
    const Value* p = spec_.kind == CellKind::kLstm ? optional_input(inputs, 7) : nullptr;
    if (p != nullptr) expect_shape(p->tensor, {directions_, 3 * hidden_}, "P");

    Tensor y({steps, directions_, batch, hidden_}, 0.0f);
    Tensor y_h({directions_, batch, hidden_}), y_c({directions_, batch, hidden_});
    Tensor rows = x;
    rows.reshape({steps * batch, in});
    for (int d = 0; d < directions_; ++d) {
      const bool backwards = reverse_only_ || d == 1;
      // X W^T for every step at once: [steps * batch, g].
      const Tensor projected = products.input_product(d, rows, w);
      std::vector<float> wb(static_cast<std::size_t>(g), 0.0f), rb(static_cast<std::size_t>(g), 0.0f);
      if (b != nullptr) {
        std::copy(b->tensor.data() + d * 2 * g, b->tensor.data() + d * 2 * g + g, wb.begin());
        std::copy(b->tensor.data() + d * 2 * g + g, b->tensor.data() + (d + 1) * 2 * g, rb.begin());
      }
      const float* peep = p != nullptr ? p->tensor.data() + d * 3 * hidden_ : nullptr;
      Tensor h = matrix_of(initial_h, d), c = spec_.kind == CellKind::kLstm ? matrix_of(initial_c, d) : Tensor();
      run_direction(d, backwards, projected, r, products, wb, rb, peep, lengths, h, c, y);
      std::copy(h.data(), h.data() + h.size(), y_h.data() + d * batch * hidden_);
      if (spec_.kind == CellKind::kLstm) std::copy(c.data(), c.data() + c.size(), y_c.data() + d * batch * hidden_);
    }
    if (layout_ != 0) {
      // Y [seq, dir, batch, h] -> [batch, seq, dir, h]; Y_h, Y_c [dir, batch, h] -> [batch, dir, h].
      Tensor y_batch_first({batch, steps, directions_, hidden_});
      for (std::int64_t t = 0; t < steps; ++t)
        for (std::int64_t d = 0; d < directions_; ++d)
          for (std::int64_t n = 0; n < batch; ++n)
            std::copy(y.data() + ((t * directions_ + d) * batch + n) * hidden_,
                      y.data() + ((t * directions_ + d) * batch + n + 1) * hidden_,
                      y_batch_first.data() + ((n * steps + t) * directions_ + d) * hidden_);
      y = std::move(y_batch_first);
      y_h = swap_leading_axes(y_h);
      y_c = swap_leading_axes(y_c);
    }
    std::vector<Value> outputs{Value::floats(std::move(y)), Value::floats(std::move(y_h))};
    if (spec_.kind == CellKind::kLstm) outputs.push_back(Value::floats(std::move(y_c)));
    return outputs;
  }

 private:
  void expect_shape(const Tensor& t, const Shape& shape, const char* what) const {
    if (t.shape() != shape) {
      invalid(node_, std::string(what) + " must have shape " + simulator::shape_to_string(shape) + ", got " +
                         simulator::shape_to_string(t.shape()));
    }
  }

  // [directions, batch, hidden] from the input (batch first under layout 1), zeros if omitted.
  Tensor initial_state(Inputs inputs, std::size_t index, std::int64_t batch, const char* what) const {
    const Value* v = optional_input(inputs, index);
    if (v == nullptr || v->tensor.size() == 0) return Tensor({directions_, batch, hidden_}, 0.0f);
    Tensor state = layout_ != 0 ? swap_leading_axes(v->tensor) : v->tensor;
    expect_shape(state, {directions_, batch, hidden_}, what);
    return state;
  }

  float clipped(float v) const { return clip_ > 0.0f ? std::max(-clip_, std::min(clip_, v)) : v; }

  void run_direction(int d, bool backwards, const Tensor& projected, const Tensor& r, RecurrentProducts& products,
                     const std::vector<float>& wb, const std::vector<float>& rb, const float* peep,
                     const std::vector<std::int64_t>& lengths, Tensor& h, Tensor& c, Tensor& y) const {
    const std::int64_t batch = h.dim(0), hs = hidden_, g = spec_.gates * hs;
    if (batch == 0) return;  // an empty batch has no steps to walk (and would divide by zero)
    const std::int64_t steps = projected.dim(0) / batch;
    const std::size_t first = static_cast<std::size_t>(d) * spec_.activations.size();
    const Activation& f = activations_[first];
    Tensor reset_h;  // GRU without linear_before_reset: (r . H), multiplied by R_h after the reset
    if (spec_.kind == CellKind::kGru && !linear_before_reset_) reset_h = Tensor({batch, hs}, 0.0f);
    for (std::int64_t step = 0; step < steps; ++step) {
      const Tensor hr = products.recurrent_product(d, h, r);  // H R^T: [batch, g]
      Tensor reset_product;
      if (reset_h.size() > 0) {
        gru_reset_inputs(backwards, step, lengths, projected, wb, hr, rb, h, reset_h, f);
        reset_product = products.recurrent_product(d, reset_h, r);
      }
      for (std::int64_t n = 0; n < batch; ++n) {
        // A sample walks its own sequence: backwards from its last valid step.
        const std::int64_t length = lengths[static_cast<std::size_t>(n)];
        if (step >= length) continue;
        const std::int64_t t = backwards ? length - 1 - step : step;
        const float* xw = projected.data() + (t * batch + n) * g;
        const float* hrow = hr.data() + n * g;
        float* hn = h.data() + n * hs;
        float* out = y.data() + ((t * directions_ + d) * batch + n) * hs;
        const auto gate = [&](std::int64_t block, std::int64_t i) {
          const std::int64_t k = block * hs + i;
          return xw[k] + wb[static_cast<std::size_t>(k)] + hrow[k] + rb[static_cast<std::size_t>(k)];
        };
        switch (spec_.kind) {
          case CellKind::kRnn:
            for (std::int64_t i = 0; i < hs; ++i) hn[i] = f(clipped(gate(0, i)));
            break;
          case CellKind::kGru: {
            const Activation& gf = activations_[first + 1];
            std::vector<float> z(static_cast<std::size_t>(hs)), r(static_cast<std::size_t>(hs));
            for (std::int64_t i = 0; i < hs; ++i) {
              z[static_cast<std::size_t>(i)] = f(clipped(gate(0, i)));
              r[static_cast<std::size_t>(i)] = f(clipped(gate(1, i)));
            }
            std::vector<float> next(static_cast<std::size_t>(hs));
            for (std::int64_t i = 0; i < hs; ++i) {
              const std::int64_t k = 2 * hs + i;
              const float ri = r[static_cast<std::size_t>(i)];
              float recurrent_part = 0.0f;
              if (linear_before_reset_) {
                recurrent_part = ri * (hrow[k] + rb[static_cast<std::size_t>(k)]);
              } else {  // (r . H) R_h^T: the reset comes before the product
                recurrent_part = reset_product[n * g + k] + rb[static_cast<std::size_t>(k)];
              }
              const float candidate = gf(clipped(xw[k] + wb[static_cast<std::size_t>(k)] + recurrent_part));
              const float zi = z[static_cast<std::size_t>(i)];
              next[static_cast<std::size_t>(i)] = (1.0f - zi) * candidate + zi * hn[i];
            }
            std::copy(next.begin(), next.end(), hn);
            break;
          }
          case CellKind::kLstm: {
            const Activation& gf = activations_[first + 1];
            const Activation& hf = activations_[first + 2];
            float* cn = c.data() + n * hs;
            for (std::int64_t i = 0; i < hs; ++i) {
              const float pi = peep != nullptr ? peep[i] : 0.0f;
              const float po = peep != nullptr ? peep[hs + i] : 0.0f;
              const float pf = peep != nullptr ? peep[2 * hs + i] : 0.0f;
              const float it = f(clipped(gate(0, i) + pi * cn[i]));  // gate order i, o, f, c
              const float ft = input_forget_ ? 1.0f - it : f(clipped(gate(2, i) + pf * cn[i]));
              const float ct = gf(clipped(gate(3, i)));
              cn[i] = ft * cn[i] + it * ct;
              const float ot = f(clipped(gate(1, i) + po * cn[i]));
              hn[i] = ot * hf(cn[i]);
            }
            break;
          }
        }
        std::copy(hn, hn + hs, out);
      }
    }
  }

  // The reset gates r of every active sample times its state: the input of the second R product.
  void gru_reset_inputs(bool backwards, std::int64_t step, const std::vector<std::int64_t>& lengths,
                        const Tensor& projected, const std::vector<float>& wb, const Tensor& hr,
                        const std::vector<float>& rb, const Tensor& h, Tensor& reset_h, const Activation& f) const {
    const std::int64_t batch = h.dim(0), hs = hidden_, g = spec_.gates * hs;
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t length = lengths[static_cast<std::size_t>(n)];
      if (step >= length) continue;
      const std::int64_t t = backwards ? length - 1 - step : step;
      const float* xw = projected.data() + (t * batch + n) * g;
      for (std::int64_t i = 0; i < hs; ++i) {
        const std::int64_t k = hs + i;  // gate order z, r, h
        const auto u = static_cast<std::size_t>(k);
        const float r = f(clipped(xw[k] + wb[u] + hr[n * g + k] + rb[u]));
        reset_h[n * hs + i] = r * h[n * hs + i];
      }
    }
  }

  const Node& node_;
  CellSpec spec_;
  std::int64_t hidden_ = 0;
  int directions_ = 1;
  bool reverse_only_ = false;
  float clip_ = 0.0f;
  std::int64_t layout_ = 0;
  bool input_forget_ = false;
  bool linear_before_reset_ = false;
  std::vector<Activation> activations_;
};

Recurrent::Recurrent(const Node& node) : cell_(std::make_shared<const Cell>(node)) {}

std::vector<Value> Recurrent::run(Inputs inputs, RecurrentProducts& products) const {
  return cell_->run(inputs, products);
}

namespace {

Kernel recurrent(const Node& node, int) {
  const Recurrent layer(node);
  return [layer](Inputs inputs) {
    FloatProducts products;
    return layer.run(inputs, products);
  };
}

}  // namespace

void register_recurrent_ops(Registry& registry) {
  registry["RNN"] = recurrent;
  registry["GRU"] = recurrent;
  registry["LSTM"] = recurrent;
}

}  // namespace tessera::nn::ops
