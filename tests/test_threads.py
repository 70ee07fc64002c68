"""train.intra_op_threads reaches TensorFlow, and a run never silently trains with another count."""

import subprocess
import sys

SCRIPT = """
import tensorflow as tf
from nmt.runtime import ThreadsError, set_intra_op_threads

set_intra_op_threads({n})
print(tf.config.threading.get_intra_op_parallelism_threads())
tf.constant(1.0) + 1.0  # TensorFlow starts here
set_intra_op_threads({n})  # the same count again: accepted
try:
    set_intra_op_threads({n} + 1)
except ThreadsError as e:
    print(e)
"""


def test_the_thread_count_is_applied_and_a_different_one_later_is_a_clear_error():
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(n=1)], capture_output=True, text=True, check=True)
    applied, refusal = proc.stdout.splitlines()
    assert applied == "1"
    assert refusal.startswith("train.intra_op_threads=2, but TensorFlow has started in this process with 1 threads")
