"""The encoder -> repeat -> decoder network."""

import jax
import jax.numpy as jnp
import pytest

from jaxadd import data, models, train
from jaxadd.config import Config


def test_parameter_count_matches_the_keras_model():
    params = train.init_params(Config(digits=3, hidden_size=128, num_layers=1))
    assert models.count_params(params) == 205_324


def test_each_extra_decoder_layer_adds_one_lstm():
    one = models.count_params(train.init_params(Config(num_layers=1)))
    two = models.count_params(train.init_params(Config(num_layers=2)))
    assert two - one == 4 * (128 * 128 + 128 * 128 + 128)


@pytest.mark.parametrize("digits,num_layers", [(2, 1), (5, 3)])
def test_output_shape(digits, num_layers):
    config = Config(digits=digits, hidden_size=16, num_layers=num_layers)
    params = train.init_params(config)
    queries = data.encode_strings(["1+2", "10+20"], data.query_len(digits))
    logits = train.make_model(config).apply({"params": params}, data.one_hot(queries))
    assert logits.shape == (2, digits + 1, data.VOCAB_SIZE)
    assert jnp.all(jnp.isfinite(logits))


def test_decoder_sees_the_whole_query():
    # Changing only the first query symbol must change the output: the encoder's
    # final state carries information from every step.
    config = Config(digits=2, hidden_size=16)
    params = train.init_params(config)
    model = train.make_model(config)
    q = data.encode_strings(["12+34", "92+34"], 5)
    logits = model.apply({"params": params}, data.one_hot(q))
    assert not jnp.allclose(logits[0], logits[1])
    assert jax.tree_util.tree_structure(params) is not None
