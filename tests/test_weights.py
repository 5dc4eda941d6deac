"""Weights sources: torchvision layout mapping, URL download with SHA-256 and cache (local HTTP server)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest
import torch

from stylegram import StylegramError
from stylegram.network import VGG19
from stylegram.weights import TORCHVISION_CONV_KEYS, download, load_state_dict


def _fake_torchvision_state() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    state, cin = {}, 3
    widths = [64, 64, 128, 128] + [256] * 4 + [512] * 8
    for key, cout in zip(TORCHVISION_CONV_KEYS, widths, strict=True):
        state[f"features.{key}.weight"] = torch.randn(cout, cin, 3, 3, generator=gen) * 0.05
        state[f"features.{key}.bias"] = torch.zeros(cout)
        cin = cout
    return state


@pytest.fixture
def server(tmp_path: Path):
    """A file server on 127.0.0.1 that counts requests."""
    root = tmp_path / "www"
    root.mkdir()
    hits: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *a):  # keep pytest output clean
            pass

        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()


def test_download_checks_sha256_and_caches(server, tmp_path: Path) -> None:
    root, url, hits = server
    torch.save(_fake_torchvision_state(), root / "vgg.pth")
    digest = hashlib.sha256((root / "vgg.pth").read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    path = download(f"{url}/vgg.pth", digest, cache)
    assert path.read_bytes() == (root / "vgg.pth").read_bytes()
    download(f"{url}/vgg.pth", digest, cache)
    assert hits == ["/vgg.pth"]  # second call served from the cache


def test_wrong_hash_leaves_nothing_in_cache(server, tmp_path: Path) -> None:
    root, url, _ = server
    (root / "w.pth").write_bytes(b"tampered")
    cache = tmp_path / "cache"
    with pytest.raises(StylegramError, match="SHA-256"):
        download(f"{url}/w.pth", "0" * 64, cache)
    assert list(cache.iterdir()) == []


def test_hub_style_hash_prefix_in_name_is_checked(server, tmp_path: Path) -> None:
    root, url, _ = server
    (root / "vgg19-deadbeef.pth").write_bytes(b"not matching")
    with pytest.raises(StylegramError, match="does not start with deadbeef"):
        download(f"{url}/vgg19-deadbeef.pth", None, tmp_path / "c")


def test_unreachable_url_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StylegramError, match="could not download"):
        download("http://127.0.0.1:9/none.pth", None, tmp_path)


def test_torchvision_layout_over_url_becomes_a_working_net(server, monkeypatch, tmp_path: Path) -> None:
    root, url, _ = server
    torch.save(_fake_torchvision_state(), root / "tv.pth")
    monkeypatch.setenv("STYLEGRAM_CACHE", str(tmp_path / "cache"))
    state = load_state_dict(f"{url}/tv.pth")
    net = VGG19(state)
    x = torch.rand(1, 3, 8, 8)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    assert torch.allclose(net.preprocess(x), (x - mean) / std, atol=1e-5)
    assert net(torch.rand(1, 3, 32, 32), ["conv5_1"])["conv5_1"].shape == (1, 512, 2, 2)


def test_local_file_that_is_not_weights(tmp_path: Path) -> None:
    (tmp_path / "x.pth").write_bytes(b"garbage")
    with pytest.raises(StylegramError, match="cannot read weights"):
        load_state_dict(str(tmp_path / "x.pth"))
    with pytest.raises(StylegramError, match="not found"):
        load_state_dict(str(tmp_path / "missing.pth"))
