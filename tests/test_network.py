"""VGG-19 as the paper uses it: preprocessing, pooling, layer names, early stop, an independent re-build."""

from __future__ import annotations

import torch
from torch import nn

from stylegram.choices import CONV_LAYERS
from stylegram.files import sha256_of
from stylegram.network import VGG19, pad
from stylegram.weights import NORMALISED_CONV_KEYS, bundled_path, load_state_dict

BUNDLED_SHA256 = "804ca2835ecf7539f0cd2a7ac3c18ce81e6f8468969ae7117ac0c148d286bb4a"


def test_bundled_file_is_the_known_normalised_vgg19() -> None:
    assert sha256_of(bundled_path()) == BUNDLED_SHA256
    assert len(CONV_LAYERS) == 16 and CONV_LAYERS[9] == "conv4_2" and CONV_LAYERS[-1] == "conv5_4"


def test_preprocessing_maps_rgb01_to_bgr255_minus_mean(net: VGG19) -> None:
    x = torch.rand(1, 3, 5, 4)
    expected = x[:, [2, 1, 0]] * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    assert torch.allclose(net.preprocess(x), expected, atol=1e-3)


def _reference_sequential(state: dict[str, torch.Tensor]) -> nn.Sequential:
    """The AdaIN repository's layout written out layer by layer: pad, conv, relu, max-pool (ceil)."""
    layers: list[nn.Module] = [nn.Conv2d(3, 3, 1)]
    layers[0].weight.data, layers[0].bias.data = state["0.weight"], state["0.bias"]
    pools_after = {5, 12, 25, 38}
    for key in NORMALISED_CONV_KEYS:
        w = state[f"{key}.weight"]
        conv = nn.Conv2d(w.shape[1], w.shape[0], 3)
        conv.weight.data, conv.bias.data = w, state[f"{key}.bias"]
        layers += [nn.ReflectionPad2d(1), conv, nn.ReLU()]
        if key in pools_after:
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
    return nn.Sequential(*layers)


def test_matches_independent_rebuild_at_relu4_1() -> None:
    state = load_state_dict()
    ours = VGG19(state, pooling="max")
    ref = _reference_sequential(state)[: 1 + 3 * 9 + 3]  # up to relu4_1: 9 convs and 3 pools
    x = torch.rand(1, 3, 37, 50, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(ours(x, ["conv4_1"])["conv4_1"], ref(x), rtol=1e-4, atol=1e-3)


def test_avg_and_max_pooling_differ() -> None:
    state = load_state_dict()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        a = VGG19(state, "avg")(x, ["conv2_1"])["conv2_1"]
        m = VGG19(state, "max")(x, ["conv2_1"])["conv2_1"]
        same = VGG19(state, "avg")(x, ["conv1_2"])["conv1_2"]
        same_max = VGG19(state, "max")(x, ["conv1_2"])["conv1_2"]
    assert not torch.allclose(a, m)
    assert torch.equal(same, same_max)  # no pooling before conv2_1


def test_only_needed_layers_are_computed(net: VGG19) -> None:
    calls: list[int] = []
    hooks = [c.register_forward_hook(lambda m, i, o, k=k: calls.append(k)) for k, c in enumerate(net.convs)]
    try:
        out = net(torch.rand(1, 3, 32, 32), ["conv1_1", "conv2_1"])
    finally:
        for h in hooks:
            h.remove()
    assert set(out) == {"conv1_1", "conv2_1"}
    assert calls == [0, 1, 2]  # conv1_1, conv1_2, conv2_1 and nothing deeper
    assert out["conv2_1"].shape == (1, 128, 16, 16)
    assert (out["conv1_1"] >= 0).all()  # the rectified response


def test_odd_and_tiny_sizes_run(net: VGG19) -> None:
    out = net(torch.rand(1, 3, 17, 9), ["conv5_1"])["conv5_1"]
    assert out.shape == (1, 512, 2, 1)


def test_pad_keeps_the_precision_under_autocast() -> None:
    # CPU autocast would pad in fp32 (a copy out of bf16 and back for every conv)
    h = torch.rand(1, 4, 5, 6).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = pad(h)
    assert out.dtype == torch.bfloat16 and out.shape == (1, 4, 7, 8)
    assert torch.equal(out, torch.nn.functional.pad(h, (1, 1, 1, 1), mode="reflect"))
    assert pad(torch.rand(1, 2, 1, 3)).shape == (1, 2, 3, 5)  # 1 pixel wide: replicate, reflection can't
