"""How long inputs and outputs may be: the one home of the decode defaults.

The eval params' defaults, the Translator's and the serving graph's all come from here: an
output stops at `MAX_LEN_A` * source length + `MAX_LEN_B` tokens (counting `</s>`), and a
source sentence longer than `MAX_INPUT_TOKENS` is cut to that length before decoding.
"""

MAX_LEN_A = 1.5
MAX_LEN_B = 10
MAX_INPUT_TOKENS = 400
