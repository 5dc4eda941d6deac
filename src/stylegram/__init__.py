"""stylegram: neural style transfer by Gatys, Ecker & Bethge (2015), faithful to the paper and fast on a CPU."""

from .errors import StylegramError
from .images import load_image, save_image
from .optimize import Iterate, Losses, StyleTransfer, stylize
from .options import Options

__version__ = "0.1.0"
__all__ = [
    "Iterate",
    "Losses",
    "Options",
    "StyleTransfer",
    "StylegramError",
    "__version__",
    "load_image",
    "save_image",
    "stylize",
]
