// Analog tiles: one crossbar (AnalogTile) and a matrix split over several (AnalogTileArray),
// with aihwkit's vocabulary: program, drift, forward, an ideal backward for training.
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "numpy_tensor.hpp"
#include "tessera/tiles/analog_tile.hpp"
#include "tessera/tiles/tile_array.hpp"

namespace py = pybind11;

namespace tessera::python {
namespace {

using simulator::Tensor;

/// The methods an AnalogTile and an AnalogTileArray share. Compute releases the GIL.
template <class Tile, class Class>
void bind_tile_methods(Class& c) {
  c.def_property_readonly("out_size", &Tile::out_size)
      .def_property_readonly("in_size", &Tile::in_size)
      .def_property_readonly("name", &Tile::name)
      .def(
          "set_weights", [](Tile& t, const py::handle& w) { t.set_weights(to_tensor(w, "weights", 2)); },
          py::arg("weights"), "Sets the (out_size, in_size) weight matrix; the tile must be programmed again.")
      .def(
          "get_weights", [](const Tile& t) { return to_numpy(t.logical_weights()); },
          "The target weights in weight units (as set, after any clipping or remapping).")
      .def(
          "set_bias", [](Tile& t, const std::vector<float>& bias) { t.set_bias(bias); }, py::arg("bias"))
      .def_property_readonly("bias", [](const Tile& t) { return to_numpy(t.bias()); })
      .def("program", &Tile::program, py::call_guard<py::gil_scoped_release>(),
           "Maps the weights to conductances with programming noise (t = 0).")
      .def("drift", &Tile::drift, py::arg("t_inference"), py::call_guard<py::gil_scoped_release>(),
           "Drift and read noise t_inference seconds after programming, with drift compensation.")
      .def(
          "forward",
          [](Tile& t, const py::handle& x) {
            const Tensor input = to_tensor(x, "input", 2);
            return compute_without_gil([&] { return t.forward(input); });
          },
          py::arg("x"), "One batch (batch, in_size) through the full periphery; returns (batch, out_size).")
      .def(
          "backward",
          [](const Tile& t, const py::handle& g) {
            const Tensor grad = to_tensor(g, "grad_output", 2);
            return compute_without_gil([&] { return t.backward(grad); });
          },
          py::arg("grad_output"), "Ideal input gradient: grad_output times the weights the last forward used.")
      .def(
          "weight_gradient",
          [](const Tile& t, const py::handle& x, const py::handle& g) {
            const Tensor input = to_tensor(x, "input", 2), grad = to_tensor(g, "grad_output", 2);
            return compute_without_gil([&] { return t.weight_gradient(input, grad); });
          },
          py::arg("x"), py::arg("grad_output"), "Ideal weight gradient grad_output^T x, in the tile's units.")
      .def("set_training", &Tile::set_training, py::arg("training"),
           "Training mode applies the weight modifier in every forward (hardware-aware training).")
      .def(
          "set_backend",
          [](Tile& t, const std::string& backend) { t.set_backend(simulator::backend_from_name(backend)); },
          py::arg("backend"), "'cpu' or 'cuda' (RuntimeError naming the reason when no CUDA device is usable).")
      .def("post_update_step", &Tile::post_update_step, "Weight clipping and remapping after an optimizer step.")
      .def("set_sample_counter", &Tile::set_sample_counter, py::arg("next_sample"),
           "Where the noise streams continue: sample k always draws the same numbers.");
}

}  // namespace

void bind_tiles(py::module_& m) {
  py::class_<tiles::AnalogTile> tile(m, "AnalogTile", "One simulated crossbar tile (aihwkit's InferenceTile).");
  tile.def(py::init<std::int64_t, std::int64_t, parameters::InferenceRPUConfig, std::uint64_t, std::string_view>(),
           py::arg("out_size"), py::arg("in_size"), py::arg("rpu_config") = parameters::InferenceRPUConfig{},
           py::arg("seed") = 0, py::arg("name") = "tile")
      .def_property_readonly("rpu_config", &tiles::AnalogTile::config)
      .def_property_readonly("is_programmed", &tiles::AnalogTile::is_programmed)
      .def_property_readonly(
          "backend", [](const tiles::AnalogTile& t) { return std::string(simulator::backend_name(t.backend())); })
      .def_property_readonly("sample_counter", &tiles::AnalogTile::sample_counter)
      .def_property_readonly(
          "effective_weights", [](const tiles::AnalogTile& t) { return to_numpy(Tensor(t.effective_weights())); },
          "The weights the crossbar realises now (programming noise, drift), in the tile's units.")
      .def_property_readonly("drift_compensation_factors",
                             [](const tiles::AnalogTile& t) { return to_numpy(t.drift_compensation_factors()); });
  bind_tile_methods<tiles::AnalogTile>(tile);

  py::class_<tiles::AnalogTileArray> array(
      m, "AnalogTileArray",
      "A weight matrix split over tiles of at most mapping.max_input_size x max_output_size; partial sums are "
      "added digitally and every tile has its own noise stream.");
  array
      .def(py::init<std::int64_t, std::int64_t, const parameters::InferenceRPUConfig&, std::uint64_t,
                    std::string_view>(),
           py::arg("out_size"), py::arg("in_size"), py::arg("rpu_config") = parameters::InferenceRPUConfig{},
           py::arg("seed") = 0, py::arg("name") = "tile")
      .def_property_readonly("tile_count", &tiles::AnalogTileArray::tile_count)
      .def_property_readonly("backend", [](const tiles::AnalogTileArray& t) {
        return std::string(simulator::backend_name(t.tile(0, 0).backend()));
      });
  bind_tile_methods<tiles::AnalogTileArray>(array);
}

}  // namespace tessera::python
