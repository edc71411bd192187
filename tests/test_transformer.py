"""model/transformer.py: shapes, causality, rotary embedding, compile-in-place."""

import pytest
import torch

from model import Transformer, TransformerShape
from model.transformer import apply_rotary, norm_and_rotate, rotary_tables

SHAPE = TransformerShape(d=32, l=2, vocab_size=50, seq_len=16, head_dim=8, mlp_ratio=4, rope_base=10000.0)


def test_logits_have_shape_batch_by_time_by_vocab():
    model = Transformer(SHAPE)
    tokens_BxT = torch.randint(0, 50, (3, 16))
    assert model(tokens_BxT).shape == (3, 16, 50)


def test_a_future_token_never_changes_an_earlier_output():
    torch.manual_seed(0)
    model = Transformer(SHAPE)
    tokens_BxT = torch.randint(0, 50, (1, 16))
    changed = tokens_BxT.clone()
    changed[0, 10] = (changed[0, 10] + 1) % 50
    before, after = model(tokens_BxT), model(changed)
    torch.testing.assert_close(before[:, :10], after[:, :10])
    assert not torch.allclose(before[:, 10:], after[:, 10:])


def test_position_matters_through_rotary_embedding():
    torch.manual_seed(0)
    model = Transformer(SHAPE)
    tokens = torch.tensor([[1, 2, 3, 4]])
    swapped = torch.tensor([[2, 1, 3, 4]])
    assert not torch.allclose(model(tokens)[0, -1], model(swapped)[0, -1])


def test_rotary_keeps_norms_and_makes_scores_depend_on_offset_only():
    cos, sin = rotary_tables(seq_len=12, head_dim=8, base=10000.0)
    q = torch.randn(8).expand(1, 1, 12, 8)
    k = torch.randn(8).expand(1, 1, 12, 8)
    q_rot, k_rot = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
    torch.testing.assert_close(q_rot.norm(dim=-1), q.norm(dim=-1))
    score = lambda i, j: (q_rot[0, 0, i] * k_rot[0, 0, j]).sum()  # noqa: E731
    torch.testing.assert_close(score(5, 3), score(9, 7), rtol=1e-4, atol=1e-4)


def test_no_biases_and_untied_head():
    model = Transformer(SHAPE)
    assert not any(name.endswith("bias") for name, _ in model.named_parameters())
    assert model.head.weight.data_ptr() != model.embed.weight.data_ptr()


def test_initial_loss_is_near_uniform_guess():
    torch.manual_seed(0)
    model = Transformer(SHAPE)
    tokens = torch.randint(0, 50, (8, 16))
    logits = model(tokens[:, :-1])
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten())
    assert abs(loss.item() - torch.log(torch.tensor(50.0)).item()) < 1.0


def test_longer_than_seq_len_is_refused():
    with pytest.raises(ValueError, match="seq_len=16"):
        Transformer(SHAPE)(torch.zeros(1, 17, dtype=torch.long))


@pytest.mark.slow
def test_compiling_in_place_keeps_state_dict_keys_and_outputs():
    torch.manual_seed(0)
    model = Transformer(SHAPE)
    keys = list(model.state_dict())
    tokens = torch.randint(0, 50, (2, 16))
    expected = model(tokens)
    model.compile()  # how a compiled run compiles its model: checkpoints load either way
    assert list(model.state_dict()) == keys
    torch.testing.assert_close(model(tokens), expected, rtol=1e-4, atol=1e-4)


def test_the_head_runs_padded_to_an_aligned_vocabulary_with_the_unpadded_values_and_gradients():
    shape = TransformerShape(d=32, l=1, vocab_size=97, seq_len=8, head_dim=16, mlp_ratio=4,
                             rope_base=10000.0)  # V = 97 -> 128 in the matmul
    torch.manual_seed(0)
    model = Transformer(shape)
    tokens_BxT = torch.randint(0, 97, (2, 8))
    logits_BxTxV = model(tokens_BxT)
    assert logits_BxTxV.shape == (2, 8, 97) and logits_BxTxV.stride(1) == 128  # a view of the aligned matmul
    expected_BxTxV = model.hidden(tokens_BxT) @ model.head.weight.T
    torch.testing.assert_close(logits_BxTxV, expected_BxTxV)
    logits_BxTxV.square().sum().backward()
    padded_grad = model.head.weight.grad.clone()
    model.zero_grad()
    model.head_align = 1  # the plain head
    plain_BxTxV = model(tokens_BxT)
    assert plain_BxTxV.is_contiguous()
    plain_BxTxV.square().sum().backward()
    torch.testing.assert_close(padded_grad, model.head.weight.grad)
    assert model.state_dict()["head.weight"].shape == (97, 32)  # checkpoints keep V rows


def test_qk_norm_and_rotary_as_one_expression_equals_the_norm_module_then_rotary():
    torch.manual_seed(0)
    norm = torch.nn.RMSNorm(16)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
    cos, sin = rotary_tables(8, 16, 1e4)
    x = torch.randn(2, 3, 8, 16, requires_grad=True)
    one = norm_and_rotate(x, norm.weight, cos, sin)
    (grad_x,) = torch.autograd.grad(one.square().sum(), x)
    two = apply_rotary(norm(x), cos, sin)
    (grad_x_two,) = torch.autograd.grad(two.square().sum(), x)
    torch.testing.assert_close(one, two)
    torch.testing.assert_close(grad_x, grad_x_two)
