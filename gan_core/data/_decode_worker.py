"""A decoding worker process: runs image tasks sent by :class:`gan_core.data.images.ImagePool`.

Started as ``python -m gan_core.data._decode_worker TASK_FD RESULT_FD`` rather than through
``multiprocessing``: its spawn and forkserver modes re-run the parent's ``__main__`` (a flow, a
script without a main guard) in every worker, and fork is unsafe next to TensorFlow's and
Prefect's threads. The protocol is pickled ``(task name, args)`` in and ``("ok", result)`` or
``("error", exception)`` out, one at a time, until the task pipe closes.
"""

from __future__ import annotations

import os
import pickle
import sys
import warnings

from PIL import Image


def serve(tasks, results) -> None:
    """Answers tasks from the ``tasks`` stream on ``results`` until ``tasks`` ends."""
    from gan_core.data import images

    # A worker's whole life is decoding, where a bomb is a DataError, never a console warning.
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    while True:
        try:
            name, args = pickle.load(tasks)
        except EOFError:
            return
        try:
            answer = ("ok", images.WORKER_TASKS[name](*args))
        except Exception as error:  # sent back and raised in the parent, which names the file
            answer = ("error", error)
        try:
            pickle.dump(answer, results, protocol=pickle.HIGHEST_PROTOCOL)
            results.flush()
        except BrokenPipeError:
            return  # the parent stopped listening (an error elsewhere, or it exited): nothing to do


if __name__ == "__main__":
    with os.fdopen(int(sys.argv[1]), "rb") as task_stream, os.fdopen(int(sys.argv[2]), "wb") as result_stream:
        serve(task_stream, result_stream)
