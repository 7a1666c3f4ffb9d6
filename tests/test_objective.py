"""Every term of eq. (8) that involves G sends a gradient into G."""
import numpy as np
import pytest
import torch

from poseshift.config import LossConfig
from poseshift.nets import build_networks
from poseshift.objective import (
    L1_WEIGHT,
    Batch,
    discriminator_loss,
    generator_terms,
    identity_terms,
    pose_regressor_loss,
    render_cycle,
)
from poseshift.pose.heatmaps import belief_maps, visible
from poseshift.stick_figures import sample_stick_pose
from tests.helpers import micro_config


def _batch(size=32, n=2):
    rng = np.random.default_rng(0)
    kp_o = torch.from_numpy(np.stack([sample_stick_pose(rng, size) for _ in range(n)]))
    kp_f = torch.from_numpy(np.stack([sample_stick_pose(rng, size) for _ in range(n)]))
    return Batch.from_keypoints(torch.rand(n, 3, size, size) * 2 - 1, kp_o, kp_f, 1.0)


def _terms(nets, batch, cfg, grad_scale=1.0):
    fake, back = render_cycle(nets.G, batch, grad_scale)
    return generator_terms(nets, batch, fake, back, cfg), fake, back


def test_the_batch_holds_eq_1s_maps_and_the_joints_present():
    batch = _batch()
    assert batch.maps_o.shape == (2, 18, 32, 32) and batch.vis_o.shape == (2, 18)
    assert torch.equal(batch.maps_f, belief_maps(batch.kp_f, 32, 32, 1.0))
    assert torch.equal(batch.vis_o, visible(batch.kp_o))


@pytest.mark.parametrize("term", ["adv_f", "adv_o", "pose_f", "pose_o", "content", "style"])
def test_each_generator_term_reaches_G(term):
    nets = build_networks(micro_config())
    terms, _, _ = _terms(nets, _batch(), LossConfig())
    nets.G.zero_grad()
    terms[term].backward()
    grads = [p.grad for p in nets.G.parameters() if p.grad is not None]
    assert grads and sum(float(g.abs().sum()) for g in grads) > 0, f"{term} sends no gradient into G"


def test_the_total_is_eq_8_as_the_paper_writes_it():
    """L_I on both passes unweighted, lambda_P L_P on both, lambda_Id L_Id = lambda_Id (content + lambda style)."""
    nets = build_networks(micro_config())
    cfg = LossConfig(lambda_pose=7.0, lambda_id=0.5, lambda_style=3.0)
    t, _, _ = _terms(nets, _batch(), cfg)
    assert set(t) == {"adv_f", "adv_o", "pose_f", "pose_o", "content", "style", "identity", "total"}
    assert torch.allclose(t["identity"], t["content"] + 3.0 * t["style"])
    want = t["adv_f"] + t["adv_o"] + 7.0 * (t["pose_f"] + t["pose_o"]) + 0.5 * t["identity"]
    assert torch.allclose(t["total"], want) and t["total"] > 0


def test_l1_identity_switch_and_critic_losses():
    nets = build_networks(micro_config())
    batch = _batch()
    terms, fake, rec = _terms(nets, batch, LossConfig(identity="l1"))
    assert "content" not in terms and terms["identity"] > 0
    nets.G.zero_grad()
    terms["identity"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in nets.G.parameters())
    # L_Phi trains Phi on real images only; D's loss does not reach G through detached fakes.
    nets.G.zero_grad()
    pose_regressor_loss(nets.Phi, batch).backward()
    discriminator_loss(nets.D, batch.real, fake).backward()
    assert all(p.grad is None for p in nets.G.parameters())
    assert any(p.grad is not None for p in nets.Phi.parameters())
    assert any(p.grad is not None for p in nets.D.parameters())
    total = LossConfig().lambda_pose * (terms["pose_f"] + terms["pose_o"])
    assert terms["total"] > total  # the full objective adds the adversarial and identity terms
    # The L1 row's identity term is weighted by L1_WEIGHT, not by lambda_Id (sized for features).
    with torch.no_grad():
        t, _, _ = _terms(nets, batch, LossConfig(identity="l1", lambda_id=123.0))
    rest = t["adv_f"] + t["adv_o"] + LossConfig().lambda_pose * (t["pose_f"] + t["pose_o"])
    assert L1_WEIGHT == 10.0 and torch.allclose(t["total"], rest + L1_WEIGHT * t["identity"], rtol=1e-5)


def test_cycle_grad_scale_scales_the_way_backs_gradient_into_the_first_pass():
    nets = build_networks(micro_config())
    batch = _batch()
    grads = {}
    for scale in (1.0, 0.25, 0.0):
        nets.G.zero_grad()
        fake, recovered = render_cycle(nets.G, batch, scale)
        assert torch.equal(fake, render_cycle(nets.G, batch)[0])  # the renders themselves are the same
        assert torch.allclose(recovered, render_cycle(nets.G, batch)[1], atol=1e-6)
        grads[scale] = torch.autograd.grad(recovered.sum(), fake, allow_unused=True, retain_graph=True)[0]
        recovered.sum().backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in nets.G.parameters())  # G still learns
    assert grads[1.0] is not None and grads[1.0].abs().sum() > 0
    assert torch.allclose(grads[0.25], 0.25 * grads[1.0], atol=1e-6)
    assert grads[0.0] is None  # cut: the first pass gets nothing from the way back


def test_colour_term_joins_the_identity_loss_and_reaches_the_first_pass_alone():
    nets = build_networks(micro_config())
    batch = _batch()
    plain, _, _ = _terms(nets, batch, LossConfig())
    assert "colour" not in plain  # 0 = the paper's L_Id
    cfg = LossConfig(lambda_colour=50.0, cycle_grad_scale=0.0)
    t, fake, _ = _terms(nets, batch, cfg, grad_scale=0.0)
    assert t["colour"] > 0
    expected = t["content"] + cfg.lambda_style * t["style"] + 50.0 * t["colour"]
    assert torch.allclose(t["identity"], expected)
    # The term is on I_pf itself: with the way back cut, it still sends gradient into I_pf.
    assert torch.autograd.grad(t["colour"], fake)[0].abs().sum() > 0
    with torch.no_grad():
        fake, back = render_cycle(nets.G, batch)
        l1 = identity_terms(nets.Psi, batch, fake, back, LossConfig(identity="l1", lambda_colour=50.0))
    assert set(l1) == {"identity"}  # the figure-5 row replaces all of L_Id by L1
