"""Reads cases (spec, input, lossgraph's loss and grad) as JSON lines on stdin
and recomputes each with PyTorch's own loss functions and autograd, in
float64. Prints one JSON line per case with the differences."""
import json
import sys

import torch
import torch.nn.functional as F


def torch_loss(spec, x, z):
    y = torch.tensor(x["labels"])
    w = torch.tensor(x["weights"], dtype=torch.float64) if "weights" in x else None
    t = torch.tensor(x["targets"], dtype=torch.float64) if "targets" in x else None
    k = z.shape[1]
    if spec == "ce":
        return F.cross_entropy(z, y, weight=w)
    if spec == "ce(ignore_index=-1)":
        return F.cross_entropy(z, y, weight=w, ignore_index=-1)
    if spec == "ce(reduction=sum)":
        return F.cross_entropy(z, y, weight=w, reduction="sum")
    if spec == "label_smoothing(eps=0.1)":
        return F.cross_entropy(z, y, weight=w, label_smoothing=0.1)
    if spec == "label_smoothing(eps=0.2, ignore_index=-1)":
        return F.cross_entropy(z, y, weight=w, ignore_index=-1, label_smoothing=0.2)
    if spec == "kl":
        return F.kl_div(F.log_softmax(z, 1), t, reduction="batchmean")
    if spec == "kl(T=2)":
        return F.kl_div(F.log_softmax(z / 2, 1), t, reduction="batchmean") * 4
    if spec == "gaussian_kl(sigma=2)":
        c = torch.arange(k, dtype=torch.float64)
        p = torch.softmax(-0.5 * ((c[None, :] - y[:, None].double()) / 2) ** 2, 1)
        return F.kl_div(F.log_softmax(z, 1), p, reduction="batchmean")
    if spec == "mse":
        return F.mse_loss(torch.softmax(z, 1), F.one_hot(y, k).double())
    if spec == "l1":
        return F.l1_loss(torch.softmax(z, 1), F.one_hot(y, k).double())
    if spec == "mse(input=raw)":
        return F.mse_loss(z, t)
    if spec == "bce":
        return F.binary_cross_entropy_with_logits(z, t)
    raise ValueError(spec)


for line in sys.stdin:
    case = json.loads(line)
    x = case["input"]
    z = torch.tensor(x["logits"], dtype=torch.float64, requires_grad=True)
    loss = torch_loss(case["spec"], x, z)
    loss.backward()
    dloss = abs(loss.item() - case["loss"])
    dgrad = (z.grad - torch.tensor(case["grad"], dtype=torch.float64)).abs().max().item()
    print(json.dumps({"spec": case["spec"], "extra": case["extra"], "loss_diff": dloss, "grad_diff": dgrad, "torch_loss": loss.item()}))
