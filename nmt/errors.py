"""The base of every error a user can cause (bad params, corpus, bundle, unwritable output).

Stages and the CLI print these as one `error: ...` line, without a traceback. This module
imports nothing, so catching these errors never loads TensorFlow.
"""


class UserError(Exception):
    """An error whose message tells the user what to fix; no traceback needed."""
