"""keras-nmt: a reproducible Keras LSTM encoder-decoder translation pipeline.

Modules, one concept each (ARCHITECTURE.md draws them): config (params), artifacts (what
stages hand each other, and where), limits (decode defaults), errors/stage/fsutil (one-line
errors, atomic outputs); corpora/download/corpus (data), text/graph_text/vocab (the shared text
pipeline, and its TensorFlow twin), data (tf.data batches); model (the encoder-decoder and its
inference models), loss, runtime, distribute, checkpoints, training; bundle/manifest (the exported
models, and their checksums), decoding (greedy/beam), translate, serving (the SavedModel), evaluation (sacrebleu),
report, cli, and serve/tfserving/batching (`nmt serve`, over HTTP).
"""

import os

# TensorFlow's C++ start-up messages drown the useful lines; show warnings and errors only.
# (Must be set before TensorFlow is imported; an explicit user setting wins.)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
