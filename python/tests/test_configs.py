import pickle
import pydoc

import pytest

import tessera


def test_attribute_access_reads_and_writes_nested_fields():
    rpu = tessera.InferenceRPUConfig()
    assert rpu.forward.out_res == pytest.approx(1 / 510)
    assert rpu.forward.noise_management == "ABS_MAX"
    rpu.forward.out_res = 1 / 256
    rpu.forward.bound_management = "NONE"
    assert rpu.get("forward.out_res") == 1 / 256
    assert rpu.forward.bound_management == "NONE"


def test_help_explains_every_field_of_a_config_and_of_its_sections():
    rpu = tessera.InferenceRPUConfig()
    docs = rpu.field_docs()
    assert docs["forward.out_noise"] == "std of Gaussian noise at each output, before the ADC"
    assert all(docs.values()), [path for path, text in docs.items() if not text]
    section = pydoc.render_doc(rpu.forward, renderer=pydoc.plaintext)
    assert "out_noise = 0.06" in section and "std of Gaussian noise at each output" in section
    assert "inp_res" in section and "DAC bin" in section
    noise = pydoc.render_doc(rpu.noise_model, renderer=pydoc.plaintext)
    assert "t_read" in noise and "duration of one read" in noise
    rpu.noise_model.type = "ReRamWan2022NoiseModel"  # the section's help follows the kind chosen
    assert "coeff_dic" in pydoc.render_doc(rpu.noise_model, renderer=pydoc.plaintext)
    top = pydoc.render_doc(tessera.QuantizationMap, renderer=pydoc.plaintext)
    assert "module_qconfig_map" in top and "exclusion" in top


def test_dotted_set_switches_a_variant_alternative():
    rpu = tessera.InferenceRPUConfig()
    rpu.set("noise_model.type", "StateIndependentNoiseModel")
    assert rpu.noise_model.type == "StateIndependentNoiseModel"
    assert "drift_nu_mean" in dir(rpu.noise_model)


def test_yaml_round_trip_equality_and_pickle(tmp_path):
    rpu = tessera.InferenceRPUConfig()
    rpu.forward.out_noise = 0.02
    path = tmp_path / "rpu.yaml"
    rpu.save(path)
    assert tessera.InferenceRPUConfig.load(path) == rpu
    assert tessera.InferenceRPUConfig.from_yaml(rpu.to_yaml()) == rpu
    assert pickle.loads(pickle.dumps(rpu)) == rpu
    assert tessera.InferenceRPUConfig() != rpu


def test_unknown_field_names_the_key_and_suggests():
    rpu = tessera.InferenceRPUConfig()
    with pytest.raises(tessera.ConfigError, match="unknown key 'out_rez' in IOParameters; did you mean 'out_res'"):
        rpu.forward.out_rez = 3
    with pytest.raises(AttributeError, match="out_rez"):
        _ = rpu.forward.out_rez


def test_out_of_range_value_is_refused_with_the_expectation():
    rpu = tessera.InferenceRPUConfig()
    with pytest.raises(tessera.ConfigError, match=r"forward.out_noise: expected a number >= 0, found -1"):
        rpu.forward.out_noise = -1
    assert rpu.forward.out_noise == pytest.approx(0.06)  # unchanged


def test_values_of_the_wrong_python_type_are_refused():
    rpu = tessera.InferenceRPUConfig()
    with pytest.raises(TypeError, match="cannot write a object as a config value"):
        rpu.forward.out_noise = object()
    with pytest.raises(tessera.ConfigError, match="forward.inp_res"):
        rpu.forward.inp_res = "many"


def test_bad_yaml_names_line_and_column():
    with pytest.raises(tessera.ConfigError, match=r"<yaml>:2:\d+: forward.out_noise"):
        tessera.InferenceRPUConfig.from_yaml("forward:\n  out_noise: lots\n")


def test_presets_load_by_name():
    assert "pcm_inference" in tessera.preset_names()
    assert isinstance(tessera.load_preset("pcm_inference"), tessera.InferenceRPUConfig)
    int8 = tessera.load_preset("digital_int8")
    assert isinstance(int8, tessera.QuantizationMap)
    assert int8.module_qconfig_map["Linear"]["module_qconfig"]["weight_quant"]["n_bits"] == 8
    with pytest.raises(tessera.ConfigError, match="no_such_preset"):
        tessera.load_preset("no_such_preset")


def test_strings_that_look_like_numbers_stay_strings():
    qmap = tessera.QuantizationMap.from_yaml("excluded_modules: ['1', '3.0', 'true']")
    assert qmap.get("excluded_modules") == ["1", "3.0", "true"]
    qmap.excluded_modules = ["2", "null"]
    assert qmap.excluded_modules == ["2", "null"]
    assert tessera.QuantizationMap.from_yaml(qmap.to_yaml()) == qmap


def test_a_string_is_not_a_number():
    rpu = tessera.InferenceRPUConfig()
    with pytest.raises(tessera.ConfigError, match='forward.out_res: expected a number, found the string "0.5"'):
        rpu.forward.out_res = "0.5"


def test_numpy_and_torch_single_values_are_written_as_their_value():
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    rpu = tessera.InferenceRPUConfig()
    rpu.forward.out_res = np.array(1 / 254)  # a 0-d array (int() of it is 0: the ADC was turned off)
    assert rpu.forward.out_res == 1 / 254
    rpu.forward.out_res = np.float32(0.25)
    assert rpu.forward.out_res == 0.25
    rpu.forward.out_res = torch.tensor(0.125)
    assert rpu.forward.out_res == 0.125
    rpu.forward.inp_res = np.int64(126)
    assert rpu.forward.inp_res == 126
    with pytest.raises(TypeError, match=r"set\('forward.out_res'\): cannot write a Tensor of shape torch.Size\(\[1\]\)"):
        rpu.forward.out_res = torch.tensor([0.5])
    with pytest.raises(TypeError, match=r"set\('forward.out_res'\): cannot write a ndarray of shape \(2,\)"):
        rpu.forward.out_res = np.array([0.5, 0.25])
    assert rpu.forward.out_res == 0.125  # a refused write changes nothing


def test_self_referencing_and_very_deep_values_are_refused():
    rpu = tessera.InferenceRPUConfig()
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match=r"set\('forward.out_res'\): a config value nested deeper than 64 levels"):
        rpu.set("forward.out_res", loop)
    deep = {}
    for _ in range(30000):
        deep = {"a": deep}
    with pytest.raises(ValueError, match="nested deeper than 64 levels"):
        rpu.set("forward", deep)
