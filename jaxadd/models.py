"""Encoder -> repeat -> decoder LSTM, the architecture of the Keras example.

Shapes for ``digits=3``, hidden size H, batch B (inside, time comes first, so
that each step's slice is one contiguous block)::

    one-hot query   [B, 7, 12] -> [7, B, 12]
    encoder LSTM    [7, B, H]  -> keep the last hidden state [B, H]
    repeat          [4, B, H]  (answer_len copies)
    decoder LSTMs   [4, B, H]  (num_layers of them)
    dense           [4, B, 12] -> [B, 4, 12] logits over VOCAB per answer position

Each LSTM splits its work in two. The input projection ``x @ W_x`` has no time
dependence, so it runs as one large matmul over all time steps before the scan;
only ``h @ W_h`` (plus the gate arithmetic) is inside ``nn.scan``. The first
decoder layer reads the same vector at every step, so its input projection is
computed once and broadcast. Parameters match Keras's LSTM one for one (kernel,
recurrent kernel, bias; gates ordered i, f, g, o), hence the same 205,324 count
for digits=3, H=128, one decoder layer.

The recurrence's backward pass is written by hand (``_cell_backward``, checked
against autodiff of the plain equations in tests/test_models.py). Autodiff of
the unrolled scan gives XLA a graph in which it recomputes the cell-state
gradient inside every later consumer instead of storing it, work that grows
with the square of the sequence length, and it computes the recurrent kernel's
gradient as one small matmul per step. The hand-written pass stores each step's
gate gradients and finishes with a single matmul over all steps. Same
parameters, same forward values bit for bit; the gradients differ only in
float rounding.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxadd import data


class _RecurrentStep(nn.Module):
    """One LSTM time step, given the input's projection onto the four gates.

    Besides the hidden state it emits what the backward pass reuses: the cell
    state and the four gate activations.
    """

    hidden_size: int

    @nn.compact
    def __call__(self, carry, input_gates):
        c, h = carry
        gates = input_gates + nn.Dense(
            4 * self.hidden_size,
            use_bias=False,
            kernel_init=nn.initializers.orthogonal(),
            name="recurrent",
        )(h)
        i, f, g, o = jnp.split(gates, 4, axis=-1)
        i, f, g, o = nn.sigmoid(i), nn.sigmoid(f), jnp.tanh(g), nn.sigmoid(o)
        c = f * c + i * g
        h = o * jnp.tanh(c)
        return (c, h), (h, c, i, f, g, o)


def _scanned_cell(hidden_size: int, unroll: bool) -> nn.Module:
    return nn.scan(
        _RecurrentStep,
        variable_broadcast="params",
        split_rngs={"params": False},
        in_axes=0,
        out_axes=0,
        # Sequences are at most 2 * digits + 1 steps: unrolled, XLA fuses the
        # gate arithmetic across steps and skips the loop's per-step overhead
        # (about 1.4x examples/s on a 2-core CPU at batch 512).
        unroll=unroll,
    )(hidden_size, name="cell")


def _run_cell(cell: nn.Module, projection: jax.Array):
    batch, hidden = projection.shape[1], projection.shape[-1] // 4
    zeros = jnp.zeros((batch, hidden), projection.dtype)
    _, outputs = cell((zeros, zeros), projection)
    return outputs


def _cell_forward(cell: nn.Module, projection: jax.Array) -> jax.Array:
    return _run_cell(cell, projection)[0]


def _cell_forward_with_residuals(cell: nn.Module, projection: jax.Array):
    outputs = _run_cell(cell, projection)
    kernel = cell.variables["params"]["recurrent"]["kernel"]
    return outputs[0], (outputs, kernel)


def _cell_backward(unroll: bool, residuals, hidden_grads: jax.Array):
    """The recurrence's backward pass, written out (see ``LSTM``)."""
    (hs, cs, i, f, g, o), kernel = residuals
    previous_cs = jnp.concatenate([jnp.zeros_like(cs[:1]), cs[:-1]])

    def step(carry, xs):
        dh, dc = carry
        dy, c, c_prev, i, f, g, o = xs
        dh = dh + dy
        tanh_c = jnp.tanh(c)
        dc = dc + dh * o * (1 - tanh_c * tanh_c)
        gate_grads = jnp.concatenate(
            [
                dc * g * i * (1 - i),
                dc * c_prev * f * (1 - f),
                dc * i * (1 - g * g),
                dh * tanh_c * o * (1 - o),
            ],
            axis=-1,
        )
        return (gate_grads @ kernel.T, dc * f), gate_grads

    zeros = jnp.zeros_like(hs[0])
    _, gate_grads = jax.lax.scan(
        step,
        (zeros, zeros),
        (hidden_grads, cs, previous_cs, i, f, g, o),
        reverse=True,
        unroll=unroll,
    )
    # The first step's h @ W_h had h = 0, so its term of the kernel's gradient
    # is zero; the rest is one [H, (T-1)*B] x [(T-1)*B, 4H] matmul.
    length, batch, hidden = hs.shape
    kernel_grad = jnp.dot(
        hs[:-1].reshape((length - 1) * batch, hidden).T,
        gate_grads[1:].reshape((length - 1) * batch, 4 * hidden),
    )
    return {"params": {"recurrent": {"kernel": kernel_grad}}}, gate_grads


def _lstm_bias_init(key, shape, dtype=jnp.float32):
    """Zeros, except 1 for the forget gate (Keras's ``unit_forget_bias``)."""
    del key
    hidden = shape[0] // 4
    return jnp.zeros(shape, dtype).at[hidden : 2 * hidden].set(1.0)


class LSTM(nn.Module):
    """A single-layer LSTM over time (axis 0), zero initial state.

    Attributes:
      hidden_size: width H of the hidden and cell state.
      unroll: unroll the time loop (faster steps, slower compilation).
    """

    hidden_size: int
    unroll: bool = True

    @nn.compact
    def __call__(self, inputs: jax.Array, length: int | None = None) -> jax.Array:
        """Runs the LSTM.

        Args:
          inputs: ``[T, B, F]`` features, or ``[B, F]`` with ``length`` set: the
            same input at each of ``length`` steps (the decoder's repeated vector).
          length: number of steps when ``inputs`` has no time axis.

        Returns:
          Hidden states ``[T, B, H]``.
        """
        projection = nn.Dense(
            4 * self.hidden_size,
            kernel_init=nn.initializers.glorot_uniform(),
            bias_init=_lstm_bias_init,
            name="input",
        )(inputs)
        if length is not None:
            projection = jnp.broadcast_to(projection, (length, *projection.shape))
        cell_with_vjp = nn.custom_vjp(
            _cell_forward,
            forward_fn=_cell_forward_with_residuals,
            backward_fn=functools.partial(_cell_backward, self.unroll),
        )
        return cell_with_vjp(_scanned_cell(self.hidden_size, self.unroll), projection)


class Seq2SeqLSTM(nn.Module):
    """Reads a one-hot query, emits logits for every answer position.

    Attributes:
      hidden_size: width of every LSTM.
      answer_len: number of output positions (``digits + 1``).
      num_layers: number of stacked decoder LSTMs.
      vocab_size: number of output symbols.
      unroll: unroll the LSTMs' time loops; the parameters are the same either way.
    """

    hidden_size: int
    answer_len: int
    num_layers: int = 1
    vocab_size: int = data.VOCAB_SIZE
    unroll: bool = True

    @nn.compact
    def __call__(self, query_one_hot: jax.Array) -> jax.Array:
        """Maps ``[B, query_len, vocab]`` to logits ``[B, answer_len, vocab]``."""
        lstm = functools.partial(LSTM, self.hidden_size, unroll=self.unroll)
        encoded = lstm(name="encoder")(jnp.swapaxes(query_one_hot, 0, 1))[-1]
        x = lstm(name="decoder_0")(encoded, length=self.answer_len)
        for layer in range(1, self.num_layers):
            x = lstm(name=f"decoder_{layer}")(x)
        return jnp.swapaxes(nn.Dense(self.vocab_size, name="output")(x), 0, 1)


def count_params(params) -> int:
    """Total number of scalars in a parameter tree."""
    return sum(x.size for x in jax.tree_util.tree_leaves(params))
