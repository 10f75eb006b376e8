"""Semi-supervised learning from few labels plus an unlabeled pool.

Modules: ``augment`` (FixMatch's weak and strong views as stateless TensorFlow ops) and
``teacher`` (:func:`train_teacher` and the :class:`Teacher` it returns, which pseudo-labels the
pool). Importing this package imports TensorFlow.
"""

from gan_core.semisup.teacher import SemisupError, Teacher, train_teacher

__all__ = ["SemisupError", "Teacher", "train_teacher"]
