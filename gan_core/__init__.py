"""gan_core: the class-conditional GAN augmentation library (TensorFlow, numpy, pyarrow; no Prefect).

Import submodules directly (``from gan_core import data``); this package imports nothing heavy.
"""

__version__ = "0.1.0"
