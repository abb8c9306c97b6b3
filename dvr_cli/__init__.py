"""dvr: Differentiable Volumetric Rendering (Niemeyer et al., CVPR 2020) as a library and CLI."""

__version__ = "0.1.0"
