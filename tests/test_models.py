"""The encoder -> repeat -> decoder network."""

import jax
import jax.numpy as jnp
import pytest

from jaxadd import data, models, train
from jaxadd.config import LSTM_BACKWARDS, Config


def test_parameter_count_matches_the_keras_model():
    params = train.init_params(Config(digits=3, hidden_size=128, num_layers=1))
    assert models.count_params(params) == 205_324


@pytest.mark.parametrize("width", [32, 96])
def test_each_extra_decoder_layer_adds_one_lstm(width):
    one = models.count_params(
        train.init_params(Config(hidden_size=width, num_layers=1))
    )
    two = models.count_params(
        train.init_params(Config(hidden_size=width, num_layers=2))
    )
    # 4 gates, each with an input kernel, a recurrent kernel and a bias.
    assert two - one == 4 * (width * width + width * width + width)


@pytest.mark.parametrize("forget_bias", [1.0, 3.0])
def test_forget_bias_sets_only_the_forget_gates_bias(forget_bias):
    width = 8
    params = train.init_params(
        Config(hidden_size=width, num_layers=2, forget_bias=forget_bias)
    )
    for name in ("encoder", "decoder_0", "decoder_1"):
        # Gates in Keras's order i, f, g, o: only f's block starts non-zero.
        gates = params[name]["input"]["bias"].reshape(4, width)
        assert jnp.all(gates[1] == forget_bias), name
        assert jnp.all(gates[jnp.array([0, 2, 3])] == 0.0), name


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


def _textbook_lstm(params, inputs):
    """The LSTM equations step by step, for ``inputs`` ``[B, T, F]``."""
    kernel = params["cell"]["recurrent"]["kernel"]
    projection = inputs @ params["input"]["kernel"] + params["input"]["bias"]
    c = h = jnp.zeros((inputs.shape[0], kernel.shape[0]))
    hidden_states = []
    for t in range(inputs.shape[1]):
        i, f, g, o = jnp.split(projection[:, t] + h @ kernel, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        hidden_states.append(h)
    return jnp.stack(hidden_states, axis=1)


def _textbook_model(params, query_one_hot, answer_len, num_layers):
    encoded = _textbook_lstm(params["encoder"], query_one_hot)[:, -1]
    repeated = jnp.repeat(encoded[:, None], answer_len, axis=1)
    x = _textbook_lstm(params["decoder_0"], repeated)
    for layer in range(1, num_layers):
        x = _textbook_lstm(params[f"decoder_{layer}"], x)
    return x @ params["output"]["kernel"] + params["output"]["bias"]


@pytest.mark.parametrize("lstm_backward", LSTM_BACKWARDS)
@pytest.mark.parametrize("unroll,num_layers", [(True, 2), (False, 1)])
def test_outputs_and_gradients_match_the_textbook_lstm(
    unroll, num_layers, lstm_backward
):
    # The LSTM's backward pass is written by hand (models._cell_backward); here
    # autodiff through the plain equations checks it, and the autodiff setting
    # that can replace it, for every parameter.
    config = Config(
        digits=3, hidden_size=16, num_layers=num_layers, lstm_backward=lstm_backward
    )
    params = train.init_params(config)
    model = train.make_model(config, unroll=unroll)
    batch, query_len, answer_len = 8, data.query_len(3), data.answer_len(3)
    queries = jax.random.randint(
        jax.random.key(1), (batch, query_len), 0, data.VOCAB_SIZE
    )
    query_one_hot = jax.nn.one_hot(queries, data.VOCAB_SIZE)
    weights = jax.random.normal(jax.random.key(2), (batch, answer_len, data.VOCAB_SIZE))

    def loss(params, forward):
        return jnp.sum(jnp.sin(forward(params)) * weights)

    def ours(p):
        return model.apply({"params": p}, query_one_hot)

    def textbook(p):
        return _textbook_model(p, query_one_hot, answer_len, num_layers)

    # Full float32 matmuls, so that the tolerances hold on GPU and TPU too.
    with jax.default_matmul_precision("highest"):
        assert jnp.allclose(ours(params), textbook(params), atol=1e-6)
        grads = jax.grad(loss)(params, ours)
        expected = jax.grad(loss)(params, textbook)
    assert jax.tree.structure(grads) == jax.tree.structure(expected)
    for (path, grad), want in zip(
        jax.tree_util.tree_leaves_with_path(grads), jax.tree.leaves(expected)
    ):
        scale = float(jnp.max(jnp.abs(want)))
        assert scale > 0, jax.tree_util.keystr(path)
        assert jnp.allclose(grad, want, atol=1e-5 * scale), jax.tree_util.keystr(path)


def test_config_refuses_an_unknown_lstm_backward():
    with pytest.raises(
        ValueError, match="lstm_backward must be one of manual, autodiff"
    ):
        Config(lstm_backward="symbolic").validate()
