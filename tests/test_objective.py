"""Every term of eq. (8) that involves G sends a gradient into G."""
import numpy as np
import pytest
import torch

from poseshift.config import LossConfig
from poseshift.figures import sample_pose
from poseshift.nets import build_networks
from poseshift.objective import Batch, discriminator_loss, generator_terms, pose_regressor_loss, render_cycle
from poseshift.pose.heatmaps import belief_maps, visible
from tests.helpers import micro_config


def _batch(size=32, n=2):
    rng = np.random.default_rng(0)
    kp_o = torch.from_numpy(np.stack([sample_pose(rng, size) for _ in range(n)]))
    kp_f = torch.from_numpy(np.stack([sample_pose(rng, size) for _ in range(n)]))
    return Batch(torch.rand(n, 3, size, size) * 2 - 1, belief_maps(kp_o, size, size, 1.0),
                 belief_maps(kp_f, size, size, 1.0), visible(kp_o), visible(kp_f))


@pytest.mark.parametrize("term", ["adv_f", "adv_o", "pose_f", "pose_o", "content", "style"])
def test_each_generator_term_reaches_G(term):
    nets = build_networks(micro_config())
    terms, _, _ = generator_terms(nets, _batch(), LossConfig())
    nets.G.zero_grad()
    terms[term].backward()
    grads = [p.grad for p in nets.G.parameters() if p.grad is not None]
    assert grads and sum(float(g.abs().sum()) for g in grads) > 0, f"{term} sends no gradient into G"


def test_l1_identity_switch_and_critic_losses():
    nets = build_networks(micro_config())
    batch = _batch()
    terms, fake, rec = generator_terms(nets, batch, LossConfig(identity="l1"))
    assert "content" not in terms and terms["identity"] > 0
    nets.G.zero_grad()
    terms["identity"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in nets.G.parameters())
    # L_Phi trains Phi on real images only; D's loss does not reach G through detached fakes.
    nets.G.zero_grad()
    pose_regressor_loss(nets, batch, LossConfig()).backward()
    discriminator_loss(nets, batch.real, fake).backward()
    assert all(p.grad is None for p in nets.G.parameters())
    assert any(p.grad is not None for p in nets.Phi.parameters())
    assert any(p.grad is not None for p in nets.D.parameters())
    total = LossConfig().lambda_pose * (terms["pose_f"] + terms["pose_o"])
    assert terms["total"] > total  # the full objective adds the adversarial and identity terms
    # The L1 row's identity term is weighted by lambda_l1, not by lambda_Id (sized for features).
    for lam in (1.0, 10.0):
        torch.manual_seed(0)
        t, _, _ = generator_terms(nets, batch, LossConfig(identity="l1", lambda_l1=lam, lambda_id=123.0))
        rest = t["adv_f"] + t["adv_o"] + LossConfig().lambda_pose * (t["pose_f"] + t["pose_o"])
        assert torch.allclose(t["total"], rest + lam * t["identity"], rtol=1e-5)
    # lambda_adv scales the two adversarial terms and nothing else (1 in eq. (8)).
    for lam in (0.0, 0.3):
        torch.manual_seed(0)
        t, _, _ = generator_terms(nets, batch, LossConfig(lambda_adv=lam))
        rest = LossConfig().lambda_pose * (t["pose_f"] + t["pose_o"]) + LossConfig().lambda_id * t["identity"]
        assert torch.allclose(t["total"], rest + lam * (t["adv_f"] + t["adv_o"]), rtol=1e-5)


@torch.no_grad()
def test_cycle_noise_perturbs_only_the_second_pass():
    nets = build_networks(micro_config())
    batch = _batch()
    fake0, rec0 = render_cycle(nets, batch)
    fake1, rec1 = render_cycle(nets, batch, noise_std=0.0)
    assert torch.equal(fake0, fake1) and torch.equal(rec0, rec1)  # 0 = the paper's cycle
    torch.manual_seed(1)
    fake2, rec2 = render_cycle(nets, batch, noise_std=0.5)
    assert torch.equal(fake0, fake2)  # I_pf itself is untouched
    gap = (rec2 - rec0).abs().mean()
    torch.manual_seed(2)
    _, rec3 = render_cycle(nets, batch, noise_std=0.05)
    assert gap > (rec3 - rec0).abs().mean() > 0  # more noise, farther from the clean cycle


def test_cycle_grad_scale_scales_the_way_backs_gradient_into_the_first_pass():
    nets = build_networks(micro_config())
    batch = _batch()
    grads = {}
    for scale in (1.0, 0.25, 0.0):
        nets.G.zero_grad()
        fake, recovered = render_cycle(nets, batch, grad_scale=scale)
        assert torch.equal(fake, render_cycle(nets, batch)[0])  # the renders themselves are the same
        assert torch.allclose(recovered, render_cycle(nets, batch)[1], atol=1e-6)
        grads[scale] = torch.autograd.grad(recovered.sum(), fake, allow_unused=True, retain_graph=True)[0]
        recovered.sum().backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in nets.G.parameters())  # G still learns
    assert grads[1.0] is not None and grads[1.0].abs().sum() > 0
    assert torch.allclose(grads[0.25], 0.25 * grads[1.0], atol=1e-6)
    assert grads[0.0] is None  # cut: the first pass gets nothing from the way back


def test_colour_term_joins_the_identity_loss_and_reaches_the_first_pass_alone():
    nets = build_networks(micro_config())
    batch = _batch()
    plain, _, _ = generator_terms(nets, batch, LossConfig())
    assert "colour" not in plain  # 0 = the paper's L_Id
    cfg = LossConfig(lambda_colour=50.0, cycle_grad_scale=0.0)
    t, fake, _ = generator_terms(nets, batch, cfg)
    assert t["colour"] > 0
    expected = t["content"] + cfg.lambda_style * t["style"] + 50.0 * t["colour"]
    assert torch.allclose(t["identity"], expected)
    # The term is on I_pf itself: with the way back cut, it still sends gradient into I_pf.
    assert torch.autograd.grad(t["colour"], fake)[0].abs().sum() > 0
    l1, _, _ = generator_terms(nets, batch, LossConfig(identity="l1", lambda_colour=50.0))
    assert "colour" not in l1  # the figure-5 row replaces all of L_Id by L1


def test_patch_sigma_scale_changes_only_the_patch_terms():
    torch.manual_seed(0)
    nets = build_networks(micro_config())
    batch = _batch()
    wide, _, _ = generator_terms(nets, batch, LossConfig(lambda_colour=50.0))
    near, _, _ = generator_terms(nets, batch, LossConfig(lambda_colour=50.0, patch_sigma_scale=0.5))
    for k in ("content", "pose_f", "pose_o", "adv_f"):
        assert torch.allclose(wide[k], near[k]), k
    for k in ("style", "colour"):
        assert not torch.allclose(wide[k], near[k]), k
