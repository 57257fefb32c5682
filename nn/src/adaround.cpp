#include "tessera/nn/adaround.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <random>

#include "graph_queries.hpp"
#include "layers.hpp"
#include "ops/conv.hpp"
#include "post_training.hpp"
#include "tessera/nn/conversion.hpp"
#include "tessera/nn/errors.hpp"
#include "tessera/simulator/random_stream.hpp"

namespace tessera::nn {
namespace {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
constexpr float kZeta = 1.1f, kGamma = -0.1f;

// The weight grid of one output row: w = scale * (level - zero_point), qmin <= level <= qmax.
struct RowGrid {
  float scale = 1.0f, zero_point = 0.0f;
};

// One rounding problem: a group's weight rows [out, K] and its sampled float inputs [rows, K].
struct Problem {
  Matrix weight;
  std::vector<RowGrid> grid;
  std::vector<std::vector<float>> kept_rows;  // filled while the float model runs
};

// A layer AdaRound rounds: its node, weight and quantizer, and one Problem per group.
struct Layer {
  std::size_t node = 0;
  const simulator::AffineQuantizer* quantizer = nullptr;
  std::vector<Problem> groups;
  std::optional<ops::ConvShape> conv;
  double keep_probability = 1.0;
  std::mt19937_64 rng;
};

// Weight rows [out, in] of a Gemm (transB = 1 stores them so, transB = 0 transposed).
Matrix gemm_rows(const Node& node, const Tensor& w) {
  const bool out_in = node.attributes.get_int("transB", 0) != 0;
  Matrix rows = Eigen::Map<const Matrix>(w.data(), w.dim(0), w.dim(1));
  return out_in ? rows : Matrix(rows.transpose());
}

// h(V) = clip(sigmoid(V) (zeta - gamma) + gamma, 0, 1) and dh/dV (0 where clipped).
void rectified_sigmoid(const Matrix& v, Matrix& h, Matrix& slope) {
  for (Eigen::Index k = 0; k < v.size(); ++k) {
    const float s = 1.0f / (1.0f + std::exp(-v.data()[k]));
    const float raw = s * (kZeta - kGamma) + kGamma;
    h.data()[k] = std::clamp(raw, 0.0f, 1.0f);
    slope.data()[k] = raw >= 0.0f && raw <= 1.0f ? s * (1.0f - s) * (kZeta - kGamma) : 0.0f;
  }
}

// Dequantized weights for fractional parts `h` on top of floor levels, clamped to the grid;
// `inside` marks elements the clamp does not hold.
Matrix soft_weights(const Matrix& floor_levels, const Matrix& h, const std::vector<RowGrid>& grid, float qmin,
                    float qmax, Matrix* inside = nullptr) {
  Matrix w(floor_levels.rows(), floor_levels.cols());
  for (Eigen::Index r = 0; r < w.rows(); ++r) {
    for (Eigen::Index k = 0; k < w.cols(); ++k) {
      const float level = floor_levels(r, k) + h(r, k);
      const float clamped = std::clamp(level, qmin, qmax);
      if (inside != nullptr) (*inside)(r, k) = level == clamped ? 1.0f : 0.0f;
      w(r, k) = grid[static_cast<std::size_t>(r)].scale * (clamped - grid[static_cast<std::size_t>(r)].zero_point);
    }
  }
  return w;
}

// Sum over outputs of the squared error, mean over rows.
double reconstruction_error(const Matrix& x, const Matrix& w, const Matrix& target) {
  return static_cast<double>((x * w.transpose() - target).squaredNorm()) / static_cast<double>(x.rows());
}

// Solves one group; returns its rounded (dequantized) weights and adds to the layer's report.
Matrix round_group(const Problem& problem, float qmin, float qmax, const AdaRoundParameters& p, std::uint64_t seed,
                   AdaRoundedLayer& stats) {
  const Matrix& w = problem.weight;
  const auto rows = static_cast<Eigen::Index>(problem.kept_rows.size());
  Matrix x(rows, w.cols());
  for (Eigen::Index r = 0; r < rows; ++r) {
    x.row(r) = Eigen::Map<const Eigen::RowVectorXf>(problem.kept_rows[static_cast<std::size_t>(r)].data(), w.cols());
  }
  const Matrix target = x * w.transpose();
  Matrix floor_levels(w.rows(), w.cols()), v(w.rows(), w.cols()), nearest(w.rows(), w.cols());
  for (Eigen::Index r = 0; r < w.rows(); ++r) {
    const RowGrid& g = problem.grid[static_cast<std::size_t>(r)];
    for (Eigen::Index k = 0; k < w.cols(); ++k) {
      const float exact = w(r, k) / g.scale + g.zero_point;
      floor_levels(r, k) = std::floor(exact);
      nearest(r, k) = std::nearbyint(exact) - floor_levels(r, k);
      // V such that h(V) is the fractional part: rounding starts where the weight lies.
      const float fraction = std::clamp(exact - floor_levels(r, k), 0.01f, 0.99f);
      v(r, k) = -std::log((kZeta - kGamma) / (fraction - kGamma) - 1.0f);
    }
  }
  Matrix h(w.rows(), w.cols()), slope(w.rows(), w.cols()), inside(w.rows(), w.cols());
  Matrix m = Matrix::Zero(w.rows(), w.cols()), s2 = Matrix::Zero(w.rows(), w.cols());
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<Eigen::Index> pick(0, rows - 1);
  const Eigen::Index batch = std::min<Eigen::Index>(rows, p.rows_per_step);
  Matrix xb(batch, w.cols()), yb(batch, w.rows());
  const int warm = static_cast<int>(p.warm_start * p.num_iterations);
  for (int step = 0; step < p.num_iterations; ++step) {
    for (Eigen::Index b = 0; b < batch; ++b) {
      const Eigen::Index r = pick(rng);
      xb.row(b) = x.row(r);
      yb.row(b) = target.row(r);
    }
    rectified_sigmoid(v, h, slope);
    const Matrix soft = soft_weights(floor_levels, h, problem.grid, qmin, qmax, &inside);
    const Matrix residual = xb * soft.transpose() - yb;                              // [batch, out]
    Matrix grad = (2.0f / static_cast<float>(batch)) * (residual.transpose() * xb);  // d loss / d soft
    for (Eigen::Index r = 0; r < grad.rows(); ++r) grad.row(r) *= problem.grid[static_cast<std::size_t>(r)].scale;
    grad = grad.cwiseProduct(inside);
    if (step >= warm) {
      const double progress = static_cast<double>(step - warm) / std::max(1, p.num_iterations - warm);
      const auto beta = static_cast<float>(p.beta_end + (p.beta_start - p.beta_end) * std::max(0.0, 1.0 - progress));
      for (Eigen::Index k = 0; k < h.size(); ++k) {
        const float centred = 2.0f * h.data()[k] - 1.0f;
        const float magnitude = std::abs(centred);
        const float d =
            magnitude > 0.0f ? -beta * std::pow(magnitude, beta - 1.0f) * (centred > 0 ? 2.0f : -2.0f) : 0.0f;
        grad.data()[k] += static_cast<float>(p.reg_param) * d;
      }
    }
    grad = grad.cwiseProduct(slope);
    // Adam.
    const auto t = static_cast<float>(step + 1);
    m = 0.9f * m + 0.1f * grad;
    s2 = 0.999f * s2 + 0.001f * grad.cwiseProduct(grad);
    const float correction1 = 1.0f - std::pow(0.9f, t), correction2 = 1.0f - std::pow(0.999f, t);
    const auto lr = static_cast<float>(p.learning_rate);
    for (Eigen::Index k = 0; k < v.size(); ++k) {
      v.data()[k] -= lr * (m.data()[k] / correction1) / (std::sqrt(s2.data()[k] / correction2) + 1e-8f);
    }
  }
  rectified_sigmoid(v, h, slope);
  Matrix decided(w.rows(), w.cols());
  double undecided = 0.0, flipped = 0.0;
  for (Eigen::Index k = 0; k < h.size(); ++k) {
    decided.data()[k] = h.data()[k] >= 0.5f ? 1.0f : 0.0f;
    undecided += h.data()[k] > 0.01f && h.data()[k] < 0.99f;
    flipped += decided.data()[k] != nearest.data()[k];
  }
  const Matrix rounded = soft_weights(floor_levels, decided, problem.grid, qmin, qmax);
  stats.nearest_error += reconstruction_error(x, soft_weights(floor_levels, nearest, problem.grid, qmin, qmax), target);
  stats.adaround_error += reconstruction_error(x, rounded, target);
  stats.undecided += undecided;
  stats.flipped += flipped;
  return rounded;
}

// Keeps each row of `rows` [n, K] with the layer's probability, for group `group`.
void keep_rows(Layer& layer, std::size_t group, const Tensor& rows, std::int64_t input_rows) {
  std::bernoulli_distribution keep(std::min(1.0, layer.keep_probability));
  Problem& problem = layer.groups[group];
  const std::int64_t width = rows.dim(1);
  for (std::int64_t r = 0; r < rows.dim(0); ++r) {
    if (!keep(layer.rng) || static_cast<std::int64_t>(problem.kept_rows.size()) >= input_rows) continue;
    problem.kept_rows.emplace_back(rows.data() + r * width, rows.data() + (r + 1) * width);
  }
}

void check(const AdaRoundParameters& p, const std::string& source) {
  if (p.num_iterations < 1 || p.rows_per_step < 1 || p.input_rows < 1 || !(p.learning_rate > 0.0) ||
      !(p.reg_param >= 0.0) || !(p.warm_start >= 0.0 && p.warm_start < 1.0) || !(p.beta_start >= p.beta_end) ||
      !(p.beta_end >= 1.0)) {
    throw ModelError(source +
                     ": adaround: parameters out of range (num_iterations, rows >= 1, learning_rate > 0, "
                     "reg_param >= 0, 0 <= warm_start < 1, beta_start >= beta_end >= 1)");
  }
}

}  // namespace

Model adaround(const Model& quantized, const Tensor& data, std::int64_t batch_size, const AdaRoundParameters& p,
               std::vector<AdaRoundedLayer>* report) {
  const std::string& source = quantized.graph().source;
  check(p, source);
  check_calibration_data(quantized, data, batch_size, "adaround");
  Graph graph = quantized.graph();
  const ConversionPlan& plan = quantized.plan();
  std::vector<Layer> layers;
  for (std::size_t n : quantized_weight_layers(quantized, "adaround")) {
    const Node& node = graph.nodes[n];
    const simulator::AffineQuantizer* quantizer = weight_quantizer(quantized, n);
    if (quantizer == nullptr || node.attributes.get_int("transA", 0) != 0) continue;
    Layer layer;
    layer.node = n;
    layer.quantizer = quantizer;
    layer.rng.seed(p.seed ^ simulator::hash_name(node.module));
    layers.push_back(std::move(layer));
  }
  if (layers.empty()) throw ModelError(source + ": adaround: the plan quantizes no Conv or Gemm weights");

  // The float model's inputs of each layer, a sample of their rows.
  Model float_model(graph);
  const std::map<std::string, std::size_t> producer = producers(graph);
  auto take_input = [&](Layer& layer, const Tensor& x) {
    const Node& node = graph.nodes[layer.node];
    const Tensor& weight = *constant_input(graph, node, 1);
    if (node.op_type == "Conv") {
      if (!layer.conv) {
        layer.conv = ops::conv_shape(node, x.shape(), weight.shape());
        layer.groups.resize(static_cast<std::size_t>(layer.conv->groups));
        const double positions = static_cast<double>(ops::conv_patches(x, *layer.conv, 0, 0, 1).dim(0));
        layer.keep_probability = static_cast<double>(p.input_rows) / (positions * static_cast<double>(data.dim(0)));
      }
      ops::ConvShape shape = ops::conv_shape(node, x.shape(), weight.shape());
      for (std::int64_t g = 0; g < shape.groups; ++g)
        keep_rows(layer, static_cast<std::size_t>(g), ops::conv_patches(x, shape, g), p.input_rows);
    } else {
      if (layer.groups.empty()) {
        layer.groups.resize(1);
        layer.keep_probability = static_cast<double>(p.input_rows) / static_cast<double>(data.dim(0));
      }
      Tensor rows = x;
      rows.reshape({x.dim(0), x.size() / x.dim(0)});
      keep_rows(layer, 0, rows, p.input_rows);
    }
  };
  const Model::NodeObserver observe = [&](std::size_t node, const std::vector<Value>& outputs) {
    for (Layer& layer : layers) {
      const std::string& input = graph.nodes[layer.node].inputs[0];
      const auto from = producer.find(input);
      if (from == producer.end() || from->second != node) continue;
      const auto& names = graph.nodes[node].outputs;
      const auto index = static_cast<std::size_t>(std::find(names.begin(), names.end(), input) - names.begin());
      take_input(layer, outputs.at(index).tensor);
    }
  };
  for_each_batch(data, batch_size, [&](const Tensor& batch) {
    for (Layer& layer : layers) {
      if (producer.count(graph.nodes[layer.node].inputs[0]) == 0) take_input(layer, batch);  // reads the graph input
    }
    float_model.run({Value::floats(batch)}, observe);
  });

  std::vector<AdaRoundedLayer> rounded_layers;
  for (Layer& layer : layers) {
    Node& node = graph.nodes[layer.node];
    Tensor& weight = graph.initializers.at(node.inputs[1]).tensor;
    const std::vector<float>& scales = layer.quantizer->scale();
    const std::vector<std::int64_t>& zero_points = layer.quantizer->zero_point();
    const auto qmin = static_cast<float>(layer.quantizer->grid().qmin);
    const auto qmax = static_cast<float>(layer.quantizer->grid().qmax);
    const std::int64_t outputs = node.op_type == "Conv" ? weight.dim(0) : gemm_rows(node, weight).rows();
    const std::int64_t per_group = outputs / static_cast<std::int64_t>(layer.groups.size());
    AdaRoundedLayer stats{node.module, 0.0, 0.0, 0.0, 0.0};
    const Matrix all_rows = node.op_type == "Conv"
                                ? Eigen::Map<const Matrix>(weight.data(), outputs, weight.size() / outputs)
                                : gemm_rows(node, weight);
    Matrix rounded_rows(all_rows.rows(), all_rows.cols());
    for (std::size_t g = 0; g < layer.groups.size(); ++g) {
      Problem& problem = layer.groups[g];
      const auto first = static_cast<Eigen::Index>(g) * per_group;
      problem.weight = all_rows.middleRows(first, per_group);
      for (std::int64_t r = 0; r < per_group; ++r) {
        const std::size_t channel = scales.size() == 1 ? 0 : static_cast<std::size_t>(first + r);
        problem.grid.push_back({scales[channel], static_cast<float>(zero_points[channel])});
      }
      if (problem.kept_rows.empty()) throw ModelError(source + ": adaround: no input rows for " + node.module);
      rounded_rows.middleRows(first, per_group) =
          round_group(problem, qmin, qmax, p, p.seed ^ simulator::hash_name(node.module) ^ g, stats);
    }
    const double elements = static_cast<double>(all_rows.size());
    stats.undecided /= elements;
    stats.flipped /= elements;
    const Matrix stored = node.op_type == "Conv" || node.attributes.get_int("transB", 0) != 0
                              ? rounded_rows
                              : Matrix(rounded_rows.transpose());
    std::copy(stored.data(), stored.data() + stored.size(), weight.data());
    rounded_layers.push_back(stats);
  }
  Model result = apply_plan(Model(std::move(graph)), plan);
  // Freeze the weight encodings: the rounded weights lie on the quantized model's grids, which
  // a range estimator run on them again could move.
  for (std::size_t n = 0; n < result.graph().nodes.size(); ++n)
    carry_encodings(quantized.operator_of(n), result.operator_of(n));
  if (report != nullptr) *report = std::move(rounded_layers);
  return result;
}

}  // namespace tessera::nn
