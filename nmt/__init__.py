"""keras-nmt: a reproducible Keras LSTM encoder-decoder translation pipeline.

Modules, one concept each: config (params), corpora/corpus/download (data), text/vocab
(the shared text pipeline), data (tf.data batches), model (the encoder-decoder), training,
checkpoints, bundle (exported inference models) and manifest (its checksums), decoding (greedy/beam), translate,
evaluation (sacrebleu), cli.
"""

import os

# TensorFlow's C++ start-up messages drown the useful lines; show warnings and errors only.
# (Must be set before TensorFlow is imported; an explicit user setting wins.)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
