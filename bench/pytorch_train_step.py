"""PyTorch peer of bench/train_step.ts: the same CNN (conv3x3 -> batch norm ->
ReLU -> 2x2 max pool per block, flatten, dense 128, ReLU, dropout 0.2, dense
10), cross-entropy and AdamW, batch 64 on 1x28x28, CPU, float32.
Prints one JSON line: {"model", "params", "msPerStep"}."""
import json
import sys
import time

import torch
from torch import nn


def cnn(filters):
    layers, c, size = [], 1, 28
    for f in filters:
        layers += [nn.Conv2d(c, f, 3, padding=1), nn.BatchNorm2d(f), nn.ReLU()]
        if size >= 2:
            layers.append(nn.MaxPool2d(2))
            size //= 2
        c = f
    layers += [nn.Flatten(), nn.Linear(c * size * size, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10)]
    return nn.Sequential(*layers)


def main():
    spec, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = cnn([int(x) for x in spec.split(":")[1].split(",")])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    batches = [(torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))) for _ in range(8)]

    def step(i):
        x, y = batches[i % 8]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for i in range(5):
        step(i)
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    ms = (time.perf_counter() - t0) * 1000 / steps
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"model": spec, "params": params, "msPerStep": ms}))


main()
