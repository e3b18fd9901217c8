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
against autodiff of the textbook equations in tests/test_models.py). From
autodiff of the unrolled scan, XLA fused the cell-state gradient's chain of
elementwise products into each earlier step's fusions and recomputed it there
instead of storing it once (work that grows with the square of the sequence
length), and it took the recurrent kernel's gradient as one small matmul per
step. The hand-written pass stores each step's gate gradients and finishes
with one matmul over all steps. Parameters and forward values are those of
the autodiff version; gradients differ in float rounding only. Forward-mode
differentiation (``jax.jvp``) of the model is not defined with it;
``manual_backward=False`` (``Config.lstm_backward="autodiff"``) leaves the
recurrence to autodiff, as a reference and a way out.
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
    """Runs the scan from a zero state; returns ``(hs, cs, i, f, g, o)``.

    Each is ``[T, B, H]``: the hidden and cell states and the four gates after
    their activation, for every step.
    """
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
    """Hand-written VJP of the scanned recurrence (see the module docstring).

    Args:
      unroll: unroll the reverse scan as the forward one is.
      residuals: ``((hs, cs, i, f, g, o), kernel)`` from ``_run_cell`` and the
        recurrent kernel ``[H, 4H]``.
      hidden_grads: the loss's gradient with respect to the hidden states
        ``[T, B, H]`` the cell returned.

    Returns:
      The recurrent kernel's gradient as a Flax variable tree, and the gradient
      with respect to the input projection ``[T, B, 4H]``.
    """
    (hs, cs, *gates), kernel = residuals
    previous_cs = jnp.concatenate([jnp.zeros_like(cs[:1]), cs[:-1]])

    def step(carry, xs):
        # carry: what reaches h_t and c_t from step t + 1.
        dh, dc = carry
        dh_output, c, c_prev, i, f, g, o = xs
        dh = dh + dh_output
        tanh_c = jnp.tanh(c)
        dc = dc + dh * o * (1 - tanh_c * tanh_c)
        # i, f, g, o are activations: sigmoid' = s (1 - s), tanh' = 1 - g ** 2.
        gate_grads = jnp.concatenate(
            [
                dc * g * i * (1 - i),
                dc * c_prev * f * (1 - f),
                dc * i * (1 - g * g),
                dh * tanh_c * o * (1 - o),
            ],
            axis=-1,
        )
        # To h_{t-1} through the recurrent kernel, to c_{t-1} through f.
        return (gate_grads @ kernel.T, dc * f), gate_grads

    zeros = jnp.zeros_like(hs[0])
    _, gate_grads = jax.lax.scan(
        step,
        (zeros, zeros),
        (hidden_grads, cs, previous_cs, *gates),
        reverse=True,
        unroll=unroll,
    )
    # Step 0's h @ W_h had h = 0, so it adds nothing to the kernel's gradient;
    # the other steps' terms are one matmul that contracts time and batch
    # together. (An einsum, not a reshape to [T*B, ...]: merging the time axis
    # with the sharded batch axis would make XLA gather whole batches.)
    kernel_grad = jnp.einsum("tbh,tbg->hg", hs[:-1], gate_grads[1:])
    return {"params": {"recurrent": {"kernel": kernel_grad}}}, gate_grads


def _lstm_bias_init(key, shape, dtype=jnp.float32, forget_bias=1.0):
    """Zeros, except ``forget_bias`` for the forget gate (Keras's
    ``unit_forget_bias`` is 1)."""
    del key
    hidden = shape[0] // 4
    return jnp.zeros(shape, dtype).at[hidden : 2 * hidden].set(forget_bias)


class LSTM(nn.Module):
    """A single-layer LSTM over time (axis 0), zero initial state.

    Attributes:
      hidden_size: width H of the hidden and cell state.
      unroll: unroll the time loop (faster steps, slower compilation).
      forget_bias: the forget gate's initial bias.
      manual_backward: differentiate the recurrence with ``_cell_backward``;
        ``False`` leaves it to autodiff of the scan (same parameters, same
        forward values, gradients equal to float rounding).
    """

    hidden_size: int
    unroll: bool = True
    forget_bias: float = 1.0
    manual_backward: bool = True

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
            bias_init=functools.partial(_lstm_bias_init, forget_bias=self.forget_bias),
            name="input",
        )(inputs)
        if length is not None:
            projection = jnp.broadcast_to(projection, (length, *projection.shape))
        cell = _scanned_cell(self.hidden_size, self.unroll)
        if not self.manual_backward:
            return _cell_forward(cell, projection)
        cell_with_vjp = nn.custom_vjp(
            _cell_forward,
            forward_fn=_cell_forward_with_residuals,
            backward_fn=functools.partial(_cell_backward, self.unroll),
        )
        return cell_with_vjp(cell, projection)


class Seq2SeqLSTM(nn.Module):
    """Reads a one-hot query, emits logits for every answer position.

    Attributes:
      hidden_size: width of every LSTM.
      answer_len: number of output positions (``digits + 1``).
      num_layers: number of stacked decoder LSTMs.
      vocab_size: number of output symbols.
      unroll: unroll the LSTMs' time loops; the parameters are the same either way.
      forget_bias: every LSTM's initial forget-gate bias.
      manual_backward: give the LSTMs their hand-written backward pass (see
        ``LSTM``); the parameters are the same either way.
    """

    hidden_size: int
    answer_len: int
    num_layers: int = 1
    vocab_size: int = data.VOCAB_SIZE
    unroll: bool = True
    forget_bias: float = 1.0
    manual_backward: bool = True

    @nn.compact
    def __call__(self, query_one_hot: jax.Array) -> jax.Array:
        """Maps ``[B, query_len, vocab]`` to logits ``[B, answer_len, vocab]``."""
        lstm = functools.partial(
            LSTM,
            self.hidden_size,
            unroll=self.unroll,
            forget_bias=self.forget_bias,
            manual_backward=self.manual_backward,
        )
        encoded = lstm(name="encoder")(jnp.swapaxes(query_one_hot, 0, 1))[-1]
        x = lstm(name="decoder_0")(encoded, length=self.answer_len)
        for layer in range(1, self.num_layers):
            x = lstm(name=f"decoder_{layer}")(x)
        return jnp.swapaxes(nn.Dense(self.vocab_size, name="output")(x), 0, 1)


def count_params(params) -> int:
    """Total number of scalars in a parameter tree."""
    return sum(x.size for x in jax.tree_util.tree_leaves(params))
