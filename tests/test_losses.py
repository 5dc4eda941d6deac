"""The paper's equations: eq. 2 and eq. 6 (analytic gradients) against autograd, and basic properties."""

from __future__ import annotations

import torch

from stylegram.losses import content_loss, gram, gram_per_position, layer_style_loss, style_loss, tv_loss


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).detach().norm() / b.detach().norm())


def test_eq2_content_gradient_matches_autograd() -> None:
    gen = torch.Generator().manual_seed(0)
    Z = torch.randn(1, 8, 5, 7, dtype=torch.float64, generator=gen, requires_grad=True)  # pre-ReLU response
    P = torch.relu(torch.randn(1, 8, 5, 7, dtype=torch.float64, generator=gen))
    F = torch.relu(Z)
    content_loss(F, P, "paper").backward()
    analytic = torch.where(Z > 0, F - P, torch.zeros_like(F))  # eq. 2
    assert _rel(Z.grad, analytic) < 1e-6


def test_eq6_style_gradient_matches_autograd() -> None:
    gen = torch.Generator().manual_seed(1)
    N, H, W = 6, 4, 5
    M = H * W
    Z = torch.randn(1, N, H, W, dtype=torch.float64, generator=gen, requires_grad=True)
    A = gram(torch.relu(torch.randn(1, N, H, W, dtype=torch.float64, generator=gen))).double()
    F = torch.relu(Z)
    G = F.reshape(1, N, M) @ F.reshape(1, N, M).transpose(1, 2)
    layer_style_loss(G, A, N, M).backward()
    Fm = F.detach().reshape(N, M)
    # eq. 6: dE/dF_ij = ((F^T (G - A))_ji) / (N^2 M^2) where F > 0, else 0
    analytic = (Fm.T @ (G.detach()[0] - A[0])).T / (N**2 * M**2)
    analytic = torch.where(Z.reshape(N, M) > 0, analytic, torch.zeros_like(analytic))
    assert _rel(Z.grad.reshape(N, M), analytic) < 1e-6


def test_mean_normalisation_divides_eq1_by_N_M() -> None:
    F, P = torch.rand(1, 4, 3, 5), torch.rand(1, 4, 3, 5)
    assert torch.isclose(content_loss(F, P, "mean"), content_loss(F, P, "paper") / (4 * 15))


def test_gram_symmetric_psd_and_eq3() -> None:
    F = torch.randn(2, 7, 6, 5, dtype=torch.float64)
    G = gram(F)
    assert G.shape == (2, 7, 7)
    # fp32 products are symmetric to rounding only: tolerance relative to G's scale (atol=1e-8 failed 1 in 8 draws)
    assert torch.allclose(G, G.transpose(1, 2), atol=1e-6 * G.abs().max().item())
    assert torch.linalg.eigvalsh(G.double()).min() > -1e-9
    assert torch.allclose(G[0, 2, 3], (F[0, 2].flatten() * F[0, 3].flatten()).sum().float())


def test_content_loss_zero_at_photo(net) -> None:
    p = torch.rand(1, 3, 48, 64)
    F = net(p, ["conv4_2"])["conv4_2"]
    assert content_loss(F, F.clone()).item() == 0.0


def test_style_loss_zero_at_painting_and_positive_elsewhere(net) -> None:
    layers = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
    a = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    feats = net(a, layers)
    targets = {n: gram_per_position(f) for n, f in feats.items()}
    weights = {n: 0.2 for n in layers}
    assert style_loss(feats, targets, weights).item() < 1e-10  # zero up to fp32 rounding of G/M*M
    other = net(torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 0.5, layers)
    assert style_loss(other, targets, weights).item() > 0


def test_tv_loss_zero_on_flat_image_positive_on_noise() -> None:
    assert tv_loss(torch.full((1, 3, 8, 8), 0.3)).item() == 0.0
    assert tv_loss(torch.rand(1, 3, 8, 8)).item() > 0


def test_gram_gradient_is_autograds_in_the_features_precision() -> None:
    A = torch.randn(1, 6, 6)
    F = torch.randn(1, 6, 5, 4, requires_grad=True)
    (gram(F) - A).pow(2).sum().backward()
    Fm = F.detach().reshape(1, 6, -1).requires_grad_(True)
    (Fm @ Fm.transpose(1, 2) - A).pow(2).sum().backward()
    assert torch.allclose(F.grad.reshape(1, 6, -1), Fm.grad, rtol=1e-4, atol=1e-4)
    Fb = F.detach().bfloat16().requires_grad_(True)
    (gram(Fb) - A).pow(2).sum().backward()
    assert gram(Fb).dtype == torch.float32 and Fb.grad.dtype == torch.bfloat16
    assert torch.allclose(Fb.grad.float().reshape(1, 6, -1), Fm.grad, rtol=0.05, atol=0.05 * Fm.grad.abs().max().item())
