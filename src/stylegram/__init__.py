"""stylegram: neural style transfer by Gatys, Ecker & Bethge (2015), faithful to the paper and fast on a CPU."""

from .errors import StylegramError
from .images import load_image, save_image
from .job import Job
from .losses import Losses
from .options import Options, Outputs
from .transfer import Iterate, StyleTransfer, stylize
from .version import __version__

__all__ = [
    "Iterate",
    "Job",
    "Losses",
    "Options",
    "Outputs",
    "StyleTransfer",
    "StylegramError",
    "__version__",
    "load_image",
    "save_image",
    "stylize",
]
