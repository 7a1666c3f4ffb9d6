"""The peers' own calls, run in a separate Python that has torchvision and the ``lpips`` package
(``POSESHIFT_REFERENCE_PYTHON``; .ci/run builds one). Not a test module: the tests in
test_metrics_reference.py run it as a subprocess and compare its numbers with poseshift's.

    python reference_peers.py inception WEIGHTS.pth IMAGES.npy OUT.npy
        GFLA's / PIDM's FID features: torchvision.models.inception_v3 with WEIGHTS, its blocks
        Conv2d_1a_3x3 ... Mixed_7c and an adaptive average pool, input / 255, F.interpolate
        bilinear to 299x299, their normalize_input.
    python reference_peers.py lpips ALEXNET.pth LIN.pth|- A.npy B.npy OUT.npy
        lpips.LPIPS(net='alex', version='0.1') with torchvision's AlexNet from ALEXNET.pth and
        the lin layers from LIN.pth ('-': the package's own weights/v0.1/alex.pth, whose path is
        printed); inputs in [-1, 1].
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F


def inception(weights, images, out):
    import torchvision

    net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    net.eval()
    blocks = [net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3, torch.nn.MaxPool2d(3, 2),
              net.Conv2d_3b_1x1, net.Conv2d_4a_3x3, torch.nn.MaxPool2d(3, 2),
              net.Mixed_5b, net.Mixed_5c, net.Mixed_5d, net.Mixed_6a, net.Mixed_6b, net.Mixed_6c,
              net.Mixed_6d, net.Mixed_6e, net.Mixed_7a, net.Mixed_7b, net.Mixed_7c,
              torch.nn.AdaptiveAvgPool2d((1, 1))]
    x = torch.from_numpy(np.load(images).astype(np.float32).transpose(0, 3, 1, 2)) / 255
    x = F.interpolate(x, size=(299, 299), mode="bilinear")
    x = x.clone()
    x[:, 0] = x[:, 0] * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
    x[:, 1] = x[:, 1] * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
    x[:, 2] = x[:, 2] * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
    with torch.no_grad():
        for b in blocks:
            x = b(x)
    np.save(out, x.reshape(len(x), -1).double().numpy())


def lpips_distances(alexnet, lin, a, b, out):
    import os

    import lpips
    import torchvision

    lin_path = None if lin == "-" else lin
    model = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, model_path=lin_path,
                        verbose=False)
    if lin_path is None:
        print(os.path.abspath(os.path.join(os.path.dirname(lpips.__file__), "weights/v0.1/alex.pth")))
    alex = torchvision.models.alexnet()
    missing, unexpected = alex.load_state_dict(torch.load(alexnet, map_location="cpu", weights_only=True),
                                               strict=False)
    # the test writes only the convolutions (the classifier, 61M numbers, plays no part in LPIPS)
    assert not unexpected and all(k.startswith("classifier.") for k in missing), (missing, unexpected)
    feats = model.net
    for k, (lo, hi) in enumerate(((0, 2), (2, 5), (5, 8), (8, 10), (10, 12)), start=1):
        for i in range(lo, hi):
            getattr(feats, f"slice{k}")._modules[str(i)].load_state_dict(alex.features[i].state_dict())
    model.eval()
    with torch.no_grad():
        d = model(torch.from_numpy(np.load(a)).float(), torch.from_numpy(np.load(b)).float())
    np.save(out, d.reshape(-1).double().numpy())


if __name__ == "__main__":
    if sys.argv[1] == "inception":
        inception(*sys.argv[2:5])
    elif sys.argv[1] == "lpips":
        lpips_distances(*sys.argv[2:7])
    else:
        sys.exit(f"unknown mode {sys.argv[1]!r}")
